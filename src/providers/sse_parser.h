// SseParser: incremental parser for text/event-stream (the WHATWG algorithm,
// minus reconnection). Feed bytes as they arrive; complete events come out.
// Thread safety: not thread-safe (one per stream).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gantry::providers {

struct SseEvent {
  std::string event;  // "" when no event: field was given
  std::string data;   // data: lines joined by '\n'
  std::string id;
};

class SseParser {
 public:
  // REQUIRES: max_event_bytes > 0.
  explicit SseParser(size_t max_event_bytes = 8 << 20) : max_event_bytes_(max_event_bytes) {}
  // Appends complete events to `out`. kInvalidArgument if one event grows past
  // max_event_bytes (a hostile or broken upstream).
  Status Feed(std::string_view bytes, std::vector<SseEvent>* out);
  // True when bytes of an unfinished event are buffered.
  bool HasPartial() const { return !line_.empty() || has_data_; }

 private:
  void ProcessLine(std::string_view line, std::vector<SseEvent>* out);

  size_t max_event_bytes_;
  std::string line_;
  bool last_was_cr_ = false;
  SseEvent current_;
  bool has_data_ = false;
};

}  // namespace gantry::providers
