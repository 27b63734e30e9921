// SpmTokenizer: SentencePiece-style tokenization as llama.cpp does it for
// `tokenizer.ggml.model = "llama"` vocabularies (Gemma 3), so that ids match
// llama_tokenize() exactly.
//
// Encode:
//   1. Special partition: vocabulary entries of type control, user-defined or
//      unknown found in the text become their own token (longest texts first,
//      leftmost occurrences). With parse_special=false only user-defined entries
//      are split out (Gemma's whitespace runs "\n\n", "  ", "\t\t" are user-defined).
//   2. Each remaining text fragment: optional space prefix, ' ' -> U+2581, split
//      into UTF-8 code points, merge adjacent pairs whose concatenation is a token,
//      highest score first (ties: leftmost), and emit the pieces; a piece that is
//      not a token is emitted as byte-fallback tokens <0xXX>.
//   3. add_special: <bos> in front when add_bos, <eos> at the end when add_eos.
// Decode: U+2581 -> ' ', byte tokens -> their byte, control tokens hidden unless
// render_special, user-defined tokens verbatim. Invalid UTF-8 in the input is not
// an error: it is tokenized byte by byte, as llama.cpp does.
//
// Cost: O(n log n) in the input length; special partition is a trie scan plus
// one pass per special token that actually occurs in the text.
//
// Thread safety: immutable after creation; share freely.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/tokenizer.h"

namespace gantry::engine {

class GgufFile;

// Token types as stored in `tokenizer.ggml.token_type` (llama_token_type).
enum class SpmTokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct SpmOptions {
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t unk_id = 0;
  int32_t pad_id = -1;
  // -1: found by text ("<end_of_turn>", "<|eot_id|>", "<|im_end|>", ...).
  int32_t eot_id = -1;
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;

  // Ids must be -1 or inside [0, n_tokens); bos/eos required when added.
  Status Validate(size_t n_tokens) const;
};

class SpmTokenizer final : public Tokenizer {
 public:
  // `scores` and `types` must have one entry per token. Empty token texts are
  // renamed "[EMPTY_<id>]" (as llama.cpp does). kInvalidArgument on size mismatch,
  // duplicate token texts or bad options.
  static Result<std::unique_ptr<SpmTokenizer>> Create(std::vector<std::string> tokens,
                                                      std::vector<float> scores,
                                                      std::vector<SpmTokenType> types,
                                                      SpmOptions options);

  // From GGUF metadata: tokenizer.ggml.{model,tokens,scores,token_type,bos_token_id,
  // eos_token_id,unknown_token_id,padding_token_id,eot_token_id,add_bos_token,
  // add_eos_token,add_space_prefix}, with llama.cpp's defaults for absent keys.
  // kInvalidArgument when the model is not "llama" or the arrays are malformed.
  static Result<std::unique_ptr<SpmTokenizer>> FromGguf(const GgufFile& gguf);

  Result<std::vector<int32_t>> Encode(std::string_view text, bool add_special,
                                      bool parse_special) const override;
  std::string TokenToPiece(int32_t id, bool render_special) const override;
  Result<std::string> Decode(std::span<const int32_t> ids, bool render_special) const override;
  std::optional<int32_t> TokenId(std::string_view text) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(tokens_.size()); }
  const SpecialTokenIds& special_ids() const override { return special_; }
  bool IsEndOfGeneration(int32_t id) const override;

  const SpmOptions& options() const { return options_; }
  SpmTokenType token_type(int32_t id) const { return types_[id]; }  // REQUIRES: valid id
  float score(int32_t id) const { return scores_[id]; }             // REQUIRES: valid id

 private:
  struct TrieNode {
    int32_t token = -1;
    std::vector<std::pair<uint8_t, int32_t>> next;
  };
  struct Fragment {
    int32_t token;  // -1: raw text [offset, offset + length)
    size_t offset;
    size_t length;
  };

  SpmTokenizer() = default;
  Status Init();
  bool IsSpecialFor(int32_t id, bool parse_special) const;
  std::vector<Fragment> Partition(std::string_view text, bool parse_special) const;
  Status EncodeFragment(std::string_view text, std::vector<int32_t>& out) const;
  int32_t Lookup(std::string_view text) const;

  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<SpmTokenType> types_;
  SpmOptions options_;
  SpecialTokenIds special_;
  std::unordered_map<std::string_view, int32_t> token_to_id_;  // views into tokens_
  std::array<int32_t, 256> byte_tokens_{};                     // -1 when missing
  // Special tokens in partition order: longest text first (llama.cpp's order).
  std::vector<int32_t> special_order_;
  std::vector<int32_t> special_rank_;  // token id -> index in special_order_, or -1
  std::vector<TrieNode> trie_;         // over the special tokens' texts
};

}  // namespace gantry::engine
