// Text normalization for ingestion.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace gantry::rag {

// Decodes `bytes` to UTF-8: valid UTF-8 passes (a UTF-8 BOM is dropped);
// UTF-16 LE/BE with a BOM is converted. kInvalidArgument otherwise, naming the
// byte offset of the first invalid sequence.
Result<std::string> DecodeToUtf8(std::string_view bytes);

// NFC (utf8proc), control characters other than \n and \t removed, zero-width
// and BOM characters removed, non-breaking and other Unicode spaces turned
// into ' '. With `collapse`, runs of spaces/tabs become one space, lines are
// trimmed and runs of blank lines become one blank line (prose); without it
// whitespace is kept (code). REQUIRES: valid UTF-8.
std::string NormalizeText(std::string_view utf8, bool collapse = true);

}  // namespace gantry::rag
