// TokenVault: reversible tokenization for one request. Redact() in kTokenize
// mode swaps a value for a placeholder such as <EMAIL_1>; the model only ever
// sees the placeholder; Restore() puts the original back into the model's
// answer before the user sees it.
//
// The same (type, value) always gets the same placeholder within a vault;
// numbering is per type, in order of first sight. Placeholders are
// "<" TYPE "_" N ">", at most kMaxPlaceholderBytes long; a type that is not
// 1-20 of [A-Z_] is written as PII.
//
// Thread safety: not thread-safe; one vault belongs to one request.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::guard {

class TokenVault final {
 public:
  static constexpr size_t kMaxPlaceholderBytes = 32;

  // The placeholder for `value`, created on first sight.
  std::string Tokenize(std::string_view type, std::string_view value);

  // The original behind `placeholder` ("<EMAIL_1>"), if this vault made it.
  std::optional<std::string_view> Original(std::string_view placeholder) const;

  // `text` with every placeholder of this vault replaced by its original;
  // anything else, unknown placeholders included, is copied unchanged.
  std::string Restore(std::string_view text) const;

  // Streaming form of Restore: appends the restored form of text[0, n) to
  // `out` and returns n. Without `at_end`, stops before a '<' that later text
  // could still complete into a placeholder (at most kMaxPlaceholderBytes are
  // left). Restoring chunk by chunk, each time from the first byte not yet
  // consumed, gives exactly Restore() of the whole text.
  size_t RestorePrefix(std::string_view text, bool at_end, std::string* out) const;

  size_t size() const { return originals_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> placeholders_;  // type '\0' value -> placeholder
  std::map<std::string, std::string, std::less<>> originals_;     // placeholder -> value
  std::map<std::string, size_t, std::less<>> counters_;           // type -> last number used
};

}  // namespace gantry::guard
