// Unicode helpers for the tokenizers: UTF-8 decoding/encoding and the character
// classes BERT normalization needs. Backed by utf8proc (Unicode 15 in Debian 12),
// whose header stays inside unicode.cc.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gantry::engine::unicode {

// Strict UTF-8 decoding: kInvalidArgument (with the byte offset) on malformed input,
// overlong forms, surrogates or code points past U+10FFFF.
Result<std::u32string> DecodeUtf8(std::string_view text);
void AppendUtf8(char32_t c, std::string& out);
std::string EncodeUtf8(std::u32string_view text);

// Canonical decomposition (NFD).
std::u32string Nfd(std::u32string_view text);

// Lowercase as Rust's char::to_lowercase (full mapping: U+0130 -> "i\u0307").
void AppendLower(char32_t c, std::u32string& out);

// Rust's char::is_whitespace (the White_Space property).
bool IsWhitespace(char32_t c);
// General category Mn (nonspacing mark).
bool IsNonspacingMark(char32_t c);
// General category P* (any punctuation).
bool IsPunctuation(char32_t c);
// General categories Cc, Cf or Co; Cf marks assigned after Unicode 8 are excluded,
// as in the tables HF tokenizers uses.
bool IsOtherControlFormatPrivate(char32_t c);
// The CJK ideograph blocks BERT puts spaces around.
bool IsCjkIdeograph(char32_t c);

}  // namespace gantry::engine::unicode
