// QuoteForMessage: a name read from a model file, made safe to put in an error message.
#pragma once

#include <string>
#include <string_view>

namespace gantry::engine {

// Single-quoted, capped at 80 bytes ("..." after), control and non-ASCII bytes as '?'.
inline std::string QuoteForMessage(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 80) out += "...";
  return out + "'";
}

}  // namespace gantry::engine
