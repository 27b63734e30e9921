// Process-wide state of gantry-mock-upstream: the current knob defaults (set by
// the CLI and POST /_mock/config), the error_count budget and the statistics
// reported by GET /_mock/stats. Thread-safe.

#ifndef GANTRY_TESTS_MOCK_UPSTREAM_MOCK_STATE_H_
#define GANTRY_TESTS_MOCK_UPSTREAM_MOCK_STATE_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "knobs.h"

namespace gantry::mock {

struct RecordedRequest {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;  // Lower-cased names.
  std::string body;
};

struct Stats {
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> chat_requests{0};
  std::atomic<int64_t> embedding_requests{0};
  std::atomic<int64_t> streams_started{0};
  std::atomic<int64_t> streams_completed{0};
  std::atomic<int64_t> aborted{0};
  std::atomic<int64_t> connections{0};  // TCP connections accepted (pooling shows here)
  std::atomic<int64_t> active{0};       // Not zeroed by Reset().
};

class MockState {
 public:
  explicit MockState(Knobs defaults);
  MockState(const MockState&) = delete;
  MockState& operator=(const MockState&) = delete;

  Knobs CurrentKnobs() const;
  nlohmann::json ConfigJson() const;

  // Merges a JSON object of knobs into the current defaults (all or nothing).
  // Setting error_status or error_count re-arms the error_count budget.
  // Returns an error message, or "" on success.
  std::string ApplyConfig(const nlohmann::json& patch);

  // Restores the CLI defaults and zeroes the statistics.
  void Reset();

  // Status of the error that the process-wide knobs inject into the next
  // chat/embedding request (0 = none); consumes one unit of the error_count budget.
  int ConsumeError();

  void Record(RecordedRequest request);
  nlohmann::ordered_json StatsJson() const;

  Stats& stats() { return stats_; }
  int64_t NextCompletionId() { return next_completion_id_.fetch_add(1) + 1; }
  int64_t NextRequestId() { return next_request_id_.fetch_add(1) + 1; }

 private:
  const Knobs defaults_;
  mutable std::mutex mu_;
  Knobs knobs_;
  int64_t errors_remaining_ = 0;
  std::optional<RecordedRequest> last_request_;
  Stats stats_;
  std::atomic<int64_t> next_completion_id_{0};
  std::atomic<int64_t> next_request_id_{0};
};

// Everything a connection needs.
struct ServerContext {
  explicit ServerContext(Knobs defaults, std::string key)
      : state(std::move(defaults)), require_key(std::move(key)) {}
  MockState state;
  std::string require_key;  // "" = no auth.
};

}  // namespace gantry::mock

#endif  // GANTRY_TESTS_MOCK_UPSTREAM_MOCK_STATE_H_
