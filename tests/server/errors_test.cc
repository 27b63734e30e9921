#include "server/errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace gantry::server {
namespace {

using Json = nlohmann::json;

std::optional<std::string> HeaderOf(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

TEST(ErrorsTest, HttpStatusForEveryCode) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kOk), 200);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kFailedPrecondition), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(StatusCode::kCancelled), 499);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUpstream), 502);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::kDeadlineExceeded), 504);
}

TEST(ErrorsTest, ErrorBodyIsOpenAIShaped) {
  Json j = Json::parse(ErrorBody(InvalidArgument("messages: required array")));
  ASSERT_TRUE(j.contains("error"));
  const Json& e = j["error"];
  EXPECT_EQ(e["message"], "messages: required array");
  EXPECT_EQ(e["type"], "invalid_request_error");
  ASSERT_TRUE(e.contains("param"));
  EXPECT_TRUE(e["param"].is_null());
  ASSERT_TRUE(e.contains("code"));
  EXPECT_TRUE(e["code"].is_null());
}

TEST(ErrorsTest, TypeAndCodePerStatus) {
  struct Case {
    Status s;
    const char* type;
    const char* code;
  };
  const Case cases[] = {
      {NotFound("m"), "invalid_request_error", "model_not_found"},
      {Unauthenticated("m"), "invalid_request_error", "invalid_api_key"},
      {PermissionDenied("m"), "permission_error", "permission_denied"},
      {ResourceExhausted("m"), "rate_limit_error", "rate_limit_exceeded"},
      {Unavailable("m"), "server_error", "service_unavailable"},
      {UpstreamError("m"), "upstream_error", "upstream_error"},
      {DeadlineExceeded("m"), "timeout_error", "timeout"},
      {Cancelled("m"), "request_cancelled", "cancelled"},
      {Unimplemented("m"), "invalid_request_error", "unsupported"},
      {InternalError("m"), "server_error", "internal_error"},
  };
  for (const auto& c : cases) {
    Json e = Json::parse(ErrorBody(c.s))["error"];
    EXPECT_EQ(e["type"], c.type) << c.s.ToString();
    EXPECT_EQ(e["code"], c.code) << c.s.ToString();
    EXPECT_EQ(e["message"], "m");
  }
}

TEST(ErrorsTest, InvalidUtf8InMessageStillYieldsJson) {
  Json j = Json::parse(ErrorBody(InvalidArgument("bad \xff byte")));
  EXPECT_TRUE(j["error"]["message"].is_string());
}

TEST(ErrorsTest, ErrorResponseSetsStatusContentTypeAndRetryAfter) {
  Status s = ResourceExhausted("slow down");
  s.set_retry_after_s(7);
  Response r = ErrorResponse(s);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(HeaderOf(r, "content-type"), "application/json");
  EXPECT_EQ(HeaderOf(r, "retry-after"), "7");
  EXPECT_EQ(Json::parse(r.body)["error"]["message"], "slow down");

  Response plain = ErrorResponse(UpstreamError("x"));
  EXPECT_EQ(plain.status, 502);
  EXPECT_FALSE(HeaderOf(plain, "retry-after").has_value());
}

TEST(ErrorsTest, HttpErrorResponse) {
  Response r =
      HttpErrorResponse(405, "Method not allowed", "invalid_request_error", "method_not_allowed");
  EXPECT_EQ(r.status, 405);
  Json e = Json::parse(r.body)["error"];
  EXPECT_EQ(e["message"], "Method not allowed");
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["code"], "method_not_allowed");
  Json e2 = Json::parse(HttpErrorResponse(413, "too big", "invalid_request_error").body)["error"];
  EXPECT_TRUE(e2["code"].is_null());
}

}  // namespace
}  // namespace gantry::server
