#include "server/auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/errors.h"

namespace gantry::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Request MakeRequest(std::optional<std::string> authorization, bool loopback) {
  Request r;
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.peer_loopback = loopback;
  if (authorization) r.headers.emplace_back("authorization", *authorization);
  return r;
}

TEST(AuthTest, NoKeysMeansDevMode) {
  EXPECT_TRUE(Authenticator({}).dev_mode());
  EXPECT_TRUE(Authenticator({Secret("")}).dev_mode());  // empty keys are ignored
  EXPECT_FALSE(Authenticator({Secret("sk-1")}).dev_mode());
}

TEST(AuthTest, DevModeAcceptsAnyBearerFromLoopback) {
  Authenticator auth({});
  Request req = MakeRequest("Bearer anything-at-all", /*loopback=*/true);
  EXPECT_TRUE(auth.Authenticate(req, &req.ctx).ok());
  Request other = MakeRequest("Bearer x", /*loopback=*/true);
  EXPECT_TRUE(auth.Authenticate(other, &other.ctx).ok());
}

TEST(AuthTest, DevModeRejectsNonLoopback) {
  Authenticator auth({});
  Request req = MakeRequest("Bearer anything", /*loopback=*/false);
  Status s = auth.Authenticate(req, &req.ctx);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(HttpStatusFor(s.code()), 401);
  EXPECT_THAT(s.message(), HasSubstr("loopback"));
}

TEST(AuthTest, MissingOrMalformedHeader) {
  for (bool dev : {true, false}) {
    Authenticator auth(dev ? std::vector<ApiKey>{} : std::vector<ApiKey>{Secret("sk-good")});
    for (const std::optional<std::string>& h :
         {std::optional<std::string>(), std::optional<std::string>("sk-good"),
          std::optional<std::string>("Basic c2stZ29vZA=="), std::optional<std::string>("Bearer "),
          std::optional<std::string>("Bearer"), std::optional<std::string>("")}) {
      Request req = MakeRequest(h, /*loopback=*/true);
      Status s = auth.Authenticate(req, &req.ctx);
      EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << (h ? *h : "<none>") << " dev=" << dev;
      EXPECT_TRUE(req.ctx.key_id.empty());
    }
  }
}

TEST(AuthTest, ConfiguredKeyAccepted) {
  Authenticator auth({Secret("sk-good-1"), Secret("sk-good-2")});
  Request a = MakeRequest("Bearer sk-good-1", /*loopback=*/false);
  ASSERT_TRUE(auth.Authenticate(a, &a.ctx).ok());
  EXPECT_FALSE(a.ctx.key_id.empty());
  EXPECT_THAT(a.ctx.key_id, Not(HasSubstr("sk-good")));

  Request b = MakeRequest("Bearer sk-good-2", /*loopback=*/true);
  ASSERT_TRUE(auth.Authenticate(b, &b.ctx).ok());
  EXPECT_FALSE(b.ctx.key_id.empty());
  EXPECT_NE(a.ctx.key_id, b.ctx.key_id);  // identifies which key was used

  Request again = MakeRequest("Bearer sk-good-1", /*loopback=*/true);
  ASSERT_TRUE(auth.Authenticate(again, &again.ctx).ok());
  EXPECT_EQ(again.ctx.key_id, a.ctx.key_id);  // stable per key
}

TEST(AuthTest, WrongKeyIs401AndNotEchoed) {
  Authenticator auth({Secret("sk-good")});
  for (const char* token : {"sk-bad", "sk-goo", "sk-good2", "SK-GOOD"}) {
    Request req = MakeRequest(std::string("Bearer ") + token, /*loopback=*/true);
    Status s = auth.Authenticate(req, &req.ctx);
    EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << token;
    EXPECT_EQ(HttpStatusFor(s.code()), 401);
    EXPECT_THAT(s.message(), Not(HasSubstr(token)));
    EXPECT_TRUE(req.ctx.key_id.empty());
  }
}

TEST(AuthTest, KeysCarryTenantAndGroups) {
  Authenticator auth({ApiKey(Secret("sk-acme"), "acme", {"eng", "ops"}), Secret("sk-plain")});
  Request a = MakeRequest("Bearer sk-acme", /*loopback=*/false);
  ASSERT_TRUE(auth.Authenticate(a, &a.ctx).ok());
  EXPECT_EQ(a.ctx.tenant, "acme");
  EXPECT_EQ(a.ctx.principals, (std::vector<std::string>{"eng", "ops"}));
  Request b = MakeRequest("Bearer sk-plain", /*loopback=*/false);
  ASSERT_TRUE(auth.Authenticate(b, &b.ctx).ok());
  EXPECT_EQ(b.ctx.tenant, "default");
  EXPECT_TRUE(b.ctx.principals.empty());
  EXPECT_NE(a.ctx.key_id, b.ctx.key_id);
}

}  // namespace
}  // namespace gantry::server
