#include "server/router.h"

#include <gtest/gtest.h>

#include "fakes/run_sync.h"

namespace gantry::server {
namespace {

Handler Reply(std::string body) {
  return [body = std::move(body)](Request&) -> Awaitable<Response> {
    co_return Response::Json(200, body);
  };
}

std::string Call(const Route* route) {
  Request req;
  return gantry::testing::RunSync(route->handler(req)).body;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("POST", "/v1/chat/completions", Reply("chat"));
    router_.Add("GET", "/v1/models", Reply("list"));
    router_.Add("GET", "/healthz", Reply("health"), /*requires_auth=*/false);
    router_.AddPrefix("GET", "/v1/models/", Reply("get-model"));
    router_.AddPrefix("DELETE", "/v1/models/", Reply("delete-model"));
  }
  Router router_;
};

TEST_F(RouterTest, ExactMatch) {
  bool known = false;
  const Route* r = router_.Find("POST", "/v1/chat/completions", &known);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(known);
  EXPECT_TRUE(r->requires_auth);
  EXPECT_EQ(Call(r), "chat");

  const Route* h = router_.Find("GET", "/healthz", &known);
  ASSERT_NE(h, nullptr);
  EXPECT_FALSE(h->requires_auth);
  EXPECT_EQ(Call(h), "health");
}

TEST_F(RouterTest, ExactRouteWinsOverPrefix) {
  bool known = false;
  const Route* r = router_.Find("GET", "/v1/models", &known);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(Call(r), "list");
}

TEST_F(RouterTest, PrefixMatchNeedsMoreAfterThePrefix) {
  bool known = false;
  const Route* r = router_.Find("GET", "/v1/models/gpt-4o", &known);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(known);
  EXPECT_EQ(Call(r), "get-model");
  const Route* d = router_.Find("DELETE", "/v1/models/x/y", &known);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(Call(d), "delete-model");

  EXPECT_EQ(router_.Find("GET", "/v1/models/", &known), nullptr);  // nothing after the prefix
  EXPECT_FALSE(known);
}

TEST_F(RouterTest, UnknownPathIs404) {
  bool known = true;
  EXPECT_EQ(router_.Find("GET", "/nope", &known), nullptr);
  EXPECT_FALSE(known);
  known = true;
  EXPECT_EQ(router_.Find("POST", "/v1/chat/completions/", &known), nullptr);
  EXPECT_FALSE(known);
  known = true;
  EXPECT_EQ(router_.Find("POST", "/v1/chat", &known), nullptr);
  EXPECT_FALSE(known);
}

TEST_F(RouterTest, WrongMethodIs405) {
  bool known = false;
  EXPECT_EQ(router_.Find("GET", "/v1/chat/completions", &known), nullptr);
  EXPECT_TRUE(known);
  known = false;
  EXPECT_EQ(router_.Find("POST", "/v1/models/abc", &known), nullptr);
  EXPECT_TRUE(known);
}

TEST_F(RouterTest, AllowedMethods) {
  EXPECT_EQ(router_.AllowedMethods("/v1/chat/completions"), "POST");
  EXPECT_EQ(router_.AllowedMethods("/v1/models/abc"), "DELETE, GET");
  EXPECT_EQ(router_.AllowedMethods("/nope"), "");
  router_.Add("DELETE", "/v1/chat/completions", Reply("x"));
  EXPECT_EQ(router_.AllowedMethods("/v1/chat/completions"), "DELETE, POST");
}

}  // namespace
}  // namespace gantry::server
