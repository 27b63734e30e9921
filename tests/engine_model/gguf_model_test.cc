// Reads the real default models (label "model"). The files come from
// `build/gantry models pull`; a missing file is a failure, not a skip, so CI cannot
// pass without having checked them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "engine/gguf.h"
#include "engine/safetensors.h"

namespace gantry::engine {
namespace {

// $GANTRY_MODELS, else $GANTRY_SOURCE_DIR/models, else the first models/ folder holding
// the file walking up from the working directory (a plain run from build/tests).
std::string ModelPath(const std::string& relative) {
  if (const char* env = std::getenv("GANTRY_MODELS"); env != nullptr && *env != '\0') {
    return (std::filesystem::path(env) / relative).string();
  }
  if (const char* src = std::getenv("GANTRY_SOURCE_DIR"); src != nullptr && *src != '\0') {
    return (std::filesystem::path(src) / "models" / relative).string();
  }
  std::error_code ec;
  for (auto dir = std::filesystem::current_path(ec); !ec && !dir.empty(); dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / "models" / relative)) {
      return (dir / "models" / relative).string();
    }
    if (dir == dir.parent_path()) break;
  }
  return (std::filesystem::path("models") / relative).string();
}

#define REQUIRE_MODEL(path)                                                              \
  ASSERT_TRUE(std::filesystem::exists(path))                                             \
      << path << " is missing: run `build/gantry models pull` (or set GANTRY_MODELS to " \
      << "the folder holding the models)"

TEST(GgufModelTest, Gemma3_270mQ4KM) {
  const std::string path = ModelPath("gemma-3-270m-q4_k_m.gguf");
  REQUIRE_MODEL(path);
  auto r = GgufFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& f = **r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.tensors().size(), 236u);
  EXPECT_EQ(*f.GetString("general.architecture"), "gemma3");
  EXPECT_EQ(*f.GetInt("gemma3.block_count"), 18);
  EXPECT_EQ(*f.GetInt("gemma3.embedding_length"), 640);

  std::map<std::string, int> counts;
  for (const TensorInfo& t : f.tensors()) ++counts[GgmlTypeName(t.type)];
  EXPECT_EQ(counts, (std::map<std::string, int>{
                        {"F32", 109}, {"Q5_0", 81}, {"Q4_K", 27}, {"Q8_0", 10}, {"Q6_K", 9}}));

  auto embd = f.Tensor("token_embd.weight");
  ASSERT_TRUE(embd.ok()) << embd.status().ToString();
  EXPECT_EQ((*embd)->type, GgmlType::kQ8_0);
  EXPECT_EQ((*embd)->dims, (std::vector<uint64_t>{640, 262144}));
  EXPECT_EQ((*embd)->n_bytes, 640ull * 262144 / 32 * 34);

  auto tokens = f.GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  EXPECT_EQ(tokens->size(), 262144u);
}

TEST(SafetensorsModelTest, AllMiniLmL6V2) {
  const std::string path = ModelPath("all-MiniLM-L6-v2/model.safetensors");
  REQUIRE_MODEL(path);
  auto r = SafetensorsFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const SafetensorsFile& f = **r;
  EXPECT_EQ(f.tensors().size(), 104u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  struct Want {
    std::string name;
    SafetensorsDtype dtype;
    std::vector<uint64_t> shape;
  };
  const Want wants[] = {
      {"embeddings.word_embeddings.weight", SafetensorsDtype::kF32, {30522, 384}},
      {"embeddings.position_ids", SafetensorsDtype::kI64, {1, 512}},
      {"encoder.layer.0.attention.self.query.weight", SafetensorsDtype::kF32, {384, 384}},
      {"encoder.layer.5.intermediate.dense.weight", SafetensorsDtype::kF32, {1536, 384}},
  };
  for (const Want& w : wants) {
    auto t = f.Tensor(w.name);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ((*t)->dtype, w.dtype) << w.name;
    EXPECT_EQ((*t)->shape, w.shape) << w.name;
  }
}

}  // namespace
}  // namespace gantry::engine
