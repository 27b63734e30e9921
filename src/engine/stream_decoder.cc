#include "engine/stream_decoder.h"

#include <algorithm>

namespace gantry::engine {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the UTF-8 sequence starting at s[i] if it is valid and complete; 0 if it
// is invalid; -1 if it is a valid prefix cut off by the end of `s`.
int SequenceLength(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int n;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (int k = 1; k < n; ++k) {
    if (i + k >= s.size()) return -1;
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return 0;
  }
  return n;
}

}  // namespace

std::string SanitizeUtf8(std::string_view s, bool allow_incomplete_tail, size_t* incomplete_tail) {
  std::string out;
  out.reserve(s.size());
  if (incomplete_tail != nullptr) *incomplete_tail = 0;
  size_t i = 0;
  while (i < s.size()) {
    const int n = SequenceLength(s, i);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else if (n < 0 && allow_incomplete_tail) {
      if (incomplete_tail != nullptr) *incomplete_tail = s.size() - i;
      break;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

StreamDecoder::StreamDecoder(std::vector<std::string> stops) {
  for (auto& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

StreamDecoder::Step StreamDecoder::Push(std::string_view piece) {
  Step step;
  if (stopped_) return step;
  pending_.append(piece);

  size_t first_stop = std::string::npos;
  for (const auto& s : stops_) first_stop = std::min(first_stop, pending_.find(s));
  if (first_stop != std::string::npos) {
    step.text = SanitizeUtf8(std::string_view(pending_).substr(0, first_stop));
    step.stopped = stopped_ = true;
    pending_.clear();
    return step;
  }
  // Hold back the longest suffix that could still grow into a stop sequence.
  size_t hold = 0;
  for (const auto& s : stops_) {
    for (size_t len = std::min(s.size() - 1, pending_.size()); len > hold; --len) {
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  std::string_view ready(pending_.data(), pending_.size() - hold);
  size_t tail = 0;
  step.text = SanitizeUtf8(ready, /*allow_incomplete_tail=*/true, &tail);
  pending_.erase(0, ready.size() - tail);
  return step;
}

std::string StreamDecoder::Finish() {
  std::string out = stopped_ ? std::string() : SanitizeUtf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace gantry::engine
