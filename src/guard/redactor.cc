#include "guard/redactor.h"

#include <array>
#include <utility>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace gantry::guard {
namespace {

struct ModeNameEntry {
  Mode mode;
  std::string_view name;
};
constexpr std::array<ModeNameEntry, 5> kModes = {{
    {Mode::kAllow, "allow"},
    {Mode::kMask, "mask"},
    {Mode::kHash, "hash"},
    {Mode::kTokenize, "tokenize"},
    {Mode::kBlock, "block"},
}};

}  // namespace

Result<Mode> ParseMode(std::string_view name) {
  for (const auto& m : kModes) {
    if (m.name == name) return m.mode;
  }
  return InvalidArgument("unknown redaction mode \"" + std::string(name) +
                         "\"; expected allow, mask, hash, tokenize or block");
}

std::string_view ModeName(Mode mode) {
  for (const auto& m : kModes) {
    if (m.mode == mode) return m.name;
  }
  return "unknown";
}

Mode RedactionPolicy::ModeFor(std::string_view type) const {
  auto it = per_type.find(type);
  return it == per_type.end() ? default_mode : it->second;
}

Status RedactionPolicy::Validate() const {
  bool hashes = default_mode == Mode::kHash;
  for (const auto& [type, mode] : per_type) {
    if (!IsPiiType(type)) {
      return InvalidArgument("unknown PII type \"" + type + "\" in redaction policy");
    }
    hashes = hashes || mode == Mode::kHash;
  }
  if (hashes && hash_salt.empty()) {
    return InvalidArgument("redaction mode hash needs a salt");
  }
  return OkStatus();
}

std::string MaskLabel(const Finding& f) {
  if (f.type == kCreditCard) {
    std::string last4;
    for (auto it = f.value.rbegin(); it != f.value.rend() && last4.size() < 4; ++it) {
      if (*it >= '0' && *it <= '9') last4.insert(last4.begin(), *it);
    }
    return "[" + f.type + " ****" + last4 + "]";
  }
  return "[" + f.type + "]";
}

std::string HashLabel(const Finding& f, const Secret& salt) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  const std::string& key = salt.Reveal();
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(f.value.data()), f.value.size(), mac, &mac_len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < 6 && i < mac_len; ++i) {
    hex.push_back(kHex[mac[i] >> 4]);
    hex.push_back(kHex[mac[i] & 0xF]);
  }
  return "[" + f.type + ":" + hex + "]";
}

RedactionResult Redact(std::string_view text, const std::vector<Finding>& findings,
                       const RedactionPolicy& policy, TokenVault* vault) {
  RedactionResult r;
  r.text.reserve(text.size());
  size_t pos = 0;
  for (const Finding& f : findings) {
    if (f.start < pos || f.end <= f.start || f.end > text.size()) continue;
    const Mode mode = policy.ModeFor(f.type);
    if (mode == Mode::kAllow) continue;
    r.text.append(text.substr(pos, f.start - pos));
    switch (mode) {
      case Mode::kHash:
        r.text += HashLabel(f, policy.hash_salt);
        break;
      case Mode::kTokenize:
        r.text += vault ? vault->Tokenize(f.type, f.value) : MaskLabel(f);
        break;
      case Mode::kBlock:
        if (!r.blocked) r.blocked_type = f.type;
        r.blocked = true;
        r.text += MaskLabel(f);
        break;
      case Mode::kAllow:
      case Mode::kMask:
        r.text += MaskLabel(f);
        break;
    }
    r.applied.push_back(f);
    pos = f.end;
  }
  r.text.append(text.substr(pos));
  return r;
}

}  // namespace gantry::guard
