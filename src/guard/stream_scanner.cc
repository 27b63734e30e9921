#include "guard/stream_scanner.h"

#include <algorithm>
#include <utility>

namespace gantry::guard {
namespace {

constexpr size_t kHoldBytes = PiiDetector::kMaxEntityBytes + PiiDetector::kLookaheadBytes;
// Bytes to gather past the held tail before rescanning: each rescan then emits
// at least this much, bounding the rescanning overhead.
constexpr size_t kEmitStep = 64;
constexpr size_t kMaxRescanStep = 4096;

}  // namespace

StreamRedactor::StreamRedactor(const PiiDetector& detector, const RedactionPolicy& policy,
                               TokenVault* vault)
    : detector_(detector), policy_(policy), vault_(vault), scan_at_(kHoldBytes + kEmitStep) {}

std::string StreamRedactor::Push(std::string_view chunk) {
  pending_.append(chunk);
  if (pending_.size() < scan_at_) return {};
  return Drain(/*at_end=*/false);
}

std::string StreamRedactor::Finish() { return Drain(/*at_end=*/true); }

std::string StreamRedactor::Drain(bool at_end) {
  const std::string window = context_ + pending_;
  const size_t from = context_.size();
  PiiDetector::PartialScan scan = detector_.ScanPrefix(window, from, at_end);
  const size_t n = scan.safe_end - from;
  for (Finding& f : scan.findings) {
    f.start -= from;
    f.end -= from;
  }
  RedactionResult r =
      Redact(std::string_view(pending_).substr(0, n), scan.findings, policy_, vault_);
  if (r.blocked && !blocked_) {
    blocked_ = true;
    blocked_type_ = r.blocked_type;
  }
  for (Finding& f : r.applied) {
    f.start += consumed_;
    f.end += consumed_;
    applied_.push_back(std::move(f));
  }
  // Keep the context the detector looks back at, then drop what was emitted.
  const size_t keep_from =
      from + n > PiiDetector::kContextBytes ? from + n - PiiDetector::kContextBytes : 0;
  context_ = window.substr(keep_from, from + n - keep_from);
  pending_.erase(0, n);
  consumed_ += n;
  // A long hold (a private key waiting for END) is rescanned after a quarter
  // of its size, not on every chunk.
  scan_at_ = std::max(kHoldBytes, pending_.size()) +
             std::clamp(pending_.size() / 4, kEmitStep, kMaxRescanStep);
  return std::move(r.text);
}

std::string StreamRestorer::Push(std::string_view chunk) {
  pending_.append(chunk);
  std::string out;
  const size_t n = vault_.RestorePrefix(pending_, /*at_end=*/false, &out);
  pending_.erase(0, n);
  return out;
}

std::string StreamRestorer::Finish() {
  std::string out;
  vault_.RestorePrefix(pending_, /*at_end=*/true, &out);
  pending_.clear();
  return out;
}

}  // namespace gantry::guard
