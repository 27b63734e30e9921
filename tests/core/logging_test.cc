#include "core/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace gantry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<nlohmann::json> Lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    EXPECT_TRUE(j.is_object()) << line;
    out.push_back(std::move(j));
  }
  return out;
}

TEST(LoggingTest, WritesOneJsonObjectPerLine) {
  std::ostringstream os;
  auto log = Logger::ToStream(os);
  log->Info("request done", {{"status", 200}, {"latency_ms", 3.5}, {"path", "/v1/x"}});
  log->Warn("second");
  log->Flush();
  ASSERT_EQ(os.str().back(), '\n');
  auto lines = Lines(os.str());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["msg"], "request done");
  EXPECT_EQ(lines[0]["status"], 200);
  EXPECT_DOUBLE_EQ(lines[0]["latency_ms"].get<double>(), 3.5);
  EXPECT_EQ(lines[0]["path"], "/v1/x");
  ASSERT_TRUE(lines[0]["ts"].is_string());
  EXPECT_THAT(
      lines[0]["ts"].get<std::string>(),
      ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"));
  EXPECT_EQ(lines[1]["level"], "warn");
  EXPECT_EQ(lines[1]["msg"], "second");
  // ts, level and msg come first.
  EXPECT_EQ(os.str().rfind("{\"ts\":", 0), 0u);
}

TEST(LoggingTest, MessageWithNewlineStaysOnOneLine) {
  std::ostringstream os;
  auto log = Logger::ToStream(os);
  log->Error("line one\nline two", {{"detail", "a\nb"}});
  auto lines = Lines(os.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["msg"], "line one\nline two");
  EXPECT_EQ(lines[0]["level"], "error");
}

TEST(LoggingTest, LevelFiltering) {
  std::ostringstream os;
  auto log = Logger::ToStream(os, LogLevel::kWarn);
  EXPECT_FALSE(log->Enabled(LogLevel::kDebug));
  EXPECT_FALSE(log->Enabled(LogLevel::kInfo));
  EXPECT_TRUE(log->Enabled(LogLevel::kWarn));
  EXPECT_TRUE(log->Enabled(LogLevel::kError));
  log->Debug("d");
  log->Info("i");
  log->Warn("w");
  log->Error("e");
  auto lines = Lines(os.str());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["msg"], "w");
  EXPECT_EQ(lines[1]["msg"], "e");

  std::ostringstream off_os;
  auto off = Logger::ToStream(off_os, LogLevel::kOff);
  off->Error("nothing");
  EXPECT_EQ(off_os.str(), "");
  Logger::Null()->Error("dropped");  // must not crash
}

TEST(LoggingTest, SecretsAreScrubbedEverywhere) {
  std::ostringstream os;
  auto log = Logger::ToStream(os);
  log->AddSecret("sk-live-abcdef123456");
  log->AddSecret("hunter22");
  log->Info("key sk-live-abcdef123456 used twice: sk-live-abcdef123456",
            {{"auth", "Bearer sk-live-abcdef123456"},
             {"nested", {{"password", "hunter22"}, {"list", {"x", "hunter22"}}}},
             {"sk-live-abcdef123456", 1}});
  const std::string out = os.str();
  EXPECT_THAT(out, Not(HasSubstr("sk-live-abcdef123456")));
  EXPECT_THAT(out, Not(HasSubstr("hunter22")));
  auto lines = Lines(out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["msg"], "key [REDACTED] used twice: [REDACTED]");
  EXPECT_EQ(lines[0]["auth"], "Bearer [REDACTED]");
  EXPECT_EQ(lines[0]["nested"]["password"], "[REDACTED]");
  EXPECT_EQ(lines[0]["nested"]["list"][1], "[REDACTED]");
}

TEST(LoggingTest, ShortSecretsAreIgnored) {
  std::ostringstream os;
  auto log = Logger::ToStream(os);
  log->AddSecret("abc");  // too short: would mangle ordinary text
  log->Info("abc def");
  auto lines = Lines(os.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["msg"], "abc def");
}

TEST(LoggingTest, SecretsNeedingJsonEscapesAreScrubbed) {
  // A secret with characters that JSON escapes must not survive in escaped form.
  const std::string secret = "pa\"ss\\w0rd";
  std::ostringstream os;
  auto log = Logger::ToStream(os);
  log->AddSecret(secret);
  log->Info("login", {{"password", secret}});
  auto lines = Lines(os.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0]["password"], secret) << os.str();
  EXPECT_THAT(os.str(), Not(HasSubstr("w0rd"))) << os.str();
}

TEST(LoggingTest, ParseLogLevel) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(*ParseLogLevel("off"), LogLevel::kOff);
  auto bad = ParseLogLevel("verbose");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("verbose"));
}

TEST(LoggingTest, OpenAppendsToFile) {
  const std::string path = ::testing::TempDir() + "gantry_logging_test.log";
  std::remove(path.c_str());
  {
    auto log = Logger::Open(LogLevel::kInfo, path);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    (*log)->Info("to file");
    (*log)->Flush();
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto lines = Lines(ss.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["msg"], "to file");
  std::remove(path.c_str());
  // A directory cannot be opened as a log file.
  EXPECT_FALSE(Logger::Open(LogLevel::kInfo, ::testing::TempDir()).ok());
}

}  // namespace
}  // namespace gantry
