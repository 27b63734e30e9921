// WordPieceTokenizer: BERT tokenization matching HF `tokenizers` with a
// BertNormalizer + BertPreTokenizer + WordPiece + [CLS] $A [SEP] tokenizer.json
// (all-MiniLM-L6-v2).
//
// Encode:
//   1. parse_special: the special tokens ([CLS], [SEP], [PAD], [MASK], [UNK]) written
//      in the raw text become their ids (leftmost, longest first); the text between
//      them is tokenized on its own.
//   2. Normalize: drop NUL, U+FFFD and Cc/Cf/Co characters, map whitespace to ' ',
//      put spaces around CJK ideographs, NFD + drop Mn (strip_accents), lowercase.
//   3. Split on whitespace; every punctuation character (Unicode P* or ASCII
//      punctuation) is a word of its own.
//   4. WordPiece: greedy longest match, continuation pieces prefixed "##"; a word
//      with a piece that cannot match, or longer than max_input_chars_per_word
//      characters, becomes [UNK].
//   5. add_special: [CLS] ... [SEP]; truncation to max_length (counting them).
// Decode follows HF's WordPiece decoder (join with spaces, "##" glues, cleanup of
// " ." / " ," / " 's" ...).
//
// Known divergence: code points assigned after Unicode 8 in categories Mn or P are
// stripped/split here (utf8proc knows them) but not by HF (older tables).
//
// Thread safety: immutable after creation; share freely.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/tokenizer.h"

namespace gantry::engine {

struct WordPieceOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool lowercase = true;
  std::optional<bool> strip_accents;  // unset: same as lowercase (HF's null)
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string mask_token = "[MASK]";
  std::string continuing_subword_prefix = "##";
  size_t max_input_chars_per_word = 100;
  // Longest output, [CLS] and [SEP] included; 0: no truncation.
  // all-MiniLM-L6-v2 (sentence-transformers max_seq_length): 256.
  size_t max_length = 0;

  // kInvalidArgument for an empty prefix or a max_length of 1 or 2 with specials.
  Status Validate() const;
};

class WordPieceTokenizer final : public Tokenizer {
 public:
  // `vocab[i]` is the text of token i. The five special tokens must be in it.
  static Result<std::unique_ptr<WordPieceTokenizer>> Create(std::vector<std::string> vocab,
                                                            WordPieceOptions options);
  // vocab.txt: one token per line, id = line number (trailing whitespace trimmed).
  // kNotFound when the file is missing.
  static Result<std::unique_ptr<WordPieceTokenizer>> FromVocabFile(const std::string& path,
                                                                   WordPieceOptions options);

  Result<std::vector<int32_t>> Encode(std::string_view text, bool add_special,
                                      bool parse_special) const override;
  // The vocabulary text ("##ing" included); special tokens "" unless render_special.
  std::string TokenToPiece(int32_t id, bool render_special) const override;
  Result<std::string> Decode(std::span<const int32_t> ids, bool render_special) const override;
  std::optional<int32_t> TokenId(std::string_view text) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(vocab_.size()); }
  const SpecialTokenIds& special_ids() const override { return special_; }
  bool IsEndOfGeneration(int32_t) const override { return false; }

  int32_t cls_id() const { return special_.bos; }
  int32_t sep_id() const { return special_.eos; }
  const WordPieceOptions& options() const { return options_; }

 private:
  WordPieceTokenizer() = default;
  Status Init();
  bool IsSpecial(int32_t id) const;
  std::u32string Normalize(std::u32string_view text) const;
  void EncodeWord(std::u32string_view word, std::vector<int32_t>& out) const;
  Status EncodeText(std::string_view text, std::vector<int32_t>& out) const;

  std::vector<std::string> vocab_;
  WordPieceOptions options_;
  SpecialTokenIds special_;
  std::vector<int32_t> special_list_;                           // the five, by id
  std::unordered_map<std::string_view, int32_t> word_start_;    // views into vocab_
  std::unordered_map<std::string_view, int32_t> continuation_;  // prefix stripped
};

}  // namespace gantry::engine
