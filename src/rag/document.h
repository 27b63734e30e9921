// ParsedDocument: what the parsers extract from a source file — normalized text
// split into structural blocks, each with its span in the source.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gantry::rag {

enum class BlockKind { kHeading, kParagraph, kCode, kTable, kList };

struct Block {
  BlockKind kind = BlockKind::kParagraph;
  int level = 0;     // heading level 1..6 (kHeading only)
  std::string text;  // normalized (NFC, whitespace runs collapsed except in code)
  int64_t byte_start = 0, byte_end = 0;  // span in the source ([start, end)); see document_parser.h
  int page = 0;                          // 1-based page (PDF); 0 when not paged
};

struct ParsedDocument {
  std::string format;  // txt, md, html, pdf, json, jsonl
  std::string
      title;  // first heading, <title>, PDF title, or "" (caller falls back to the file name)
  std::vector<Block> blocks;
  int page_count = 0;  // PDF only
};

}  // namespace gantry::rag
