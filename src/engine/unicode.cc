#include "engine/unicode.h"

#include <utf8proc.h>

namespace gantry::engine::unicode {

Result<std::u32string> DecodeUtf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n =
        utf8proc_iterate(p + pos, static_cast<utf8proc_ssize_t>(text.size() - pos), &c);
    if (n <= 0 || c < 0) {
      return InvalidArgument("invalid UTF-8 at byte " + std::to_string(pos));
    }
    out.push_back(static_cast<char32_t>(c));
    pos += static_cast<size_t>(n);
  }
  return out;
}

void AppendUtf8(char32_t c, std::string& out) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

std::string EncodeUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) AppendUtf8(c, out);
  return out;
}

std::u32string Nfd(std::u32string_view text) {
  if (text.empty()) return {};
  const std::string utf8 = EncodeUtf8(text);
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(utf8.data());
  const auto options = static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_STABLE);
  // A code point decomposes into at most 4 in NFD (utf8proc's own bound); start there.
  std::vector<utf8proc_int32_t> buf(text.size() * 4 + 4);
  utf8proc_ssize_t n = utf8proc_decompose(p, static_cast<utf8proc_ssize_t>(utf8.size()), buf.data(),
                                          static_cast<utf8proc_ssize_t>(buf.size()), options);
  if (n > static_cast<utf8proc_ssize_t>(buf.size())) {
    buf.resize(static_cast<size_t>(n));
    n = utf8proc_decompose(p, static_cast<utf8proc_ssize_t>(utf8.size()), buf.data(),
                           static_cast<utf8proc_ssize_t>(buf.size()), options);
  }
  if (n < 0) return std::u32string(text);  // unreachable for valid code points
  return std::u32string(buf.begin(), buf.begin() + n);
}

void AppendLower(char32_t c, std::u32string& out) {
  if (c == 0x130) {  // the one unconditional multi-code-point lowercase mapping
    out.push_back(U'i');
    out.push_back(0x307);
    return;
  }
  out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}

bool IsWhitespace(char32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool IsNonspacingMark(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_MN;
}

bool IsPunctuation(char32_t c) {
  utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool IsOtherControlFormatPrivate(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CO:
      return true;
    case UTF8PROC_CATEGORY_CF:
      // Format characters newer than the reference's Unicode 8 tables (9.0: U+08E2;
      // 11.0: U+110CD; 12.0/15.0: U+13430..U+1343F; 14.0: U+0890..U+0891).
      return !(c == 0x08E2 || c == 0x110CD || (c >= 0x13430 && c <= 0x1343F) || c == 0x0890 ||
               c == 0x0891);
    default:
      return false;
  }
}

bool IsCjkIdeograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace gantry::engine::unicode
