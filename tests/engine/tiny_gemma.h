// Test-only: a tiny Gemma 3 model with seeded random weights (so logits differ per
// token and position) and a matching 33-token SPM vocabulary, built in memory.
//
//   auto tiny = TinyRandomGemma::Build();   // model + tokenizer
//   tiny.model->Forward(...);
//   std::string path = tiny.WriteTempFile();  // a complete .gguf (tokenizer included)
//
// Vocabulary: 0 <pad>, 1 <eos>, 2 <bos>, 3 <start_of_turn>, 4 <end_of_turn> (control),
// 5 "▁" and the letters a..z as normal tokens (ids 6..31), 32 <0x0A> (the byte token
// for "\n", so Gemma chat prompts of lowercase ASCII tokenize without unknowns). The
// image carries the tokenizer.ggml.* metadata too, so SpmTokenizer::FromGguf and
// LocalChatModel::Create work on it. Weights mix F32, F16 and Q8_0 matrices so batched
// products go through several kernels. The newline token's embedding row comes from its
// own random stream: every other weight is the same as in the 32-token version.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gemma3.h"
#include "engine/gguf_writer.h"
#include "engine/quant.h"
#include "engine/spm_tokenizer.h"

namespace gantry::engine::testing {

struct TinyRandomGemma {
  static constexpr int kEmbd = 64, kHeadDim = 32, kHeads = 2, kFf = 96, kLayers = 3;
  static constexpr int kVocab = 33, kCtx = 512, kWindow = 8;
  static constexpr int32_t kPad = 0, kEos = 1, kBos = 2, kStartOfTurn = 3, kEndOfTurn = 4;
  static constexpr int32_t kNewline = 32;  // <0x0A>

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
    // The vocabulary, written into the image and used for `tokenizer` below.
    std::vector<std::string> tokens = {"<pad>",           "<eos>",         "<bos>",
                                       "<start_of_turn>", "<end_of_turn>", "\xE2\x96\x81"};
    std::vector<SpmTokenType> types(5, SpmTokenType::kControl);
    types.push_back(SpmTokenType::kNormal);
    for (char c = 'a'; c <= 'z'; ++c) {
      tokens.push_back(std::string(1, c));
      types.push_back(SpmTokenType::kNormal);
    }
    tokens.push_back("<0x0A>");
    types.push_back(SpmTokenType::kByte);
    std::vector<float> scores(tokens.size(), 0.0f);
    std::vector<int32_t> type_ids;
    for (SpmTokenType ty : types) type_ids.push_back(static_cast<int32_t>(ty));
    SpmOptions o;
    o.bos_id = kBos;
    o.eos_id = kEos;
    o.pad_id = kPad;
    o.unk_id = kPad;
    o.add_space_prefix = false;

    GgufWriter w;
    w.KvString("general.architecture", "gemma3")
        .KvString("general.name", "tiny-random-gemma3")
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
        .KvF32("gemma3.rope.freq_base", 1e6f)
        .KvString("tokenizer.ggml.model", "llama")
        .KvStringArray("tokenizer.ggml.tokens", tokens)
        .KvF32Array("tokenizer.ggml.scores", scores)
        .KvI32Array("tokenizer.ggml.token_type", type_ids)
        .KvU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(o.bos_id))
        .KvU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(o.eos_id))
        .KvU32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(o.unk_id))
        .KvU32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(o.pad_id))
        .KvBool("tokenizer.ggml.add_bos_token", o.add_bos)
        .KvBool("tokenizer.ggml.add_eos_token", o.add_eos)
        .KvBool("tokenizer.ggml.add_space_prefix", o.add_space_prefix);
    const uint32_t F32 = static_cast<uint32_t>(GgmlType::kF32);
    const uint32_t F16 = static_cast<uint32_t>(GgmlType::kF16);
    const uint32_t Q8 = static_cast<uint32_t>(GgmlType::kQ8_0);
    {
      // Rows 0..31 from the main stream (as when the vocabulary had 32 tokens), the
      // newline row from its own, so that every later weight stays the same. Q8_0 blocks
      // (32 values) never straddle rows of 64, so quantizing all rows at once is the same.
      constexpr int kOldVocab = 32;
      std::vector<float> v(static_cast<size_t>(kEmbd) * kVocab);
      for (size_t i = 0; i < static_cast<size_t>(kEmbd) * kOldVocab; ++i) {
        v[i] = 0.12f * normal(rng);
      }
      std::mt19937 extra_rng(seed ^ 0x9e3779b9u);
      std::normal_distribution<float> extra_normal(0.0f, 1.0f);
      for (size_t i = static_cast<size_t>(kEmbd) * kOldVocab; i < v.size(); ++i) {
        v[i] = 0.12f * extra_normal(extra_rng);
      }
      std::vector<uint8_t> out(
          static_cast<size_t>(RowBytes(GgmlType::kQ8_0, static_cast<int64_t>(v.size()))));
      QuantizeRowQ8_0(v.data(), out.data(), static_cast<int64_t>(v.size()));
      w.AddTensorRaw("token_embd.weight", {kEmbd, kVocab}, Q8, std::move(out));
    }
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

    auto tok = SpmTokenizer::Create(tokens, scores, types, o);
    if (tok.ok()) t.tokenizer = std::move(*tok);
    return t;
  }

  // Writes `image` to a new file under ::testing::TempDir() and returns its path ("" when
  // it cannot be written). Names are unique per process and call, so tests running in
  // parallel do not collide; the caller removes the file.
  std::string WriteTempFile(std::string_view stem = "tiny-random-gemma") const {
    static std::atomic<int> counter{0};
    const std::string path = ::testing::TempDir() + std::string(stem) + "-" +
                             std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".gguf";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(image.data()),
              static_cast<std::streamsize>(image.size()));
    out.close();
    return out ? path : std::string();
  }
};

}  // namespace gantry::engine::testing
