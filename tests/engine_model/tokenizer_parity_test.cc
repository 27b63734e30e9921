// Parity of the tokenizers with their references on the committed fixture corpus
// (tests/engine_model/fixtures/make_tokenizer_fixtures.py): Gemma 3 against
// llama.cpp, all-MiniLM-L6-v2 against HF tokenizers. Needs the real models in
// $GANTRY_MODELS or <source>/models; skipped when they are absent.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/gguf.h"
#include "engine/spm_tokenizer.h"
#include "engine/wordpiece_tokenizer.h"

namespace gantry::engine {
namespace {

namespace fs = std::filesystem;

fs::path SourceDir() {
  const char* dir = std::getenv("GANTRY_SOURCE_DIR");
  return dir ? fs::path(dir) : fs::current_path();
}

fs::path ModelsDir() {
  const char* dir = std::getenv("GANTRY_MODELS");
  return dir ? fs::path(dir) : SourceDir() / "models";
}

nlohmann::json LoadFixture(const std::string& name) {
  fs::path path = SourceDir() / "tests/engine_model/fixtures/tokenizer" / name;
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing fixture " << path;
  return nlohmann::json::parse(in);
}

std::vector<int32_t> Ids(const nlohmann::json& j) { return j.get<std::vector<int32_t>>(); }

class GemmaTokenizerParity : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path model = ModelsDir() / "gemma-3-270m-q4_k_m.gguf";
    ASSERT_TRUE(fs::exists(model))
        << "no model at " << model << ": run `build/gantry models pull` (or set GANTRY_MODELS)";
    auto gguf = GgufFile::Open(model.string());
    ASSERT_TRUE(gguf.ok()) << gguf.status().ToString();
    gguf_ = *gguf;
    auto tok = SpmTokenizer::FromGguf(*gguf_);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tok_ = std::move(*tok);
  }
  std::shared_ptr<const GgufFile> gguf_;
  std::unique_ptr<SpmTokenizer> tok_;
};

TEST_F(GemmaTokenizerParity, VocabularyAndSpecialIds) {
  EXPECT_EQ(tok_->vocab_size(), 262144);
  EXPECT_EQ(tok_->special_ids().bos, 2);
  EXPECT_EQ(tok_->special_ids().eos, 1);
  EXPECT_EQ(tok_->special_ids().unk, 3);
  EXPECT_EQ(tok_->special_ids().pad, 0);
  EXPECT_EQ(tok_->special_ids().eot, 106);
  EXPECT_EQ(tok_->TokenId("<start_of_turn>"), 105);
  EXPECT_TRUE(tok_->IsEndOfGeneration(1));
  EXPECT_TRUE(tok_->IsEndOfGeneration(106));
  EXPECT_FALSE(tok_->IsEndOfGeneration(107));
  EXPECT_TRUE(tok_->options().add_bos);
  EXPECT_FALSE(tok_->options().add_space_prefix);
}

TEST_F(GemmaTokenizerParity, MatchesLlamaCpp) {
  nlohmann::json fixture = LoadFixture("gemma3.json");
  ASSERT_GE(fixture["cases"].size(), 40u);
  for (const auto& c : fixture["cases"]) {
    const std::string name = c["name"];
    const std::string text = c["text"];
    SCOPED_TRACE(name);
    auto special = tok_->Encode(text, /*add_special=*/true, /*parse_special=*/true);
    ASSERT_TRUE(special.ok()) << special.status().ToString();
    EXPECT_EQ(*special, Ids(c["ids_parse_special"]));
    auto plain = tok_->Encode(text, true, false);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(*plain, Ids(c["ids_plain"]));
    auto no_bos = tok_->Encode(text, false, false);
    ASSERT_TRUE(no_bos.ok());
    EXPECT_EQ(*no_bos, Ids(c["ids_no_bos"]));
    auto decoded = tok_->Decode(*plain, /*render_special=*/false);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, c["decoded_plain"].get<std::string>());
  }
}

TEST_F(GemmaTokenizerParity, GoldenChatPrompt) {
  // llama-cli --verbose-prompt on gemma-3-270m-it (docs: inference-facts §2).
  auto ids =
      tok_->Encode("<start_of_turn>user\nTest<end_of_turn>\n<start_of_turn>model\n", true, true);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int32_t>{2, 105, 2364, 107, 3694, 106, 107, 105, 4368, 107}));
}

TEST_F(GemmaTokenizerParity, LargeInputRoundTrips) {
  std::string text;
  while (text.size() < 100 * 1024) {
    text += "def f(x):\n    return x * 2  # café 😀 <start_of_turn>\n\n\t\tmore   text ";
  }
  auto ids = tok_->Encode(text, false, false);
  ASSERT_TRUE(ids.ok());
  auto back = tok_->Decode(*ids, true);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, text);
}

class MiniLmTokenizerParity : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path vocab = ModelsDir() / "all-MiniLM-L6-v2" / "vocab.txt";
    ASSERT_TRUE(fs::exists(vocab)) << "no vocabulary at " << vocab
                                   << ": run `build/gantry models pull` (or set GANTRY_MODELS)";
    auto tok = WordPieceTokenizer::FromVocabFile(vocab.string(), {});
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tok_ = std::move(*tok);
    WordPieceOptions truncating;
    truncating.max_length = 256;
    auto tok256 = WordPieceTokenizer::FromVocabFile(vocab.string(), truncating);
    ASSERT_TRUE(tok256.ok());
    tok256_ = std::move(*tok256);
  }
  std::unique_ptr<WordPieceTokenizer> tok_;
  std::unique_ptr<WordPieceTokenizer> tok256_;
};

TEST_F(MiniLmTokenizerParity, MatchesHfTokenizers) {
  nlohmann::json fixture = LoadFixture("minilm.json");
  ASSERT_GE(fixture["cases"].size(), 40u);
  EXPECT_EQ(tok_->vocab_size(), 30522);
  EXPECT_EQ(tok_->cls_id(), 101);
  EXPECT_EQ(tok_->sep_id(), 102);
  for (const auto& c : fixture["cases"]) {
    const std::string name = c["name"];
    const std::string text = c["text"];
    SCOPED_TRACE(name);
    const WordPieceTokenizer& tok = c.contains("max_length") ? *tok256_ : *tok_;
    auto ids = tok.Encode(text, /*add_special=*/true, /*parse_special=*/true);
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
    EXPECT_EQ(*ids, Ids(c["ids"]));
    auto no_special = tok.Encode(text, false, true);
    ASSERT_TRUE(no_special.ok());
    EXPECT_EQ(*no_special, Ids(c["ids_no_special"]));
    if (c.contains("ids_plain")) {
      auto plain = tok.Encode(text, true, false);
      ASSERT_TRUE(plain.ok());
      EXPECT_EQ(*plain, Ids(c["ids_plain"]));
    }
    if (c.contains("decoded")) {
      auto decoded = tok.Decode(*ids, /*render_special=*/false);
      ASSERT_TRUE(decoded.ok());
      EXPECT_EQ(*decoded, c["decoded"].get<std::string>());
    }
  }
}

}  // namespace
}  // namespace gantry::engine
