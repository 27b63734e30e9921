#include "engine/spm_tokenizer.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/gguf.h"
#include "engine/gguf_writer.h"

namespace gantry::engine {
namespace {

using T = SpmTokenType;

// A tiny SentencePiece vocabulary: specials, 256 byte tokens, then normal pieces.
struct Vocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<SpmTokenType> types;
  std::map<std::string, int32_t> ids;

  void Add(const std::string& text, float score, SpmTokenType type = T::kNormal) {
    ids[text] = static_cast<int32_t>(tokens.size());
    tokens.push_back(text);
    scores.push_back(score);
    types.push_back(type);
  }
};

Vocab MakeVocab(std::map<std::string, float> normal) {
  Vocab v;
  v.Add("<pad>", 0, T::kControl);            // 0
  v.Add("<eos>", 0, T::kControl);            // 1
  v.Add("<bos>", 0, T::kControl);            // 2
  v.Add("<unk>", 0, T::kControl);            // 3
  v.Add("<start_of_turn>", 0, T::kControl);  // 4
  v.Add("<end_of_turn>", 0, T::kControl);    // 5
  v.Add("\n\n", 0, T::kUserDefined);         // 6
  v.Add("<unused0>", 0, T::kUnused);         // 7
  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    v.Add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", 0, T::kByte);
  }
  for (const auto& [text, score] : normal) v.Add(text, score);
  return v;
}

SpmOptions GemmaOptions() {
  SpmOptions o;
  o.bos_id = 2;
  o.eos_id = 1;
  o.unk_id = 3;
  o.pad_id = 0;
  o.add_space_prefix = false;
  return o;
}

std::unique_ptr<SpmTokenizer> Make(const Vocab& v, SpmOptions o = GemmaOptions()) {
  auto tok = SpmTokenizer::Create(v.tokens, v.scores, v.types, o);
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return tok.ok() ? std::move(*tok) : nullptr;
}

std::vector<int32_t> Encode(const SpmTokenizer& tok, std::string_view text,
                            bool add_special = false, bool parse_special = false) {
  auto ids = tok.Encode(text, add_special, parse_special);
  EXPECT_TRUE(ids.ok()) << ids.status().ToString();
  return ids.ok() ? *ids : std::vector<int32_t>{};
}

const std::map<std::string, float> kBase = {
    {"a", -5}, {"b", -5}, {"c", -5}, {"x", -5}, {"\xe2\x96\x81", -3}, {"<", -6},
};

TEST(SpmTokenizerTest, MergesHighestScoreFirst) {
  auto v1 = kBase;
  v1["ab"] = -1;
  v1["bc"] = -0.5;  // better than "ab": a + bc
  Vocab a = MakeVocab(v1);
  auto tok = Make(a);
  EXPECT_EQ(Encode(*tok, "abc"), (std::vector<int32_t>{a.ids["a"], a.ids["bc"]}));

  auto v2 = kBase;
  v2["ab"] = -0.1;  // now "ab" wins: ab + c
  v2["bc"] = -0.5;
  Vocab b = MakeVocab(v2);
  tok = Make(b);
  EXPECT_EQ(Encode(*tok, "abc"), (std::vector<int32_t>{b.ids["ab"], b.ids["c"]}));

  // Merged pieces merge further when the longer text is a token.
  v2["abc"] = -2;
  Vocab c = MakeVocab(v2);
  tok = Make(c);
  EXPECT_EQ(Encode(*tok, "abc"), (std::vector<int32_t>{c.ids["abc"]}));
}

TEST(SpmTokenizerTest, EqualScoresMergeLeftmostFirst) {
  auto m = kBase;
  m["aa"] = -1;
  Vocab v = MakeVocab(m);
  auto tok = Make(v);
  EXPECT_EQ(Encode(*tok, "aaa"), (std::vector<int32_t>{v.ids["aa"], v.ids["a"]}));
  EXPECT_EQ(Encode(*tok, "aaaa"), (std::vector<int32_t>{v.ids["aa"], v.ids["aa"]}));
}

TEST(SpmTokenizerTest, UnknownCharactersFallBackToBytes) {
  Vocab v = MakeVocab(kBase);
  auto tok = Make(v);
  // "é" = C3 A9 is not a token.
  EXPECT_EQ(Encode(*tok, "a\xc3\xa9"),
            (std::vector<int32_t>{v.ids["a"], v.ids["<0xC3>"], v.ids["<0xA9>"]}));
  // Invalid UTF-8 is not an error: bytes as well.
  EXPECT_EQ(Encode(*tok, "\xff"), (std::vector<int32_t>{v.ids["<0xFF>"]}));
  EXPECT_EQ(Encode(*tok, "\xe2\x96"), (std::vector<int32_t>{v.ids["<0xE2>"], v.ids["<0x96>"]}));
}

