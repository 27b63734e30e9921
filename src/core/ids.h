// Identifiers, hashing and encodings.
// Thread safety: all functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gantry {

// A random id such as "req_3f9a0c1b2d4e5f60718293a4" (prefix + 24 hex digits).
std::string NewId(std::string_view prefix);
// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Compares in time independent of where the first difference is.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// Standard base64 (RFC 4648, with padding).
std::string Base64Encode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);

}  // namespace gantry
