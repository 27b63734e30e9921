// The one place where a Status becomes an HTTP status and an OpenAI error body:
//   {"error": {"message": ..., "type": ..., "param": null, "code": ...}}
#pragma once

#include <string>

#include "core/status.h"
#include "server/http_types.h"

namespace gantry::server {

int HttpStatusFor(StatusCode code);
// The OpenAI error JSON (serialized) for a status.
std::string ErrorBody(const Status& status);
// A complete error response, with Retry-After when the status carries one.
Response ErrorResponse(const Status& status);
// An error response for a transport-level HTTP status (413, 431, 404, 405, ...).
Response HttpErrorResponse(int http_status, const std::string& message, const std::string& type,
                           const std::string& code = "");

}  // namespace gantry::server