TEST(SpmTokenizerTest, SpacesBecomeMetaspaceWithoutPrefix) {
  auto m = kBase;
  m["\xe2\x96\x81"
    "a"] = -1;
  Vocab v = MakeVocab(m);
  auto tok = Make(v);
  const int32_t sp_a = v.ids
                           ["\xe2\x96\x81"
                            "a"];
  EXPECT_EQ(Encode(*tok, "a a"), (std::vector<int32_t>{v.ids["a"], sp_a}));
  EXPECT_EQ(Encode(*tok, " a"), (std::vector<int32_t>{sp_a}));

  SpmOptions o = GemmaOptions();
  o.add_space_prefix = true;
  auto prefixed = Make(v, o);
  EXPECT_EQ(Encode(*prefixed, "a"), (std::vector<int32_t>{sp_a}));
}

TEST(SpmTokenizerTest, AddsBosOnlyWithAddSpecial) {
  Vocab v = MakeVocab(kBase);
  auto tok = Make(v);
  EXPECT_EQ(Encode(*tok, "", true), (std::vector<int32_t>{2}));
  EXPECT_EQ(Encode(*tok, "", false), (std::vector<int32_t>{}));
  EXPECT_EQ(Encode(*tok, "a", true), (std::vector<int32_t>{2, v.ids["a"]}));
  SpmOptions o = GemmaOptions();
  o.add_eos = true;
  auto with_eos = Make(v, o);
  EXPECT_EQ(Encode(*with_eos, "a", true), (std::vector<int32_t>{2, v.ids["a"], 1}));
}

TEST(SpmTokenizerTest, PartitionsSpecialTokens) {
  Vocab v = MakeVocab(kBase);
  auto tok = Make(v);
  const int32_t a = v.ids["a"], b = v.ids["b"];
  EXPECT_EQ(Encode(*tok, "a<start_of_turn>b<end_of_turn>", false, true),
            (std::vector<int32_t>{a, 4, b, 5}));
  EXPECT_EQ(Encode(*tok, "<bos><bos>", false, true), (std::vector<int32_t>{2, 2}));
  // Without parse_special control tokens are text; user-defined ones still split.
  std::vector<int32_t> plain = Encode(*tok, "<bos>a\n\nb", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
  EXPECT_EQ(plain.front(), v.ids["<"]);
  EXPECT_EQ(std::vector<int32_t>(plain.end() - 3, plain.end()), (std::vector<int32_t>{a, 6, b}));
  // Unused entries are never split out.
  std::vector<int32_t> unused = Encode(*tok, "<unused0>", false, true);
  EXPECT_EQ(std::count(unused.begin(), unused.end(), 7), 0);
}

TEST(SpmTokenizerTest, LongerSpecialTokensWinAsInLlamaCpp) {
  Vocab v = MakeVocab(kBase);
  v.Add("xab", 0, T::kUserDefined);
  v.Add("abc<", 0, T::kUserDefined);
  auto tok = Make(v);
  // The longer "abc<" is split out first although "xab" starts earlier.
  EXPECT_EQ(Encode(*tok, "xabc<"), (std::vector<int32_t>{v.ids["x"], v.ids["abc<"]}));
}

TEST(SpmTokenizerTest, DecodeRoundTripsAndHidesControlTokens) {
  auto m = kBase;
  m["\xe2\x96\x81"
    "a"] = -1;
  Vocab v = MakeVocab(m);
  auto tok = Make(v);
  const std::string text = "a a\n\nb\xc3\xa9 x<start_of_turn>";
  auto ids = tok->Encode(text, true, true);
  ASSERT_TRUE(ids.ok());
  auto shown = tok->Decode(*ids, true);
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(*shown, "<bos>" + text);
  auto hidden = tok->Decode(*ids, false);
  ASSERT_TRUE(hidden.ok());
  EXPECT_EQ(*hidden, "a a\n\nb\xc3\xa9 x");
  EXPECT_EQ(tok->TokenToPiece(v.ids["<0x41>"], false), "A");
  EXPECT_EQ(tok->TokenToPiece(7, true), "");  // unused
  EXPECT_EQ(tok->TokenToPiece(-1, true), "");
  EXPECT_FALSE(tok->Decode(std::vector<int32_t>{1 << 20}, false).ok());
}

TEST(SpmTokenizerTest, SpecialIdsAndEndOfGeneration) {
  Vocab v = MakeVocab(kBase);
  auto tok = Make(v);
  EXPECT_EQ(tok->special_ids().bos, 2);
  EXPECT_EQ(tok->special_ids().eos, 1);
  EXPECT_EQ(tok->special_ids().eot, 5);  // found by text
  EXPECT_TRUE(tok->IsEndOfGeneration(1));
  EXPECT_TRUE(tok->IsEndOfGeneration(5));
  EXPECT_FALSE(tok->IsEndOfGeneration(4));
  EXPECT_EQ(tok->TokenId("<start_of_turn>"), 4);
  EXPECT_EQ(tok->TokenId("nope"), std::nullopt);
}

TEST(SpmTokenizerTest, RejectsMalformedVocabularies) {
  Vocab v = MakeVocab(kBase);
  auto scores = v.scores;
  scores.pop_back();
  EXPECT_EQ(SpmTokenizer::Create(v.tokens, scores, v.types, GemmaOptions()).status().code(),
            StatusCode::kInvalidArgument);
  auto dup = v.tokens;
  dup.back() = dup.front();
  EXPECT_FALSE(SpmTokenizer::Create(dup, v.scores, v.types, GemmaOptions()).ok());
  SpmOptions bad = GemmaOptions();
  bad.bos_id = 1 << 20;
  EXPECT_FALSE(SpmTokenizer::Create(v.tokens, v.scores, v.types, bad).ok());
  EXPECT_FALSE(SpmTokenizer::Create({}, {}, {}, GemmaOptions()).ok());
}

TEST(SpmTokenizerTest, LargeInputIsLinearish) {
  auto m = kBase;
  m["ab"] = -1;
  m["\xe2\x96\x81"
    "a"] = -1;
  Vocab v = MakeVocab(m);
  auto tok = Make(v);
  std::string text;
  while (text.size() < 100 * 1024) text += "ab a\n\nc<start_of_turn>x\xc3\xa9  ";
  auto ids = tok->Encode(text, false, true);
  ASSERT_TRUE(ids.ok());
  auto back = tok->Decode(*ids, true);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, text);
}

