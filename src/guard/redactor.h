// Redaction: what to do with each PiiDetector finding, per entity type.
//
//   allow     leave the text as is
//   mask      a fixed label: [EMAIL]; cards keep the last four digits:
//             [CREDIT_CARD ****1234]
//   hash      [EMAIL:3f2a9c0b7d1e]: the first 12 hex digits of
//             HMAC-SHA256(policy salt, value); equal values give equal labels
//             (joins stay possible) without revealing the value
//   tokenize  a placeholder (<EMAIL_1>) recorded in a TokenVault, so the
//             original can be put back into the model's answer
//   block     the caller must refuse the request; the entity is masked in the
//             returned text so that it is still safe to log
//
// Thread safety: Redact is a pure function apart from the vault it is given.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/secret.h"
#include "core/status.h"
#include "guard/pii.h"
#include "guard/token_vault.h"

namespace gantry::guard {

enum class Mode { kAllow, kMask, kHash, kTokenize, kBlock };

// "allow", "mask", "hash", "tokenize", "block". kInvalidArgument naming the
// value otherwise.
Result<Mode> ParseMode(std::string_view name);
std::string_view ModeName(Mode mode);

struct RedactionPolicy {
  Mode default_mode = Mode::kMask;
  std::map<std::string, Mode, std::less<>> per_type;  // entity type -> mode
  Secret hash_salt;                                   // HMAC key for kHash

  Mode ModeFor(std::string_view type) const;
  // kInvalidArgument for an override naming an unknown type, or kHash in use
  // without a salt (an unsalted hash of an email is reversible by guessing).
  Status Validate() const;
};

struct RedactionResult {
  std::string text;
  std::vector<Finding> applied;  // findings acted on (mode != allow), offsets into the input
  bool blocked = false;
  std::string blocked_type;  // type of the first finding whose mode is block
};

// Applies `policy` to `findings` in `text`. REQUIRES: findings sorted by start,
// non-overlapping and inside text (as PiiDetector::Scan returns them); others
// are skipped. `vault` may be null only if no mode is kTokenize (a tokenized
// finding without a vault is masked instead).
RedactionResult Redact(std::string_view text, const std::vector<Finding>& findings,
                       const RedactionPolicy& policy, TokenVault* vault);

// The label kMask writes for `f` ([EMAIL], [CREDIT_CARD ****1234]).
std::string MaskLabel(const Finding& f);
// The label kHash writes for `f` with `salt`.
std::string HashLabel(const Finding& f, const Secret& salt);

}  // namespace gantry::guard
