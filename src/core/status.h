// Status and Result<T>: the one error type that crosses module boundaries.
//
// A Status carries a code, chosen by what the caller should do about it, and a
// message meant for a human (it must never contain a secret). Result<T> holds
// either a value or a non-OK Status. Both are [[nodiscard]].
//
// Thread safety: value types; distinct objects may be used from distinct threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace gantry {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the request or input is wrong: do not retry as is
  kNotFound,            // the named thing does not exist
  kUnauthenticated,     // no or bad credentials
  kPermissionDenied,    // credentials fine, not allowed
  kResourceExhausted,   // rate limit, quota, capacity: retry later
  kFailedPrecondition,  // system not in a state to do this
  kUnavailable,         // transient: retry (possibly elsewhere)
  kUpstream,            // an upstream provider failed or answered badly
  kDeadlineExceeded,    // ran out of time
  kCancelled,           // the caller went away
  kUnimplemented,       // not supported
  kInternal,            // a bug or broken invariant
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Seconds after which a retry may succeed (from a Retry-After, or a limiter).
  std::optional<int> retry_after_s() const { return retry_after_s_; }
  Status& set_retry_after_s(int s) {
    retry_after_s_ = s;
    return *this;
  }
  // HTTP status an upstream answered with, when this error came from one.
  std::optional<int> upstream_http_status() const { return upstream_http_status_; }
  Status& set_upstream_http_status(int s) {
    upstream_http_status_ = s;
    return *this;
  }

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::optional<int> retry_after_s_;
  std::optional<int> upstream_http_status_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status UpstreamError(std::string m) { return {StatusCode::kUpstream, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Result<T>: a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace gantry

#define GANTRY_CONCAT_INNER(a, b) a##b
#define GANTRY_CONCAT(a, b) GANTRY_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)      \
  do {                             \
    ::gantry::Status _st = (expr); \
    if (!_st.ok()) return _st;     \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(GANTRY_CONCAT(_result_, __LINE__), lhs, expr)

// Coroutine variants (inside asio::awaitable functions).
#define CO_RETURN_IF_ERROR(expr)   \
  do {                             \
    ::gantry::Status _st = (expr); \
    if (!_st.ok()) co_return _st;  \
  } while (0)

#define CO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) co_return tmp.status();         \
  lhs = std::move(tmp).value()

#define CO_ASSIGN_OR_RETURN(lhs, expr) \
  CO_ASSIGN_OR_RETURN_IMPL(GANTRY_CONCAT(_result_, __LINE__), lhs, expr)