TEST(SpmTokenizerTest, FromGgufReadsMetadata) {
  Vocab v = MakeVocab(kBase);
  std::vector<int32_t> types;
  for (SpmTokenType t : v.types) types.push_back(static_cast<int32_t>(t));
  testing::GgufWriter w;
  w.KvString("general.architecture", "gemma3")
      .KvString("tokenizer.ggml.model", "llama")
      .KvStringArray("tokenizer.ggml.tokens", v.tokens)
      .KvF32Array("tokenizer.ggml.scores", v.scores)
      .KvI32Array("tokenizer.ggml.token_type", types)
      .KvU32("tokenizer.ggml.bos_token_id", 2)
      .KvU32("tokenizer.ggml.eos_token_id", 1)
      .KvU32("tokenizer.ggml.unknown_token_id", 3)
      .KvU32("tokenizer.ggml.padding_token_id", 0)
      .KvBool("tokenizer.ggml.add_bos_token", true)
      .KvBool("tokenizer.ggml.add_space_prefix", false);
  std::vector<uint8_t> image = w.Build();
  auto gguf = GgufFile::Parse(image);
  ASSERT_TRUE(gguf.ok()) << gguf.status().ToString();
  auto tok = SpmTokenizer::FromGguf(**gguf);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->vocab_size(), static_cast<int32_t>(v.tokens.size()));
  EXPECT_EQ((*tok)->special_ids().bos, 2);
  EXPECT_FALSE((*tok)->options().add_space_prefix);
  EXPECT_EQ(Encode(**tok, "a", true), (std::vector<int32_t>{2, v.ids["a"]}));

  testing::GgufWriter bert;
  bert.KvString("tokenizer.ggml.model", "bert").KvStringArray("tokenizer.ggml.tokens", v.tokens);
  std::vector<uint8_t> bert_image = bert.Build();
  auto bert_gguf = GgufFile::Parse(bert_image);
  ASSERT_TRUE(bert_gguf.ok());
  EXPECT_EQ(SpmTokenizer::FromGguf(**bert_gguf).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gantry::engine
