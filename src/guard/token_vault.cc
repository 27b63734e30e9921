#include "guard/token_vault.h"

#include <algorithm>

namespace gantry::guard {
namespace {

bool IsPlaceholderChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Keeps every placeholder short enough for RestorePrefix to recognise.
std::string_view PlaceholderType(std::string_view type) {
  const bool ok = !type.empty() && type.size() <= 20 &&
                  std::all_of(type.begin(), type.end(),
                              [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
  return ok ? type : std::string_view("PII");
}

}  // namespace

std::string TokenVault::Tokenize(std::string_view type, std::string_view value) {
  type = PlaceholderType(type);
  std::string key(type);
  key.push_back('\0');
  key.append(value);
  if (auto it = placeholders_.find(key); it != placeholders_.end()) return it->second;
  auto [counter, inserted] = counters_.try_emplace(std::string(type), 0);
  const std::string placeholder =
      "<" + std::string(type) + "_" + std::to_string(++counter->second) + ">";
  placeholders_.emplace(std::move(key), placeholder);
  originals_.emplace(placeholder, std::string(value));
  return placeholder;
}

std::optional<std::string_view> TokenVault::Original(std::string_view placeholder) const {
  auto it = originals_.find(placeholder);
  if (it == originals_.end()) return std::nullopt;
  return std::string_view(it->second);
}

std::string TokenVault::Restore(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  RestorePrefix(text, /*at_end=*/true, &out);
  return out;
}

size_t TokenVault::RestorePrefix(std::string_view text, bool at_end, std::string* out) const {
  size_t i = 0;
  while (i < text.size()) {
    const size_t lt = text.find('<', i);
    if (lt == std::string_view::npos) break;
    out->append(text.substr(i, lt - i));
    // A placeholder is '<', placeholder characters, '>': decide at the first
    // byte that is not a placeholder character, or hold while text runs out.
    size_t j = lt + 1;
    while (j < text.size() && j - lt < kMaxPlaceholderBytes && IsPlaceholderChar(text[j])) ++j;
    if (j == text.size() && !at_end && j - lt < kMaxPlaceholderBytes) return lt;
    if (j < text.size() && text[j] == '>') {
      if (auto original = Original(text.substr(lt, j + 1 - lt))) {
        out->append(*original);
        i = j + 1;
        continue;
      }
    }
    out->push_back('<');
    i = lt + 1;
  }
  out->append(text.substr(i));
  return text.size();
}

}  // namespace gantry::guard
