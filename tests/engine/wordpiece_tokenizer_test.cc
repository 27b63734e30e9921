#include "engine/wordpiece_tokenizer.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace gantry::engine {
namespace {

const std::vector<std::string> kVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",  // 0-4
    "hello", "world", "un",    "##aff", "##able",  // 5-9
    "cafe",  "naive", ",",     "!",     ".",       // 10-14
    "a",     "##a",   "x",     "##x",   "我",      // 15-19
    "爱",    "'",     "s",     "[",     "]",       // 20-24
    "cls",   "it",    "##y",   "σ",     "##α",     // 25-29
};

std::unique_ptr<WordPieceTokenizer> Make(WordPieceOptions o = {}) {
  auto tok = WordPieceTokenizer::Create(kVocab, o);
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return tok.ok() ? std::move(*tok) : nullptr;
}

std::vector<int32_t> Encode(const WordPieceTokenizer& tok, std::string_view text,
                            bool add_special = true, bool parse_special = true) {
  auto ids = tok.Encode(text, add_special, parse_special);
  EXPECT_TRUE(ids.ok()) << ids.status().ToString();
  return ids.ok() ? *ids : std::vector<int32_t>{};
}

TEST(WordPieceTokenizerTest, GreedyLongestMatchWithContinuations) {
  auto tok = Make();
  EXPECT_EQ(Encode(*tok, "unaffable"), (std::vector<int32_t>{2, 7, 8, 9, 3}));
  EXPECT_EQ(Encode(*tok, "hello world", false), (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(Encode(*tok, "aaa", false), (std::vector<int32_t>{15, 16, 16}));
}

TEST(WordPieceTokenizerTest, UnmatchableWordBecomesOneUnk) {
  auto tok = Make();
  // "unaffz": un ##aff then "z" fails -> the whole word is [UNK].
  EXPECT_EQ(Encode(*tok, "unaffz hello", false), (std::vector<int32_t>{1, 5}));
  EXPECT_EQ(Encode(*tok, "\xf0\x9f\x98\x80", false), (std::vector<int32_t>{1}));  // emoji
}

TEST(WordPieceTokenizerTest, LowercasesAndStripsAccents) {
  auto tok = Make();
  EXPECT_EQ(Encode(*tok, "HeLLo Caf\xc3\xa9 Na\xc3\xafve", false),
            (std::vector<int32_t>{5, 10, 11}));
  // Decomposed input gives the same.
  EXPECT_EQ(Encode(*tok, "cafe\xcc\x81", false), (std::vector<int32_t>{10}));
  // Greek capitals lowercase; the combining mark goes.
  EXPECT_EQ(Encode(*tok, "\xce\xa3\xce\x86", false), (std::vector<int32_t>{28, 29}));

  WordPieceOptions keep;
  keep.strip_accents = false;
  auto accented = Make(keep);
  EXPECT_EQ(Encode(*accented, "caf\xc3\xa9", false), (std::vector<int32_t>{1}));
}

TEST(WordPieceTokenizerTest, SplitsPunctuationAndCjk) {
  auto tok = Make();
  EXPECT_EQ(Encode(*tok, "hello,world!", false), (std::vector<int32_t>{5, 12, 6, 13}));
  EXPECT_EQ(Encode(*tok, "it's.", false), (std::vector<int32_t>{26, 21, 22, 14}));
  EXPECT_EQ(Encode(*tok, "\xe6\x88\x91\xe7\x88\xb1", false), (std::vector<int32_t>{19, 20}));
}

TEST(WordPieceTokenizerTest, CleansControlsAndWhitespace) {
  auto tok = Make();
  // Tab/newline/NBSP/ideographic space separate; NUL, ZWSP, U+FFFD, BEL vanish.
  EXPECT_EQ(Encode(*tok, "hello\tworld\n\xc2\xa0x\xe3\x80\x80x", false),
            (std::vector<int32_t>{5, 6, 17, 17}));
  EXPECT_EQ(Encode(*tok, std::string("x\0x", 3), false), (std::vector<int32_t>{17, 18}));
  EXPECT_EQ(Encode(*tok, "x\xe2\x80\x8bx\xef\xbf\xbdx\x07", false),
            (std::vector<int32_t>{17, 18, 18}));
  EXPECT_EQ(Encode(*tok, "   ", true), (std::vector<int32_t>{2, 3}));
}

TEST(WordPieceTokenizerTest, LongWordsBecomeUnk) {
  auto tok = Make();
  EXPECT_EQ(Encode(*tok, std::string(100, 'a'), false).size(), 100u);
  EXPECT_EQ(Encode(*tok, std::string(101, 'a'), false), (std::vector<int32_t>{1}));
  WordPieceOptions o;
  o.max_input_chars_per_word = 3;
  auto short_words = Make(o);
  EXPECT_EQ(Encode(*short_words, "aaaa aaa", false), (std::vector<int32_t>{1, 15, 16, 16}));
}

TEST(WordPieceTokenizerTest, SpecialTokensInText) {
  auto tok = Make();
  EXPECT_EQ(Encode(*tok, "hello[SEP]world [MASK]"), (std::vector<int32_t>{2, 5, 3, 6, 4, 3}));
  // Parsing off: the text is tokenized like any other.
  EXPECT_EQ(Encode(*tok, "[CLS]", false, false), (std::vector<int32_t>{23, 25, 24}));
  // Special tokens are case sensitive.
  EXPECT_EQ(Encode(*tok, "[cls]", false, true), (std::vector<int32_t>{23, 25, 24}));
}

TEST(WordPieceTokenizerTest, TruncatesCountingSpecials) {
  WordPieceOptions o;
  o.max_length = 5;
  auto tok = Make(o);
  EXPECT_EQ(Encode(*tok, "a a a a a a"), (std::vector<int32_t>{2, 15, 15, 15, 3}));
  EXPECT_EQ(Encode(*tok, "a a a a a a", false), (std::vector<int32_t>{15, 15, 15, 15, 15}));
  EXPECT_EQ(Encode(*tok, "a"), (std::vector<int32_t>{2, 15, 3}));
  o.max_length = 2;
  EXPECT_FALSE(WordPieceTokenizer::Create(kVocab, o).ok());
}

TEST(WordPieceTokenizerTest, DecodeJoinsPiecesLikeHf) {
  auto tok = Make();
  auto ids = Encode(*tok, "Unaffable, hello world! it's");
  auto text = tok->Decode(ids, false);
  ASSERT_TRUE(text.ok());
  // HF cleans up per token, so " ' " never matches across tokens.
  EXPECT_EQ(*text, "unaffable, hello world! it ' s");
  auto with_special = tok->Decode(std::vector<int32_t>{2, 5, 3}, true);
  ASSERT_TRUE(with_special.ok());
  EXPECT_EQ(*with_special, "[CLS] hello [SEP]");
  EXPECT_EQ(tok->TokenToPiece(8, false), "##aff");
  EXPECT_EQ(tok->TokenToPiece(2, false), "");
  EXPECT_FALSE(tok->Decode(std::vector<int32_t>{999}, false).ok());
}

TEST(WordPieceTokenizerTest, RejectsBadInputAndVocabularies) {
  auto tok = Make();
  EXPECT_EQ(tok->Encode("bad \xff utf8", true, true).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(WordPieceTokenizer::Create({"hello", "world"}, {}).ok());  // no specials
  EXPECT_EQ(WordPieceTokenizer::FromVocabFile("/nonexistent/vocab.txt", {}).status().code(),
            StatusCode::kNotFound);
}

TEST(WordPieceTokenizerTest, LoadsVocabFile) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "gantry_wordpiece_vocab.txt").string();
  {
    std::ofstream out(path, std::ios::binary);
    for (const auto& t : kVocab) out << t << "\r\n";
  }
  auto tok = WordPieceTokenizer::FromVocabFile(path, {});
  std::remove(path.c_str());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->vocab_size(), static_cast<int32_t>(kVocab.size()));
  EXPECT_EQ((*tok)->cls_id(), 2);
  EXPECT_EQ((*tok)->TokenId("##aff"), 8);
}

TEST(WordPieceTokenizerTest, LargeInputFinishes) {
  auto tok = Make();
  std::string text;
  while (text.size() < 100 * 1024) text += "Hello, world! unaffable caf\xc3\xa9 \xe6\x88\x91 ";
  auto ids = tok->Encode(text, true, true);
  ASSERT_TRUE(ids.ok());
  EXPECT_GT(ids->size(), 10000u);
}

}  // namespace
}  // namespace gantry::engine
