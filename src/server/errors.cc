#include "server/errors.h"

#include <nlohmann/json.hpp>

namespace gantry::server {
namespace {

struct Kind {
  const char* type;
  const char* code;  // nullptr = JSON null
};

Kind KindFor(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return {"invalid_request_error", nullptr};
    case StatusCode::kNotFound:
      return {"invalid_request_error", "model_not_found"};
    case StatusCode::kUnauthenticated:
      return {"invalid_request_error", "invalid_api_key"};
    case StatusCode::kPermissionDenied:
      return {"permission_error", "permission_denied"};
    case StatusCode::kResourceExhausted:
      return {"rate_limit_error", "rate_limit_exceeded"};
    case StatusCode::kFailedPrecondition:
      return {"invalid_request_error", "failed_precondition"};
    case StatusCode::kUnavailable:
      return {"server_error", "service_unavailable"};
    case StatusCode::kUpstream:
      return {"upstream_error", "upstream_error"};
    case StatusCode::kDeadlineExceeded:
      return {"timeout_error", "timeout"};
    case StatusCode::kCancelled:
      return {"request_cancelled", "cancelled"};
    case StatusCode::kUnimplemented:
      return {"invalid_request_error", "unsupported"};
    case StatusCode::kInternal:
    case StatusCode::kOk:
      break;
  }
  return {"server_error", "internal_error"};
}

nlohmann::json ErrorJson(const std::string& message, const char* type, const char* code) {
  nlohmann::json e = {{"message", message}, {"type", type}, {"param", nullptr}};
  e["code"] = code ? nlohmann::json(code) : nlohmann::json(nullptr);
  return {{"error", std::move(e)}};
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kCancelled:
      return 499;
    case StatusCode::kInternal:
      return 500;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kUpstream:
      return 502;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
  }
  return 500;
}

std::string ErrorBody(const Status& status) {
  const Kind k = KindFor(status.code());
  return ErrorJson(status.message(), k.type, k.code)
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Response ErrorResponse(const Status& status) {
  Response r = Response::Json(HttpStatusFor(status.code()), ErrorBody(status));
  if (status.retry_after_s()) {
    r.headers.emplace_back("retry-after", std::to_string(*status.retry_after_s()));
  }
  return r;
}

Response HttpErrorResponse(int http_status, const std::string& message, const std::string& type,
                           const std::string& code) {
  return Response::Json(http_status,
                        ErrorJson(message, type.c_str(), code.empty() ? nullptr : code.c_str())
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace gantry::server
