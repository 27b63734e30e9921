// Gemma3Model plumbing on a tiny GGUF the test writes (zero weights, 2 layers): loading,
// shape and type validation, hparams, the forward pass's bounds. Numerics against
// llama.cpp are in tests/engine_model/gemma3_parity_test.cc.
#include "engine/gemma3.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/gguf_writer.h"
#include "engine/tiny_gemma.h"

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

// Logits of `tokens` run one at a time through a fresh state (the reference).
std::vector<std::vector<float>> OneByOne(const Gemma3Model& m, const std::vector<int32_t>& tokens,
                                         Workers& workers) {
  auto state = m.NewState(256);
  std::vector<std::vector<float>> out;
  for (int32_t t : tokens) {
    std::vector<float> logits(m.hparams().n_vocab);
    EXPECT_TRUE(m.Forward({&t, 1}, *state, logits, workers).ok());
    out.push_back(std::move(logits));
  }
  return out;
}

TEST(Gemma3BatchTest, BatchedSequencesGiveBitIdenticalLogits) {
  auto tiny = testing::TinyRandomGemma::Build();
  ASSERT_TRUE(tiny.model);
  const Gemma3Model& m = *tiny.model;
  const int V = m.hparams().n_vocab;
  Workers workers(2);
  // Three sequences, longer than the sliding window, run alone token by token...
  const std::vector<std::vector<int32_t>> seqs = {
      {2, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17},
      {2, 20, 21, 22},
      {2, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18}};
  std::vector<std::vector<std::vector<float>>> want;
  for (const auto& s : seqs) want.push_back(OneByOne(m, s, workers));
  // Sanity: the random model's logits differ between positions.
  ASSERT_NE(want[0][0], want[0][1]);

  // ... and together: a prompt chunk of each, then one token of each per step, in one
  // ForwardBatch per step, with uneven chunk sizes.
  std::vector<std::unique_ptr<Gemma3State>> states;
  for (size_t i = 0; i < seqs.size(); ++i) states.push_back(m.NewState(256));
  Gemma3Scratch scratch;
  std::vector<size_t> done(seqs.size(), 0);
  std::vector<std::vector<float>> logits(seqs.size(), std::vector<float>(V));
  const std::vector<size_t> first_chunk = {5, 1, 9};
  for (int step = 0;; ++step) {
    std::vector<Gemma3BatchItem> items;
    std::vector<size_t> which;
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (done[i] == seqs[i].size()) continue;
      const size_t n = step == 0 ? first_chunk[i] : 1;
      items.push_back({states[i].get(), std::span(seqs[i]).subspan(done[i], n), logits[i]});
      which.push_back(i);
    }
    if (items.empty()) break;
    ASSERT_TRUE(m.ForwardBatch(items, scratch, workers).ok());
    for (size_t k = 0; k < which.size(); ++k) {
      const size_t i = which[k];
      done[i] += items[k].tokens.size();
      EXPECT_EQ(states[i]->n_past(), static_cast<int>(done[i]));
      // Bit-identical, not just close: batching must not change a sequence's output.
      EXPECT_EQ(0, std::memcmp(logits[i].data(), want[i][done[i] - 1].data(), V * sizeof(float)))
          << "sequence " << i << " position " << done[i] - 1;
    }
  }
}

TEST(Gemma3BatchTest, InvalidBatchesChangeNothing) {
  auto tiny = testing::TinyRandomGemma::Build();
  ASSERT_TRUE(tiny.model);
  const Gemma3Model& m = *tiny.model;
  Workers workers(1);
  Gemma3Scratch scratch;
  auto a = m.NewState(8);
  auto b = m.NewState(8);
  std::vector<int32_t> ok = {2, 7, 8};
  std::vector<int32_t> bad = {2, 99};
  std::vector<float> logits(m.hparams().n_vocab);
  std::vector<float> short_logits(3);

  auto run = [&](std::vector<Gemma3BatchItem> items) {
    return m.ForwardBatch(items, scratch, workers);
  };
  Status s = run({{a.get(), ok, logits}, {b.get(), bad, {}}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("batch item 1"));
  EXPECT_EQ(run({{a.get(), ok, {}}, {a.get(), ok, {}}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(run({{nullptr, ok, {}}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(run({{a.get(), {}, {}}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(run({{a.get(), ok, short_logits}}).code(), StatusCode::kInvalidArgument);
  std::vector<int32_t> nine(9, 7);
  EXPECT_EQ(run({{b.get(), ok, {}}, {a.get(), nine, {}}}).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(a->n_past(), 0);
  EXPECT_EQ(b->n_past(), 0);
  EXPECT_EQ(a->kv_bytes(), 0u);  // nothing reserved by a failed batch
  ASSERT_TRUE(run({{a.get(), ok, logits}, {b.get(), ok, {}}}).ok());
  EXPECT_EQ(a->n_past(), 3);
  EXPECT_EQ(b->n_past(), 3);
  // The KV cache grows with use, bounded by n_ctx.
  EXPECT_GT(a->kv_bytes(), 0u);
  EXPECT_LE(a->kv_bytes(), 8 * m.KvBytesPerToken());
}

}  // namespace
}  // namespace gantry::engine
