#include "cli/serve.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gantry::cli {
namespace {

using ::testing::HasSubstr;

Result<server::ServerOptions> Parse(const std::string& yaml) {
  auto doc = ConfigDoc::Parse(yaml, "serve.yaml",
                              [](const std::string&) { return std::optional<std::string>(); });
  if (!doc.ok()) return doc.status();
  return ParseServerOptions((*doc)->Root());
}

TEST(ParseServerOptionsTest, EmptyConfigGivesDefaults) {
  auto o = Parse("{}");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  const server::ServerOptions d;
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, d.port);
  EXPECT_EQ(o->io_threads, d.io_threads);
  EXPECT_EQ(o->max_body_bytes, d.max_body_bytes);
  EXPECT_EQ(o->request_timeout, d.request_timeout);
  EXPECT_EQ(o->max_inflight, d.max_inflight);
}

TEST(ParseServerOptionsTest, ReadsEveryKey) {
  auto o = Parse(
      "server:\n"
      "  host: 0.0.0.0\n"
      "  port: 9001\n"
      "  io_threads: 4\n"
      "  max_body_bytes: 2048\n"
      "  max_header_bytes: 4096\n"
      "  idle_timeout_ms: 11\n"
      "  read_timeout_ms: 12\n"
      "  request_timeout_ms: 13\n"
      "  drain_timeout_ms: 0\n"
      "  max_inflight: 7\n");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->host, "0.0.0.0");
  EXPECT_EQ(o->port, 9001);
  EXPECT_EQ(o->io_threads, 4);
  EXPECT_EQ(o->max_body_bytes, 2048u);
  EXPECT_EQ(o->max_header_bytes, 4096u);
  EXPECT_EQ(o->idle_timeout, Millis(11));
  EXPECT_EQ(o->read_timeout, Millis(12));
  EXPECT_EQ(o->request_timeout, Millis(13));
  EXPECT_EQ(o->drain_timeout, Millis(0));
  EXPECT_EQ(o->max_inflight, 7);
}

TEST(ParseServerOptionsTest, ErrorsNameFileLineAndKey) {
  auto port = Parse("server:\n  port: 70000\n");
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(port.status().message(), HasSubstr("serve.yaml:2: server.port"));

  auto threads = Parse("server:\n  io_threads: many\n");
  ASSERT_FALSE(threads.ok());
  EXPECT_THAT(threads.status().message(), HasSubstr("serve.yaml:2: server.io_threads"));

  auto body = Parse("server:\n  host: x\n  max_body_bytes: 10\n");
  ASSERT_FALSE(body.ok());
  EXPECT_THAT(body.status().message(), HasSubstr("serve.yaml:3: server.max_body_bytes"));

  auto unknown = Parse("server:\n  prot: 80\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("prot"));

  auto not_map = Parse("server: 8080\n");
  ASSERT_FALSE(not_map.ok());
  EXPECT_THAT(not_map.status().message(), HasSubstr("server"));
}

}  // namespace
}  // namespace gantry::cli
