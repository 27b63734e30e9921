#include "rag/text_normalize.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include <utf8proc.h>

namespace gantry::rag {
namespace {

void AppendUtf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Length of the valid UTF-8 sequence at `i`, or 0 when it is malformed (overlong,
// surrogate, past U+10FFFF, truncated).
size_t ValidSequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  char32_t min;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  char32_t cp = c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

Status InvalidUtf8At(size_t offset) {
  return InvalidArgument("invalid UTF-8 at byte " + std::to_string(offset) +
                         "; convert the file to UTF-8");
}

Result<std::string> DecodeUtf16(std::string_view bytes, bool little_endian) {
  // Offsets in errors refer to the original file, BOM included.
  constexpr size_t kBom = 2;
  std::string out;
  out.reserve(bytes.size() * 3 / 2);
  const auto unit = [&](size_t i) -> char32_t {
    const auto lo = static_cast<unsigned char>(bytes[i + (little_endian ? 0 : 1)]);
    const auto hi = static_cast<unsigned char>(bytes[i + (little_endian ? 1 : 0)]);
    return static_cast<char32_t>(hi << 8 | lo);
  };
  size_t i = 0;
  while (i < bytes.size()) {
    if (i + 2 > bytes.size()) {
      return InvalidArgument("invalid UTF-16 at byte " + std::to_string(i + kBom) +
                             " (odd length); convert the file to UTF-8");
    }
    char32_t c = unit(i);
    if (c >= 0xD800 && c <= 0xDBFF) {
      if (i + 4 > bytes.size() || unit(i + 2) < 0xDC00 || unit(i + 2) > 0xDFFF) {
        return InvalidArgument("invalid UTF-16 at byte " + std::to_string(i + kBom) +
                               " (unpaired surrogate); convert the file to UTF-8");
      }
      c = 0x10000 + ((c - 0xD800) << 10) + (unit(i + 2) - 0xDC00);
      i += 4;
    } else if (c >= 0xDC00 && c <= 0xDFFF) {
      return InvalidArgument("invalid UTF-16 at byte " + std::to_string(i + kBom) +
                             " (unpaired surrogate); convert the file to UTF-8");
    } else {
      i += 2;
    }
    AppendUtf8(c, out);
  }
  return out;
}

bool IsUnicodeSpace(char32_t c) {
  return c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool IsInvisible(char32_t c) {
  return (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF || c == 0xAD;
}

// Trims each line, collapses space runs and keeps at most one blank line in a row.
std::string Collapse(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  int pending_newlines = 0;  // newlines seen since the last text
  bool pending_space = false;
  for (char ch : s) {
    if (ch == '\n') {
      ++pending_newlines;
      pending_space = false;
    } else if (ch == ' ' || ch == '\t') {
      pending_space = true;
    } else {
      if (!out.empty()) {
        if (pending_newlines > 0) {
          out.append(pending_newlines > 1 ? "\n\n" : "\n");
        } else if (pending_space) {
          out.push_back(' ');
        }
      }
      pending_newlines = 0;
      pending_space = false;
      out.push_back(ch);
    }
  }
  return out;
}

}  // namespace

Result<std::string> DecodeToUtf8(std::string_view bytes) {
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xFE) {
    return DecodeUtf16(bytes.substr(2), /*little_endian=*/true);
  }
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFE &&
      static_cast<unsigned char>(bytes[1]) == 0xFF) {
    return DecodeUtf16(bytes.substr(2), /*little_endian=*/false);
  }
  size_t start = 0;
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") start = 3;
  for (size_t i = start; i < bytes.size();) {
    const size_t n = ValidSequenceLength(bytes, i);
    if (n == 0) return InvalidUtf8At(i);
    i += n;
  }
  return std::string(bytes.substr(start));
}

std::string NormalizeText(std::string_view utf8, bool collapse) {
  // Filter code points first: utf8proc's NFC would otherwise see (and keep) the
  // characters we drop, and CR/LF handling must happen before collapsing.
  std::string filtered;
  filtered.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size();) {
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(&utf8[i]),
                                                static_cast<utf8proc_ssize_t>(utf8.size() - i), &c);
    if (n <= 0) {  // REQUIRES says valid UTF-8; drop stray bytes rather than fail
      ++i;
      continue;
    }
    i += static_cast<size_t>(n);
    const auto cp = static_cast<char32_t>(c);
    if (cp == '\r') {
      // CRLF and lone CR (old Mac files) are line ends.
      if (i < utf8.size() && utf8[i] == '\n') continue;
      filtered.push_back('\n');
    } else if (cp == '\n' || cp == '\t') {
      filtered.push_back(static_cast<char>(cp));
    } else if (cp == '\f' || cp == '\v' || cp == 0x2028 || cp == 0x2029 || cp == 0x85) {
      filtered.push_back('\n');
    } else if (IsUnicodeSpace(cp)) {
      filtered.push_back(' ');
    } else if (IsInvisible(cp) || utf8proc_category(c) == UTF8PROC_CATEGORY_CC) {
      continue;
    } else {
      filtered.append(utf8.substr(i - static_cast<size_t>(n), static_cast<size_t>(n)));
    }
  }
  std::string nfc;
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(filtered.data()),
                   static_cast<utf8proc_ssize_t>(filtered.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (len >= 0 && mapped != nullptr) {
    nfc.assign(reinterpret_cast<const char*>(mapped), static_cast<size_t>(len));
  } else {
    nfc = std::move(filtered);
  }
  std::free(mapped);
  return collapse ? Collapse(nfc) : nfc;
}

}  // namespace gantry::rag
