// Logger: structured logs, one JSON object per line.
//
//   logger.Info("request done", {{"status", 200}, {"latency_ms", 3.2}});
//   -> {"ts":"2026-11-23T10:00:00.123Z","level":"info","msg":"request done","status":200,...}
//
// Secrets: every string registered with AddSecret() (API keys, values substituted
// from the environment into the config) is replaced by "[REDACTED]" in every line
// before it is written, whatever field it appears in. Pass a Logger to the
// classes that log (no global logger); tests give one with a memory sink.
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace spdlog {
class logger;
}

namespace gantry {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };

Result<LogLevel> ParseLogLevel(std::string_view name);

class Logger final {
 public:
  // Logs to stderr, or appends to `path` when non-empty.
  static Result<std::shared_ptr<Logger>> Open(LogLevel level, const std::string& path = "");
  // Logs to a caller-owned stream (tests). The stream must outlive the logger.
  static std::shared_ptr<Logger> ToStream(std::ostream& os, LogLevel level = LogLevel::kDebug);
  // Drops everything.
  static std::shared_ptr<Logger> Null();

  void Log(LogLevel level, std::string_view msg, const nlohmann::json& fields = nullptr);
  void Debug(std::string_view msg, const nlohmann::json& f = nullptr) {
    Log(LogLevel::kDebug, msg, f);
  }
  void Info(std::string_view msg, const nlohmann::json& f = nullptr) {
    Log(LogLevel::kInfo, msg, f);
  }
  void Warn(std::string_view msg, const nlohmann::json& f = nullptr) {
    Log(LogLevel::kWarn, msg, f);
  }
  void Error(std::string_view msg, const nlohmann::json& f = nullptr) {
    Log(LogLevel::kError, msg, f);
  }

  bool Enabled(LogLevel level) const { return level >= level_; }
  // Never write `secret` (when at least 4 bytes long) in any log line.
  void AddSecret(std::string secret);
  void Flush();

 private:
  Logger(std::shared_ptr<spdlog::logger> impl, LogLevel level);
  std::string Scrub(std::string line) const;

  std::shared_ptr<spdlog::logger> impl_;
  LogLevel level_;
  mutable std::mutex mu_;
  std::vector<std::string> secrets_;  // GUARDED_BY(mu_)
};

using LoggerPtr = std::shared_ptr<Logger>;

}  // namespace gantry
