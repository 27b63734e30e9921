// Gemma 3 (text) decoder on CPU, from a GGUF file as llama.cpp writes it.
//
// The graph follows llama.cpp's llm_build_gemma3 (see docs/engine.md): embeddings
// scaled by sqrt(n_embd), per-layer RMSNorm with the +1 already folded into the GGUF
// weights, QK-norm, NEOX RoPE (base 1e6 on global layers, 1e4 on sliding-window
// layers), a 5:1 local/global attention pattern with a causal sliding window,
// GELU(tanh)-gated FFN, post-attention and post-FFN norms, tied LM head. Numerics
// mirror ggml's CPU path where that is cheap (activations quantized to Q8_0/Q8_K for
// the weight dots, an F16 KV cache, q and softmax weights rounded to F16 for the
// attention products, GELU through F16), so logits stay close to llama.cpp's.
//
// Gemma3Model holds the (memory-mapped) weights and is immutable: share it across
// threads. Gemma3State is one sequence's KV cache and scratch: one thread at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/gguf.h"
#include "engine/workers.h"

namespace gantry::engine {

struct Gemma3Hparams {
  int n_layer = 0;
  int n_embd = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  int n_ff = 0;
  int n_vocab = 0;
  int n_ctx_train = 0;
  float rms_eps = 1e-6f;
  int sliding_window = 0;  // 0: every layer is global
  int swa_period = 6;      // layer il is global when il % swa_period == swa_period - 1
  float rope_base_global = 1e6f;
  float rope_base_local = 1e4f;
  float attn_scale = 0.0625f;

  bool IsGlobal(int il) const { return sliding_window == 0 || il % swa_period == swa_period - 1; }
  // Reads the gemma3.* keys; kInvalidArgument naming the key when one is missing or
  // out of range, kUnimplemented when the architecture is not gemma3.
  static Result<Gemma3Hparams> FromGguf(const GgufFile& file);
};

// A weight matrix: `rows` rows of `cols` elements (GGUF ne1 x ne0), type `type`.
struct WeightMatrix {
  GgmlType type = GgmlType::kF32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_bytes = 0;
};

class Gemma3State;

class Gemma3Model final {
 public:
  // Validates every tensor's presence, shape and type against the hparams.
  static Result<std::shared_ptr<const Gemma3Model>> Load(std::shared_ptr<const GgufFile> file);

  const Gemma3Hparams& hparams() const { return hp_; }
  const GgufFile& file() const { return *file_; }

  // A fresh sequence state able to hold `n_ctx` positions (capped at n_ctx_train).
  std::unique_ptr<Gemma3State> NewState(int n_ctx) const;

  // Runs `tokens` at positions state.n_past() ... and appends them to the KV cache.
  // When `logits` is not empty (n_vocab floats) it receives the last token's logits.
  // kInvalidArgument for a token id outside the vocabulary; kResourceExhausted when
  // the context would overflow.
  Status Forward(std::span<const int32_t> tokens, Gemma3State& state, std::span<float> logits,
                 Workers& workers) const;

 private:
  struct Layer {
    const float* attn_norm;
    const float* q_norm;
    const float* k_norm;
    const float* post_attn_norm;
    const float* ffn_norm;
    const float* post_ffw_norm;
    WeightMatrix wq, wk, wv, wo, gate, up, down;
  };

  Gemma3Model() = default;
  void Step(int32_t token, Gemma3State& s, bool want_logits, std::span<float> logits,
            Workers& workers) const;
  void MatVec(const WeightMatrix& w, const float* x, float* y, Gemma3State& s,
              Workers& workers) const;
  void Attention(int il, int pos, Gemma3State& s) const;

  std::shared_ptr<const GgufFile> file_;
  Gemma3Hparams hp_;
  WeightMatrix tok_embd_;
  const float* output_norm_ = nullptr;
  std::vector<Layer> layers_;
};

class Gemma3State final {
 public:
  int n_past() const { return n_past_; }
  int n_ctx() const { return n_ctx_; }
  // Forgets positions >= n (n <= n_past): the next Forward continues from n.
  void Truncate(int n) { n_past_ = std::min(n, n_past_); }
  size_t kv_bytes() const { return (k_.size() + v_.size()) * sizeof(uint16_t); }

 private:
  friend class Gemma3Model;
  int n_ctx_ = 0;
  int n_past_ = 0;
  int kv_dim_ = 0;
  // [layer][pos][kv_dim], F16 like llama.cpp's default cache type.
  std::vector<uint16_t> k_, v_;
  // Scratch.
  std::vector<float> x_, xn_, q_, k_cur_, v_cur_, attn_, o_, gate_, up_, scores_;
  std::vector<uint8_t> xq_;    // quantized activations
  std::vector<uint16_t> q16_;  // one query head as F16
  std::vector<float> vrow_;    // one value row as F32
};

}  // namespace gantry::engine
