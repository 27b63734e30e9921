// A multipart/form-data body parser (RFC 7578) for document uploads.
//
// Thread safety: pure function.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gantry::server {

struct FormPart {
  std::string name;                     // form field name
  std::optional<std::string> filename;  // set for file parts
  std::string content_type;             // "" when the part has none
  std::string body;
};

// The boundary parameter of a multipart/form-data Content-Type, or
// kInvalidArgument when the type is not multipart/form-data or has none.
Result<std::string> MultipartBoundary(std::string_view content_type);

// Splits `body` into parts. kInvalidArgument naming what is malformed (no
// opening boundary, a part without headers end, no closing boundary).
Result<std::vector<FormPart>> ParseMultipart(std::string_view body, std::string_view boundary);

}  // namespace gantry::server
