// Process-wide configuration and statistics of gantry-mock-upstream.

#include "mock_state.h"

namespace gantry::mock {

MockState::MockState(Knobs defaults)
    : defaults_(std::move(defaults)), knobs_(defaults_), errors_remaining_(defaults_.error_count) {}

Knobs MockState::CurrentKnobs() const {
  std::lock_guard lock(mu_);
  return knobs_;
}

nlohmann::json MockState::ConfigJson() const { return KnobsToJson(CurrentKnobs()); }

std::string MockState::ApplyConfig(const nlohmann::json& patch) {
  if (!patch.is_object()) return "config must be a JSON object of knobs";
  std::lock_guard lock(mu_);
  Knobs updated = knobs_;
  bool rearm = false;
  for (const auto& [key, value] : patch.items()) {
    if (std::string error = SetKnobFromJson(updated, key, value); !error.empty()) return error;
    const std::string name = CanonicalKnobName(key);
    rearm = rearm || name == "error_status" || name == "error_count";
  }
  if (std::string error = ValidateKnobs(updated); !error.empty()) return error;
  knobs_ = std::move(updated);
  if (rearm) errors_remaining_ = knobs_.error_count;
  return "";
}

void MockState::Reset() {
  std::lock_guard lock(mu_);
  knobs_ = defaults_;
  errors_remaining_ = defaults_.error_count;
  last_request_.reset();
  stats_.requests = 0;
  stats_.chat_requests = 0;
  stats_.embedding_requests = 0;
  stats_.streams_started = 0;
  stats_.streams_completed = 0;
  stats_.aborted = 0;
  stats_.connections = 0;
}

int MockState::ConsumeError() {
  std::lock_guard lock(mu_);
  if (knobs_.error_status == 0) return 0;
  if (knobs_.error_count <= 0) return static_cast<int>(knobs_.error_status);
  if (errors_remaining_ <= 0) return 0;
  --errors_remaining_;
  return static_cast<int>(knobs_.error_status);
}

void MockState::Record(RecordedRequest request) {
  std::lock_guard lock(mu_);
  last_request_ = std::move(request);
}

nlohmann::ordered_json MockState::StatsJson() const {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["requests"] = stats_.requests.load();
  out["chat_requests"] = stats_.chat_requests.load();
  out["embedding_requests"] = stats_.embedding_requests.load();
  out["streams_started"] = stats_.streams_started.load();
  out["streams_completed"] = stats_.streams_completed.load();
  out["aborted"] = stats_.aborted.load();
  out["connections"] = stats_.connections.load();
  out["active"] = stats_.active.load();
  std::optional<RecordedRequest> last;
  {
    std::lock_guard lock(mu_);
    last = last_request_;
  }
  if (!last) {
    out["last_request"] = nullptr;
    return out;
  }
  nlohmann::ordered_json headers = nlohmann::ordered_json::object();
  for (const auto& [name, value] : last->headers) {
    auto it = headers.find(name);
    if (it == headers.end()) {
      headers[name] = value;
    } else {
      *it = it->get<std::string>() + ", " + value;
    }
  }
  nlohmann::ordered_json body =
      nlohmann::ordered_json::parse(last->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) body = nullptr;
  nlohmann::ordered_json request = nlohmann::ordered_json::object();
  request["method"] = last->method;
  request["path"] = last->path;
  request["headers"] = std::move(headers);
  request["body"] = std::move(body);
  out["last_request"] = std::move(request);
  return out;
}

}  // namespace gantry::mock
