// Parity of BertEmbedder with sentence-transformers for all-MiniLM-L6-v2 on the
// committed fixtures (fixtures/minilm/minilm_embeddings.json, made by
// fixtures/make_minilm_fixtures.py): cosine similarity >= 0.999 for every sentence,
// embedded one at a time and as one batch. Needs the model in $GANTRY_MODELS or
// <source>/models; fails (does not skip) when it is absent.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/bert_embedder.h"

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

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

class MiniLmParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream in(SourceDir() / "tests/engine_model/fixtures/minilm/minilm_embeddings.json");
    if (in) fixture_ = nlohmann::json::parse(in);
  }

  std::unique_ptr<BertEmbedder> Open(int threads) {
    const fs::path dir = ModelsDir() / "all-MiniLM-L6-v2";
    EXPECT_TRUE(fs::exists(dir / "model.safetensors"))
        << "no model at " << dir << ": run `build/gantry models pull` (or set GANTRY_MODELS)";
    BertEmbedderOptions options;
    options.threads = threads;
    auto m = BertEmbedder::Open(dir.string(), options);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? std::move(*m) : nullptr;
  }

  static inline nlohmann::json fixture_;
};

TEST_F(MiniLmParity, MatchesSentenceTransformers) {
  ASSERT_TRUE(fixture_.is_object()) << "missing fixture minilm/minilm_embeddings.json";
  ASSERT_GE(fixture_["cases"].size(), 25u);
  auto model = Open(2);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->dim(), 384);
  EXPECT_EQ(model->max_seq_length(), 256);

  std::vector<std::string> texts;
  std::vector<std::vector<float>> expected;
  bool saw_truncation = false;
  for (const auto& c : fixture_["cases"]) {
    texts.push_back(c["text"]);
    expected.push_back(c["embedding"].get<std::vector<float>>());
    saw_truncation |= c["pieces"].get<int>() > 256;
  }
  EXPECT_TRUE(saw_truncation);

  auto batch = model->Embed(texts);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->size(), texts.size());
  double min_cos = 2;
  std::string worst;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string name = fixture_["cases"][i]["name"];
    SCOPED_TRACE(name);
    ASSERT_EQ((*batch)[i].size(), 384u);
    const double cos = Cosine((*batch)[i], expected[i]);
    EXPECT_GE(cos, 0.999);
    if (cos < min_cos) {
      min_cos = cos;
      worst = name;
    }
    // One at a time: the same vector as in the batch.
    auto single = model->Embed(std::span<const std::string>(&texts[i], 1));
    ASSERT_TRUE(single.ok()) << single.status().ToString();
    EXPECT_GE(Cosine((*single)[0], (*batch)[i]), 0.999999);
  }
  std::printf("MiniLM parity: %zu sentences, min cosine %.9f (1 - cos = %.2e, %s)\n", texts.size(),
              min_cos, 1 - min_cos, worst.c_str());
}

// Not an assertion: prints sentences/s on ~20-word sentences at 1 and 2 threads.
TEST_F(MiniLmParity, Throughput) {
  const std::string base =
      "The quick brown fox jumps over the lazy dog while the farmer watches from the porch "
      "and drinks his morning coffee";
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i) texts.push_back(base + " " + std::to_string(i) + ".");
  for (int threads : {1, 2}) {
    auto model = Open(threads);
    ASSERT_NE(model, nullptr);
    for (int batch : {1, 16}) {
      ASSERT_TRUE(model->Embed(std::span<const std::string>(texts.data(), batch)).ok());
      const auto start = std::chrono::steady_clock::now();
      for (size_t i = 0; i < texts.size(); i += batch) {
        ASSERT_TRUE(model->Embed(std::span<const std::string>(&texts[i], batch)).ok());
      }
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("MiniLM: %d thread(s), batch %2d: %.1f sentences/s\n", threads, batch,
                  texts.size() / s);
    }
  }
}

}  // namespace
}  // namespace gantry::engine
