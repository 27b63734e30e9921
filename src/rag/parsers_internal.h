// Private to the document parsers: one entry point per format plus the helpers
// they share. Not part of gantry_rag's interface.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "rag/document.h"
#include "rag/document_parser.h"

namespace gantry::rag::internal {

// Decoded text and where it starts in the source bytes (3 after a UTF-8 BOM);
// spans are `base` + offsets into `text`.
struct SourceText {
  std::string text;
  int64_t base = 0;
};

// Size limit, NUL-byte (binary) check and DecodeToUtf8.
Result<SourceText> PrepareText(std::string_view bytes, const ParseOptions& options);
Status CheckSize(std::string_view bytes, const ParseOptions& options);

// Appends a block when its normalized text is non-empty. `collapse` as in
// NormalizeText. Returns whether it appended.
bool AddBlock(ParsedDocument& doc, BlockKind kind, std::string_view raw_text, int64_t start,
              int64_t end, bool collapse = true, int level = 0, int page = 0);

// Normalized and on one line (titles, headings, table cells).
std::string OneLine(std::string_view raw);

// Valid UTF-8 out of anything: malformed sequences become U+FFFD.
std::string SanitizeUtf8(std::string_view bytes);

// Removes tags and comments from an HTML fragment and decodes the common
// entities; used for raw HTML inside Markdown.
std::string StripHtmlTags(std::string_view html);

// Paragraphs split on blank lines; offsets relative to `text`, shifted by `base`.
void AddParagraphs(ParsedDocument& doc, std::string_view text, int64_t base, int page = 0);

Result<ParsedDocument> ParseMarkdown(const SourceText& src);
Result<ParsedDocument> ParseHtml(const SourceText& src);
Result<ParsedDocument> ParsePdf(std::string_view bytes, const ParseOptions& options);
Result<ParsedDocument> ParseJson(const SourceText& src);
Result<ParsedDocument> ParseJsonl(const SourceText& src);

}  // namespace gantry::rag::internal
