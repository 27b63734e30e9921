#include "core/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "core/clock.h"

namespace gantry {
namespace {

std::string NextLoggerName() {
  static std::atomic<int> n{0};
  return "gantry-" + std::to_string(n++);
}

std::shared_ptr<spdlog::logger> MakeImpl(spdlog::sink_ptr sink) {
  auto logger = std::make_shared<spdlog::logger>(NextLoggerName(), std::move(sink));
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::trace);
  return logger;
}

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "info";
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  if (name == "off") return LogLevel::kOff;
  return InvalidArgument("unknown log level '" + std::string(name) +
                         "' (expected debug, info, warn, error or off)");
}

Logger::Logger(std::shared_ptr<spdlog::logger> impl, LogLevel level)
    : impl_(std::move(impl)), level_(level) {}

Result<std::shared_ptr<Logger>> Logger::Open(LogLevel level, const std::string& path) {
  spdlog::sink_ptr sink;
  if (path.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
    } catch (const std::exception& e) {
      return InvalidArgument("cannot open log file '" + path + "': " + e.what());
    }
  }
  return std::shared_ptr<Logger>(new Logger(MakeImpl(std::move(sink)), level));
}

std::shared_ptr<Logger> Logger::ToStream(std::ostream& os, LogLevel level) {
  return std::shared_ptr<Logger>(
      new Logger(MakeImpl(std::make_shared<spdlog::sinks::ostream_sink_mt>(os, true)), level));
}

std::shared_ptr<Logger> Logger::Null() {
  return std::shared_ptr<Logger>(
      new Logger(MakeImpl(std::make_shared<spdlog::sinks::null_sink_mt>()), LogLevel::kOff));
}

void Logger::AddSecret(std::string secret) {
  if (secret.size() < 4) return;  // too short to scrub without mangling ordinary text
  // Lines are scrubbed after JSON serialisation, so a secret containing characters JSON
  // escapes (quotes, backslashes, control characters) is also matched in its escaped form.
  std::string escaped =
      nlohmann::json(secret).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  escaped = escaped.substr(1, escaped.size() - 2);
  std::lock_guard lock(mu_);
  auto add = [&](std::string s) {
    for (const auto& have : secrets_) {
      if (have == s) return;
    }
    secrets_.push_back(std::move(s));
  };
  if (escaped != secret) add(std::move(escaped));
  add(std::move(secret));
}

std::string Logger::Scrub(std::string line) const {
  std::lock_guard lock(mu_);
  for (const auto& s : secrets_) {
    for (size_t pos = line.find(s); pos != std::string::npos; pos = line.find(s, pos)) {
      line.replace(pos, s.size(), "[REDACTED]");
      pos += 10;
    }
  }
  return line;
}

void Logger::Log(LogLevel level, std::string_view msg, const nlohmann::json& fields) {
  if (!Enabled(level) || level == LogLevel::kOff) return;
  nlohmann::ordered_json line;
  line["ts"] = FormatIso8601(SystemClock::Get().WallNow());
  line["level"] = LevelName(level);
  line["msg"] = msg;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  }
  impl_->info(Scrub(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

void Logger::Flush() { impl_->flush(); }

}  // namespace gantry
