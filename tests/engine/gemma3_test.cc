// Gemma3Model plumbing on a tiny GGUF the test writes (zero weights, 2 layers): loading,
// shape and type validation, hparams, the forward pass's bounds. Numerics against
// llama.cpp are in tests/engine_model/gemma3_parity_test.cc.
#include "engine/gemma3.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/gguf_writer.h"

namespace gantry::engine {
namespace {

using testing::GgufWriter;
using ::testing::HasSubstr;

constexpr int kEmbd = 64, kHeadDim = 32, kHeads = 2, kFf = 64, kVocab = 16, kLayers = 2;

struct Options {
  std::string arch = "gemma3";
  std::string skip_tensor;
  uint64_t q_rows = kHeads * kHeadDim;
  GgmlType ffn_down_type = GgmlType::kF32;
  uint32_t alignment = 32;
};

std::vector<uint8_t> TinyGemma(const Options& o = {}) {
  GgufWriter w;
  if (o.alignment != 32) w.SetAlignment(o.alignment);
  w.KvString("general.architecture", o.arch)
      .KvU32("gemma3.block_count", kLayers)
      .KvU32("gemma3.embedding_length", kEmbd)
      .KvU32("gemma3.attention.head_count", kHeads)
      .KvU32("gemma3.attention.head_count_kv", 1)
      .KvU32("gemma3.attention.key_length", kHeadDim)
      .KvU32("gemma3.attention.value_length", kHeadDim)
      .KvU32("gemma3.feed_forward_length", kFf)
      .KvU32("gemma3.context_length", 128)
      .KvU32("gemma3.attention.sliding_window", 4)
      .KvF32("gemma3.rope.freq_base", 1e6f);
  auto add = [&](const std::string& name, std::vector<uint64_t> dims, GgmlType t) {
    if (name != o.skip_tensor) w.AddTensor(name, std::move(dims), t);
  };
  add("token_embd.weight", {kEmbd, kVocab}, GgmlType::kF32);
  add("output_norm.weight", {kEmbd}, GgmlType::kF32);
  for (int il = 0; il < kLayers; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    for (const char* n : {"attn_norm", "post_attention_norm", "ffn_norm", "post_ffw_norm"}) {
      add(p + n + ".weight", {kEmbd}, GgmlType::kF32);
    }
    add(p + "attn_q_norm.weight", {kHeadDim}, GgmlType::kF32);
    add(p + "attn_k_norm.weight", {kHeadDim}, GgmlType::kF32);
    add(p + "attn_q.weight", {kEmbd, o.q_rows}, GgmlType::kQ8_0);
    add(p + "attn_k.weight", {kEmbd, kHeadDim}, GgmlType::kQ8_0);
    add(p + "attn_v.weight", {kEmbd, kHeadDim}, GgmlType::kF16);
    add(p + "attn_output.weight", {kHeads * kHeadDim, kEmbd}, GgmlType::kF32);
    add(p + "ffn_gate.weight", {kEmbd, kFf}, GgmlType::kQ5_0);
    add(p + "ffn_up.weight", {kEmbd, kFf}, GgmlType::kQ4_0);
    add(p + "ffn_down.weight", {kFf, kEmbd}, o.ffn_down_type);
  }
  return w.Build();
}

Result<std::shared_ptr<const Gemma3Model>> Load(const std::vector<uint8_t>& image) {
  auto f = GgufFile::Parse(image, "tiny.gguf");
  if (!f.ok()) return f.status();
  return Gemma3Model::Load(*f);
}

TEST(Gemma3Test, LoadsTinyModelAndReadsHparams) {
  const auto image = TinyGemma();
  auto m = Load(image);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const auto& h = (*m)->hparams();
  EXPECT_EQ(h.n_layer, kLayers);
  EXPECT_EQ(h.n_vocab, kVocab);
  EXPECT_EQ(h.sliding_window, 4);
  EXPECT_FLOAT_EQ(h.attn_scale, 1.0f / std::sqrt(static_cast<float>(kHeadDim)));
  EXPECT_FLOAT_EQ(h.rope_base_local, 1e4f);
}

TEST(Gemma3Test, ForwardRunsPastTheSlidingWindowAndChecksBounds) {
  const auto image = TinyGemma();
  auto m = Load(image);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Workers workers(2);
  auto state = (*m)->NewState(16);
  std::vector<float> logits(kVocab, 1.0f);
  std::vector<int32_t> prompt = {1, 2, 3, 4, 5, 6, 7};  // longer than the window of 4
  ASSERT_TRUE((*m)->Forward(prompt, *state, logits, workers).ok());
  EXPECT_EQ(state->n_past(), 7);
  for (float l : logits) EXPECT_EQ(l, 0.0f);  // zero weights: zero logits, no NaN

  std::vector<int32_t> bad = {kVocab};
  EXPECT_EQ((*m)->Forward(bad, *state, logits, workers).code(), StatusCode::kInvalidArgument);
  std::vector<float> short_logits(3);
  EXPECT_EQ((*m)->Forward(prompt, *state, short_logits, workers).code(),
            StatusCode::kInvalidArgument);
  std::vector<int32_t> too_many(10, 1);
  EXPECT_EQ((*m)->Forward(too_many, *state, logits, workers).code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(state->n_past(), 7);
  state->Truncate(2);
  EXPECT_EQ(state->n_past(), 2);
}

TEST(Gemma3Test, ClearErrorsForWrongFiles) {
  Options arch;
  arch.arch = "llama";
  auto r = Load(TinyGemma(arch));
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_THAT(r.status().message(), HasSubstr("architecture 'llama' is not supported"));

  Options missing;
  missing.skip_tensor = "blk.1.ffn_up.weight";
  r = Load(TinyGemma(missing));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("blk.1.ffn_up.weight"));

  Options shape;
  shape.q_rows = 8;
  r = Load(TinyGemma(shape));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("attn_q.weight"));

  Options quant;
  quant.ffn_down_type = GgmlType::kQ2_K;  // 64 columns: also not a multiple of 256
  r = Load(TinyGemma(quant));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("ffn_down.weight"));
}

TEST(Gemma3Test, MisalignedTensorDataIsRejected) {
  Options odd;
  odd.alignment = 1;
  const auto image = TinyGemma(odd);
  auto m = Load(image);
  // With alignment 1 the tensors follow each other unpadded, and the header's length
  // puts the first one on an odd offset (the image itself is heap-allocated, 16-aligned).
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("aligned"));
}

}  // namespace
}  // namespace gantry::engine
