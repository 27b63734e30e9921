// Tokenizer: text <-> token ids for one model's vocabulary.
//
// The seam between the engine's models and everything that handles text (chat
// templates, prompt budgeting, embeddings). Implementations: SpmTokenizer
// (SentencePiece-style, as llama.cpp tokenizes Gemma) and WordPieceTokenizer (BERT).
// Tests use the real ones with tiny vocabularies.
//
// Thread safety: implementations are immutable after construction; all methods are
// const and safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gantry::engine {

// Ids of the tokens a caller needs by role; -1 where the vocabulary has none.
struct SpecialTokenIds {
  int32_t bos = -1;  // SPM <bos>; BERT [CLS]
  int32_t eos = -1;  // SPM <eos>; BERT [SEP]
  int32_t eot = -1;  // end of turn (Gemma <end_of_turn>)
  int32_t unk = -1;
  int32_t pad = -1;
  int32_t mask = -1;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text (UTF-8) to ids. `add_special` adds what the model's configuration asks for
  // (SPM: <bos>; BERT: [CLS] ... [SEP], then truncation). `parse_special` recognises
  // control tokens written in the text ("<start_of_turn>", "[SEP]"); when false they
  // are tokenized as plain text. kInvalidArgument when the text cannot be tokenized
  // (WordPiece: invalid UTF-8).
  virtual Result<std::vector<int32_t>> Encode(std::string_view text, bool add_special,
                                              bool parse_special) const = 0;

  // The text of one token as it appears in decoded output. Control tokens give ""
  // unless `render_special`. Out-of-range ids give "".
  virtual std::string TokenToPiece(int32_t id, bool render_special) const = 0;

  // Ids back to text. kInvalidArgument for an id outside the vocabulary.
  virtual Result<std::string> Decode(std::span<const int32_t> ids, bool render_special) const = 0;

  // The id of a vocabulary entry with exactly this (raw, unescaped) text.
  virtual std::optional<int32_t> TokenId(std::string_view text) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual const SpecialTokenIds& special_ids() const = 0;

  // True for the tokens that end generation (eos, eot).
  virtual bool IsEndOfGeneration(int32_t id) const = 0;
};

using TokenizerPtr = std::unique_ptr<Tokenizer>;

}  // namespace gantry::engine
