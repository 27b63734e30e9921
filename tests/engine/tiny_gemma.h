// Test-only: a tiny Gemma 3 model with seeded random weights (so logits differ per
// token and position) and a matching 32-token SPM vocabulary, built in memory.
//
//   auto tiny = TinyRandomGemma::Build();   // model + tokenizer
//   tiny.model->Forward(...);
//
// Vocabulary: 0 <pad>, 1 <eos>, 2 <bos>, 3 <start_of_turn>, 4 <end_of_turn> (control),
// 5 "▁" and the letters a..z as normal tokens (ids 6..31). Weights mix F32, F16 and
// Q8_0 matrices so batched products go through several kernels.
#pragma once

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/gemma3.h"
#include "engine/gguf_writer.h"
#include "engine/quant.h"
#include "engine/spm_tokenizer.h"

namespace gantry::engine::testing {

struct TinyRandomGemma {
  static constexpr int kEmbd = 64, kHeadDim = 32, kHeads = 2, kFf = 96, kLayers = 3;
  static constexpr int kVocab = 32, kCtx = 512, kWindow = 8;

  std::vector<uint8_t> image;
  std::shared_ptr<const Gemma3Model> model;
  std::shared_ptr<const SpmTokenizer> tokenizer;

  static TinyRandomGemma Build(uint32_t seed = 7) {
    TinyRandomGemma t;
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    auto f32 = [&](size_t n, float scale, float offset = 0.0f) {
      std::vector<uint8_t> out(n * 4);
      for (size_t i = 0; i < n; ++i) {
        const float v = offset + scale * normal(rng);
        std::memcpy(out.data() + i * 4, &v, 4);
      }
      return out;
    };
    auto f16 = [&](size_t n, float scale) {
      std::vector<uint8_t> out(n * 2);
      for (size_t i = 0; i < n; ++i) {
        const uint16_t h = Fp32ToFp16(scale * normal(rng));
        std::memcpy(out.data() + i * 2, &h, 2);
      }
      return out;
    };
    auto q8 = [&](size_t n, float scale) {
      std::vector<float> v(n);
      for (auto& x : v) x = scale * normal(rng);
      std::vector<uint8_t> out(static_cast<size_t>(RowBytes(GgmlType::kQ8_0, n)));
      QuantizeRowQ8_0(v.data(), out.data(), static_cast<int64_t>(n));
      return out;
    };
    GgufWriter w;
    w.KvString("general.architecture", "gemma3")
        .KvU32("gemma3.block_count", kLayers)
        .KvU32("gemma3.embedding_length", kEmbd)
        .KvU32("gemma3.attention.head_count", kHeads)
        .KvU32("gemma3.attention.head_count_kv", 1)
        .KvU32("gemma3.attention.key_length", kHeadDim)
        .KvU32("gemma3.attention.value_length", kHeadDim)
        .KvU32("gemma3.feed_forward_length", kFf)
        .KvU32("gemma3.context_length", kCtx)
        .KvU32("gemma3.attention.sliding_window", kWindow)
        .KvU32("gemma3.attention.sliding_window_pattern", 3)
        .KvF32("gemma3.rope.freq_base", 1e6f);
    const uint32_t F32 = static_cast<uint32_t>(GgmlType::kF32);
    const uint32_t F16 = static_cast<uint32_t>(GgmlType::kF16);
    const uint32_t Q8 = static_cast<uint32_t>(GgmlType::kQ8_0);
    w.AddTensorRaw("token_embd.weight", {kEmbd, kVocab}, Q8, q8(kEmbd * kVocab, 0.12f));
    w.AddTensorRaw("output_norm.weight", {kEmbd}, F32, f32(kEmbd, 0.1f, 1.0f));
    for (int il = 0; il < kLayers; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      for (const char* n : {"attn_norm", "post_attention_norm", "ffn_norm", "post_ffw_norm"}) {
        w.AddTensorRaw(p + n + ".weight", {kEmbd}, F32, f32(kEmbd, 0.1f, 1.0f));
      }
      w.AddTensorRaw(p + "attn_q_norm.weight", {kHeadDim}, F32, f32(kHeadDim, 0.1f, 1.0f));
      w.AddTensorRaw(p + "attn_k_norm.weight", {kHeadDim}, F32, f32(kHeadDim, 0.1f, 1.0f));
      const float s = 0.15f;
      w.AddTensorRaw(p + "attn_q.weight", {kEmbd, kHeads * kHeadDim}, Q8,
                     q8(kEmbd * kHeads * kHeadDim, s));
      w.AddTensorRaw(p + "attn_k.weight", {kEmbd, kHeadDim}, F16, f16(kEmbd * kHeadDim, s));
      w.AddTensorRaw(p + "attn_v.weight", {kEmbd, kHeadDim}, F32, f32(kEmbd * kHeadDim, s));
      w.AddTensorRaw(p + "attn_output.weight", {kHeads * kHeadDim, kEmbd}, Q8,
                     q8(kHeads * kHeadDim * kEmbd, s));
      w.AddTensorRaw(p + "ffn_gate.weight", {kEmbd, kFf}, Q8, q8(kEmbd * kFf, s));
      w.AddTensorRaw(p + "ffn_up.weight", {kEmbd, kFf}, F16, f16(kEmbd * kFf, s));
      w.AddTensorRaw(p + "ffn_down.weight", {kFf, kEmbd}, Q8, q8(kFf * kEmbd, s));
    }
    t.image = w.Build();
    auto file = GgufFile::Parse(t.image, "tiny-random.gguf");
    if (!file.ok()) return t;
    auto model = Gemma3Model::Load(*file);
    if (model.ok()) t.model = *model;

    std::vector<std::string> tokens = {"<pad>",           "<eos>",         "<bos>",
                                       "<start_of_turn>", "<end_of_turn>", "\xE2\x96\x81"};
    std::vector<SpmTokenType> types(5, SpmTokenType::kControl);
    types.push_back(SpmTokenType::kNormal);
    for (char c = 'a'; c <= 'z'; ++c) {
      tokens.push_back(std::string(1, c));
      types.push_back(SpmTokenType::kNormal);
    }
    std::vector<float> scores(tokens.size(), 0.0f);
    SpmOptions o;
    o.bos_id = 2;
    o.eos_id = 1;
    o.pad_id = 0;
    o.unk_id = 0;
    o.add_space_prefix = false;
    auto tok = SpmTokenizer::Create(tokens, scores, types, o);
    if (tok.ok()) t.tokenizer = std::move(*tok);
    return t;
  }
};

}  // namespace gantry::engine::testing
