// Chunker: splits a ParsedDocument into retrieval chunks that respect its
// structure.
//
// - Blocks are packed in order into chunks of at most `max_tokens` tokens.
// - A heading starts a new chunk and is never the last block of one; each chunk
//   carries its heading path (["Guide", "Install", "Linux"]) and, with
//   `prefix_headings`, its text starts with the path joined by " > " (counted).
// - Code blocks, tables and list blocks are kept whole when they fit in
//   max_tokens; larger ones are split on line boundaries. Paragraphs that do
//   not fit are split on sentence boundaries, then on words.
// - Consecutive chunks of the same section overlap by about `overlap_tokens`
//   (whole sentences/lines taken from the end of the previous chunk).
// - Spans: byte_start/byte_end cover the source bytes of the blocks in the
//   chunk; page_start/page_end the pages (PDF).
//
// Thread safety: pure functions; the TokenCounter must be thread-safe if the
// caller chunks from several threads.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "rag/document.h"

namespace gantry::rag {

struct ChunkingOptions {
  int max_tokens = 200;     // MiniLM reads 256 word pieces; leave room for headings
  int overlap_tokens = 32;  // 0 disables overlap
  bool prefix_headings = true;
  // kInvalidArgument when max_tokens < 16 or overlap_tokens >= max_tokens / 2.
  Status Validate() const;
};

using TokenCounter = std::function<int(std::string_view)>;

// A counter that approximates word-piece counts without a vocabulary (words,
// punctuation and long words as several pieces); used when no tokenizer is
// configured.
TokenCounter ApproximateTokenCounter();

struct TextChunk {
  std::string text;
  std::vector<std::string> heading_path;
  int64_t byte_start = 0, byte_end = 0;
  int page_start = 0, page_end = 0;
  int token_count = 0;
};

// REQUIRES: options.Validate().ok().
std::vector<TextChunk> ChunkDocument(const ParsedDocument& doc, const ChunkingOptions& options,
                                     const TokenCounter& count_tokens);

}  // namespace gantry::rag
