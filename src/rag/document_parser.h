// Document parsers: bytes of a .txt, .md, .html, .pdf, .json or .jsonl file in,
// a ParsedDocument out.
//
//   txt   paragraphs split on blank lines
//   md    CommonMark (cmark): headings, paragraphs, fenced/indented code, lists
//         (one kList block per list, lines "- item" / "1. item", nested lists
//         indented), GFM-style pipe tables kept as one kTable block with rows
//         "a | b"; block quotes become paragraphs, raw HTML blocks their text.
//         Title: the first level-1 heading
//   html  gumbo: headings h1-h6, p, pre (kCode), tables (rows as "a | b"),
//         lists as in md; <br> is a line break; head, script, style, noscript,
//         template, nav, header, footer, aside, form, iframe, svg (and other
//         embedded objects/controls) and elements with `hidden` or
//         aria-hidden="true" are dropped. Title: <title>, else the first h1
//   pdf   poppler-cpp: one or more blocks per page (paragraphs split on blank
//         lines), page numbers kept, document title from its info dictionary
//   json  objects and arrays become sections headed (kHeading, level 1) by
//         their key path ("items[2]", "items[2].tags"); in a section each
//         string value is a paragraph "key: value" (array elements: the value
//         alone), and numbers/booleans are gathered into one paragraph of
//         "key: value" lines; null and "" are skipped. The root's own values
//         come first, without a heading. A root "title" string is the title.
//   jsonl one JSON value per line, each under a level-1 heading "line N" (its
//         1-based line; blank lines skipped), its sections as in json at level 2
//
// Spans (Block::byte_start/byte_end) are offsets into the source bytes. For
// UTF-16 input they are offsets into its UTF-8 decoding; for PDF, into the
// concatenation of the pages' extracted text, each page followed by one
// separator byte (use Block::page to cite). JSON spans point at the string or
// number in the file, or are empty where it could not be located (the value
// spelled with escape sequences); json section headings have empty spans,
// jsonl "line N" headings span their line.
//
// Errors (kInvalidArgument, message says what is wrong so the ingest summary
// can show it): unsupported extension, binary content (NUL bytes / not text),
// invalid UTF-8 that is not UTF-16 with a BOM, corrupt or encrypted PDF, JSON
// syntax error (with line/column) or nesting deeper than 128, file larger than
// `max_bytes`, a document that yields no text.
//
// Thread safety: the functions are reentrant (poppler-cpp is used with one
// document per call).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "rag/document.h"

namespace gantry::rag {

struct ParseOptions {
  int64_t max_bytes = 64ll << 20;  // larger inputs are rejected, not truncated
};

// The format from a file name or URL path (".md" -> "md", ".markdown" -> "md",
// ".htm" -> "html", ...); "" when unsupported.
std::string FormatFromPath(std::string_view path);
// The format from a MIME type ("text/markdown" -> "md", "application/pdf" -> "pdf");
// "" when unknown.
std::string FormatFromContentType(std::string_view content_type);

// `format` as returned by FormatFromPath / FormatFromContentType.
Result<ParsedDocument> ParseDocument(std::string_view bytes, std::string_view format,
                                     const ParseOptions& options = {});

}  // namespace gantry::rag
