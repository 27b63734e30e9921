#include "providers/openai_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gantry::providers {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ErrorJson(const std::string& message) {
  return Json({{"error", {{"message", message}, {"type", "x"}, {"code", nullptr}}}}).dump();
}

TEST(MapUpstreamErrorTest, BadRequestKeepsUpstreamMessage) {
  Status s = MapUpstreamError("openai", 400, ErrorJson("temperature is too high"), std::nullopt);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("openai"));
  EXPECT_THAT(s.message(), HasSubstr("temperature is too high"));
  EXPECT_EQ(s.upstream_http_status(), 400);
  EXPECT_FALSE(s.retry_after_s().has_value());
  for (int code : {409, 413, 422}) {
    Status t = MapUpstreamError("p", code, ErrorJson("m"), std::nullopt);
    EXPECT_EQ(t.code(), StatusCode::kInvalidArgument) << code;
    EXPECT_EQ(t.upstream_http_status(), code);
  }
}

TEST(MapUpstreamErrorTest, AuthFailuresAreUpstreamAndDoNotLeak) {
  for (int code : {401, 403}) {
    Status s = MapUpstreamError(
        "openai", code, ErrorJson("Incorrect API key provided: sk-proj-abc123XYZ"), std::nullopt);
    EXPECT_EQ(s.code(), StatusCode::kUpstream) << code;
    EXPECT_THAT(s.message(), HasSubstr("openai"));
    EXPECT_THAT(s.message(), Not(HasSubstr("sk-proj-abc123XYZ")));
    EXPECT_THAT(s.message(), Not(HasSubstr("Incorrect API key")));
    EXPECT_EQ(s.upstream_http_status(), code);
  }
}

TEST(MapUpstreamErrorTest, NotFound) {
  Status s = MapUpstreamError("vllm", 404, ErrorJson("The model `x` does not exist"), std::nullopt);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("does not exist"));
  EXPECT_EQ(s.upstream_http_status(), 404);
}

TEST(MapUpstreamErrorTest, RateLimitCarriesRetryAfter) {
  Status s = MapUpstreamError("openai", 429, ErrorJson("Rate limit reached"), std::string("7"));
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.retry_after_s(), 7);
  EXPECT_EQ(s.upstream_http_status(), 429);
  EXPECT_THAT(s.message(), HasSubstr("Rate limit reached"));

  Status no_hint = MapUpstreamError("openai", 429, "", std::nullopt);
  EXPECT_EQ(no_hint.code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(no_hint.retry_after_s().has_value());
  Status date = MapUpstreamError("openai", 429, "", std::string("Wed, 21 Oct 2015 07:28:00 GMT"));
  EXPECT_FALSE(date.retry_after_s().has_value());
  Status negative = MapUpstreamError("openai", 429, "", std::string("-3"));
  EXPECT_FALSE(negative.retry_after_s().has_value());
}

TEST(MapUpstreamErrorTest, ServerErrorsAreUpstream) {
  Status s = MapUpstreamError("openai", 503, ErrorJson("overloaded"), std::string("2"));
  EXPECT_EQ(s.code(), StatusCode::kUpstream);
  EXPECT_EQ(s.upstream_http_status(), 503);
  EXPECT_EQ(s.retry_after_s(), 2);
  EXPECT_THAT(s.message(), HasSubstr("503"));

  Status html = MapUpstreamError("openai", 500, "<html>boom</html>", std::nullopt);
  EXPECT_EQ(html.code(), StatusCode::kUpstream);
  EXPECT_THAT(html.message(), HasSubstr("HTTP 500"));
  EXPECT_EQ(html.upstream_http_status(), 500);

  Status str = MapUpstreamError("p", 502, R"({"error": "bad gateway"})", std::nullopt);
  EXPECT_THAT(str.message(), HasSubstr("bad gateway"));
}

TEST(MapUpstreamErrorTest, LongMessagesAreTruncated) {
  Status s = MapUpstreamError("p", 400, ErrorJson(std::string(5000, 'x')), std::nullopt);
  EXPECT_LT(s.message().size(), 600u);
}

TEST(OpenAIProviderTest, CreateValidatesBaseUrl) {
  OpenAIProviderOptions bad;
  bad.name = "remote";
  bad.base_url = "ftp://example.com";
  bad.api_key = Secret("sk-never-shown");
  auto r = OpenAIProvider::Create(std::move(bad));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("remote"));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("sk-never-shown")));

  OpenAIProviderOptions good;
  good.name = "local";
  good.base_url = "http://127.0.0.1:9/v1";
  auto ok = OpenAIProvider::Create(std::move(good));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)->name(), "local");
  EXPECT_EQ((*ok)->http().idle_connections(), 0u);
}

}  // namespace
}  // namespace gantry::providers
