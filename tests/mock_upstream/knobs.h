// Fault-injection knobs of gantry-mock-upstream.
//
// A knob has one canonical snake_case name (the JSON key of POST /_mock/config);
// the CLI flag is `--<name-with-dashes>` and the per-request header override is
// `x-mock-<name-with-dashes>`.

#ifndef GANTRY_TESTS_MOCK_UPSTREAM_KNOBS_H_
#define GANTRY_TESTS_MOCK_UPSTREAM_KNOBS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace gantry::mock {

struct Knobs {
  int64_t latency_ms = 0;           // Delay before the response headers.
  int64_t tokens = 16;              // Completion tokens per chat response.
  double tokens_per_second = 0.0;   // Streaming pace; 0 = as fast as possible.
  int64_t error_status = 0;         // Respond with this status; 0 = no error.
  int64_t error_count = 0;          // >0: only the next N requests get the error.
  int64_t retry_after = 0;          // Retry-After seconds on errors; 0 = no header.
  int64_t reset_after_tokens = -1;  // TCP RST after N streamed tokens; -1 = never.
  std::string malformed;            // "", "json" or "sse".
  int64_t slow_headers_ms = 0;      // Delay between header lines.
  bool hang = false;                // Never answer.
};

// Canonical knob name for `name`: lower case, dashes turned into underscores.
std::string CanonicalKnobName(std::string_view name);

// Sets one knob from a JSON value. Returns an error message, or "" on success.
std::string SetKnobFromJson(Knobs& knobs, std::string_view name, const nlohmann::json& value);

// Sets one knob from its textual form (header value). Returns an error message, or "".
std::string SetKnobFromString(Knobs& knobs, std::string_view name, std::string_view value);

// Range checks across all knobs. Returns an error message, or "".
std::string ValidateKnobs(const Knobs& knobs);

nlohmann::json KnobsToJson(const Knobs& knobs);

// Adds one `--<knob>` option per knob to `app`, writing into `knobs`.
void AddKnobOptions(CLI::App& app, Knobs& knobs);

}  // namespace gantry::mock

#endif  // GANTRY_TESTS_MOCK_UPSTREAM_KNOBS_H_
