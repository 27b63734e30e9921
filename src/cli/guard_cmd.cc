#include "cli/guard_cmd.h"

#include <openssl/rand.h>
#include <iterator>
#include <nlohmann/json.hpp>

#include "guard/pii.h"
#include "guard/redactor.h"
#include "guard/token_vault.h"

namespace gantry::cli {
namespace {

using Json = nlohmann::json;

// The policy from the flags; kInvalidArgument naming the bad flag.
Result<guard::RedactionPolicy> PolicyFromFlags(const GuardScanFlags& flags) {
  guard::RedactionPolicy policy;
  ASSIGN_OR_RETURN(policy.default_mode, guard::ParseMode(flags.default_mode));
  for (const auto& m : flags.modes) {
    const size_t eq = m.find('=');
    if (eq == std::string::npos)
      return InvalidArgument("--mode '" + m + "': expected TYPE=MODE, e.g. EMAIL=hash");
    ASSIGN_OR_RETURN(auto mode, guard::ParseMode(m.substr(eq + 1)));
    policy.per_type[m.substr(0, eq)] = mode;
  }
  // hash needs a salt; a one-off random one keeps equal values equal within
  // this run without making them guessable.
  unsigned char salt[32];
  if (RAND_bytes(salt, sizeof salt) != 1) return InternalError("no random bytes for the hash salt");
  policy.hash_salt = Secret(std::string(reinterpret_cast<const char*>(salt), sizeof salt));
  RETURN_IF_ERROR(policy.Validate());
  return policy;
}

}  // namespace

int RunGuardScan(const GuardScanFlags& flags, std::istream& in, std::ostream& out,
                 std::ostream& err) {
  auto policy = PolicyFromFlags(flags);
  if (!policy.ok()) {
    err << "gantry guard scan: " << policy.status().message() << "\n";
    return 2;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const guard::PiiDetector detector;
  const auto findings = detector.Scan(text);
  guard::TokenVault vault;
  const auto redacted = guard::Redact(text, findings, *policy, &vault);

  if (flags.json) {
    Json list = Json::array();
    for (const auto& f : findings) {
      list.push_back({{"type", f.type},
                      {"value", f.value},
                      {"start", f.start},
                      {"end", f.end},
                      {"score", f.score},
                      {"action", guard::ModeName(policy->ModeFor(f.type))}});
    }
    // Invalid UTF-8 in the input is replaced, never a reason to fail.
    out << Json{{"findings", std::move(list)},
                {"redacted", redacted.text},
                {"blocked", redacted.blocked}}
               .dump(-1, ' ', false, Json::error_handler_t::replace)
        << "\n";
  } else {
    out << redacted.text;
    for (const auto& f : findings) {
      err << f.type << " [" << f.start << ", " << f.end << ") score " << f.score << ": "
          << guard::ModeName(policy->ModeFor(f.type)) << "\n";
    }
    if (redacted.blocked) err << "blocked: the policy blocks " << redacted.blocked_type << "\n";
  }
  return redacted.blocked ? 1 : 0;
}

}  // namespace gantry::cli
