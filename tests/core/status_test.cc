#include "core/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace gantry {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(OkStatus().ok());
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, HelpersSetCodeAndMessage) {
  struct Case {
    Status s;
    StatusCode code;
    std::string_view name;
  };
  const Case cases[] = {
      {InvalidArgument("m"), StatusCode::kInvalidArgument, "INVALID_ARGUMENT"},
      {NotFound("m"), StatusCode::kNotFound, "NOT_FOUND"},
      {Unauthenticated("m"), StatusCode::kUnauthenticated, "UNAUTHENTICATED"},
      {PermissionDenied("m"), StatusCode::kPermissionDenied, "PERMISSION_DENIED"},
      {ResourceExhausted("m"), StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED"},
      {FailedPrecondition("m"), StatusCode::kFailedPrecondition, "FAILED_PRECONDITION"},
      {Unavailable("m"), StatusCode::kUnavailable, "UNAVAILABLE"},
      {UpstreamError("m"), StatusCode::kUpstream, "UPSTREAM_ERROR"},
      {DeadlineExceeded("m"), StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED"},
      {Cancelled("m"), StatusCode::kCancelled, "CANCELLED"},
      {Unimplemented("m"), StatusCode::kUnimplemented, "UNIMPLEMENTED"},
      {InternalError("m"), StatusCode::kInternal, "INTERNAL"},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(c.s.ok());
    EXPECT_EQ(c.s.code(), c.code);
    EXPECT_EQ(c.s.message(), "m");
    EXPECT_EQ(StatusCodeName(c.code), c.name);
    EXPECT_EQ(c.s.ToString(), std::string(c.name) + ": m");
  }
  EXPECT_EQ(StatusCodeName(StatusCode::kOk), "OK");
}

TEST(StatusTest, WithContextPrefixesAndKeepsExtras) {
  Status s = ResourceExhausted("slow down");
  s.set_retry_after_s(7).set_upstream_http_status(429);
  Status c = s.WithContext("provider x");
  EXPECT_EQ(c.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(c.message(), "provider x: slow down");
  EXPECT_EQ(c.retry_after_s(), 7);
  EXPECT_EQ(c.upstream_http_status(), 429);
  EXPECT_EQ(s.message(), "slow down");  // original untouched
  EXPECT_TRUE(OkStatus().WithContext("ctx").ok());
  EXPECT_EQ(OkStatus().WithContext("ctx").message(), "");
}

TEST(StatusTest, Equality) {
  EXPECT_EQ(NotFound("a"), NotFound("a"));
  EXPECT_FALSE(NotFound("a") == NotFound("b"));
  EXPECT_FALSE(NotFound("a") == InvalidArgument("a"));
}

TEST(ResultTest, HoldsValue) {
  Result<std::string> r = std::string("hello");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(*r, "hello");
  EXPECT_EQ(r->size(), 5u);
  r.value() += "!";
  EXPECT_EQ(r.value(), "hello!");
  std::string moved = std::move(r).value();
  EXPECT_EQ(moved, "hello!");
}

TEST(ResultTest, HoldsError) {
  Result<int> r = NotFound("nope");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "nope");
}

TEST(ResultTest, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(3);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 3);
}

Status Check(bool fail, int* reached) {
  RETURN_IF_ERROR(fail ? InvalidArgument("bad") : OkStatus());
  ++*reached;
  return OkStatus();
}

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));  // two uses in one function must not clash
  return q;
}

Status QuarterStatus(int x, int* out) {
  ASSIGN_OR_RETURN(*out, Quarter(x));
  return OkStatus();
}

TEST(MacrosTest, ReturnIfError) {
  int reached = 0;
  EXPECT_TRUE(Check(false, &reached).ok());
  EXPECT_EQ(reached, 1);
  Status s = Check(true, &reached);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "bad");
  EXPECT_EQ(reached, 1);
}

TEST(MacrosTest, AssignOrReturn) {
  auto ok = Quarter(12);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 3);
  auto bad = Quarter(6);  // 6 -> 3 -> odd
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "odd");
  int out = -1;
  EXPECT_TRUE(QuarterStatus(8, &out).ok());
  EXPECT_EQ(out, 2);
  out = -1;
  EXPECT_FALSE(QuarterStatus(5, &out).ok());
  EXPECT_EQ(out, -1);
}

}  // namespace
}  // namespace gantry
