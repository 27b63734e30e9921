// Streaming guards for model output: text arrives in chunks, and what is
// emitted must never reveal more than the whole-text operation would.
//
// StreamRedactor: the concatenation of everything Push() and Finish() return
// equals Redact(whole text, Scan(whole text), policy, vault).text, wherever the
// chunk boundaries fall (an address split as "alice@exa" + "mple.com" is still
// caught). To get there it holds back a tail:
//   - normally PiiDetector::kMaxEntityBytes + kLookaheadBytes (328 bytes),
//     enough for any entity to be seen whole together with its right context;
//   - while a "-----BEGIN ... PRIVATE KEY-----" line waits for its END line,
//     from that line on, up to PiiDetector::kMaxPrivateKeyBytes (16 KiB): the
//     block is emitted redacted once END arrives, or as a truncated block at
//     the cap or at Finish();
//   - while a run starting with "eyJ" (a JWT) is still growing, from its start,
//     up to PiiDetector::kMaxJwtBytes (4 KiB);
//   - never more than PiiDetector::kMaxHoldBytes (64 KiB) in all (a guard
//     against adversarial chains of overlapping candidates; only there may the
//     output differ from the whole-text result, and no detected entity is
//     split even then).
// It also keeps PiiDetector::kContextBytes of emitted input for context words.
// Text is rescanned only once enough new bytes arrived (64 bytes, or a quarter
// of a long hold up to 4 KiB), so the CPU cost stays a small multiple of one
// whole-text scan. Emitted pieces end on UTF-8
// boundaries.
//
// StreamRestorer: the same for TokenVault::Restore; it holds back at most
// TokenVault::kMaxPlaceholderBytes (a '<' that may start a placeholder).
//
// On the output path, pipe the redactor into the restorer:
// restorer.Push(redactor.Push(chunk)). The model's placeholders come back as
// the originals, and new PII in its answer is redacted by the output policy
// (whose kTokenize would be undone by the restorer: use mask or hash there).
//
// Thread safety: not thread-safe; one object per stream. The detector, policy
// and vault must outlive it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "guard/pii.h"
#include "guard/redactor.h"
#include "guard/token_vault.h"

namespace gantry::guard {

class StreamRedactor final {
 public:
  StreamRedactor(const PiiDetector& detector, const RedactionPolicy& policy, TokenVault* vault);

  // Returns the text that is safe to emit now (possibly empty).
  std::string Push(std::string_view chunk);
  // Returns the rest; the stream is over.
  std::string Finish();

  // Whether a finding whose mode is block has been emitted, and its type.
  bool blocked() const { return blocked_; }
  const std::string& blocked_type() const { return blocked_type_; }
  // Findings acted on so far, offsets into the whole input stream.
  const std::vector<Finding>& applied() const { return applied_; }
  // Input bytes received but not yet emitted.
  size_t held_bytes() const { return pending_.size(); }

 private:
  std::string Drain(bool at_end);

  const PiiDetector& detector_;
  const RedactionPolicy& policy_;
  TokenVault* vault_;
  std::string context_;  // the last kContextBytes of input already emitted
  std::string pending_;  // input not yet emitted
  size_t consumed_ = 0;  // input bytes emitted so far
  size_t scan_at_ = 0;   // rescan once pending_ reaches this size
  bool blocked_ = false;
  std::string blocked_type_;
  std::vector<Finding> applied_;
};

class StreamRestorer final {
 public:
  explicit StreamRestorer(const TokenVault& vault) : vault_(vault) {}

  std::string Push(std::string_view chunk);
  std::string Finish();

 private:
  const TokenVault& vault_;
  std::string pending_;
};

}  // namespace gantry::guard
