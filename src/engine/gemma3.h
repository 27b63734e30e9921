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
class Gemma3Scratch;

// One sequence's share of a batched forward pass: `tokens` run at positions
// state->n_past() ... and are appended to its KV cache. When `logits` is not empty
// (n_vocab floats) it receives the logits of the item's last token.
struct Gemma3BatchItem {
  Gemma3State* state = nullptr;
  std::span<const int32_t> tokens;
  std::span<float> logits;
};

class Gemma3Model final {
 public:
  // Validates every tensor's presence, shape and type against the hparams.
  static Result<std::shared_ptr<const Gemma3Model>> Load(std::shared_ptr<const GgufFile> file);

  const Gemma3Hparams& hparams() const { return hp_; }
  const GgufFile& file() const { return *file_; }
  // KV cache bytes one position of one sequence takes (keys and values, every layer).
  size_t KvBytesPerToken() const {
    return static_cast<size_t>(hp_.n_layer) * hp_.n_head_kv * hp_.head_dim * 2 * sizeof(uint16_t);
  }

  // A fresh sequence state able to hold `n_ctx` positions (capped at n_ctx_train). The KV
  // cache grows as positions are used, so a state costs KvBytesPerToken() per position
  // it has actually held (rounded up to the next doubling), never more than n_ctx's worth.
  std::unique_ptr<Gemma3State> NewState(int n_ctx) const;

  // Runs every item's tokens in one pass: the weight matrices are read once per pass
  // and multiplied with all the tokens of the batch (prompt chunks and single decode
  // tokens of several sequences alike), attention runs per token over its own
  // sequence's cache. Each token's results are bit-identical to running it alone, so a
  // sequence's output does not depend on what it was batched with.
  // Errors (nothing is run, no state changes): kInvalidArgument for an item with no
  // state, a state used twice, no tokens, a logits span of the wrong size, or a token
  // id outside the vocabulary; kResourceExhausted when an item would overflow its
  // state's n_ctx.
  Status ForwardBatch(std::span<const Gemma3BatchItem> items, Gemma3Scratch& scratch,
                      Workers& workers) const;

  // One sequence: `tokens` (any number; run in chunks of up to 256) at positions
  // state.n_past() ..., with scratch kept in the state. When `logits` is not empty
  // (n_vocab floats) it receives the last token's logits. Errors as ForwardBatch.
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
  // The checks of one sequence's share of a pass: logits size, context room, token ids.
  Status CheckItem(const Gemma3State& state, std::span<const int32_t> tokens,
                   std::span<const float> logits) const;
  // y[t * w.rows + r] = row r of w . x[t * w.cols ...] for t < tokens.
  void MatMul(const WeightMatrix& w, const float* x, int tokens, float* y, Gemma3Scratch& sc,
              Workers& workers) const;
  // Attention of every head of every batch token, into sc.attn_.
  void Attention(int il, int tokens, Gemma3Scratch& sc, Workers& workers) const;

  std::shared_ptr<const GgufFile> file_;
  Gemma3Hparams hp_;
  WeightMatrix tok_embd_;
  const float* output_norm_ = nullptr;
  std::vector<Layer> layers_;
};

// Working memory of a forward pass, sized on demand for the largest batch seen.
// One pass at a time.
class Gemma3Scratch final {
 public:
  Gemma3Scratch() = default;
  size_t bytes() const;

 private:
  friend class Gemma3Model;
  struct ThreadScratch {
    std::vector<float> scores;
    std::vector<uint16_t> q16;  // one query head as F16
    std::vector<uint16_t> p16;  // softmax weights as F16
  };
  // Per batch token: its sequence and position.
  std::vector<Gemma3State*> row_state_;
  std::vector<int> row_pos_;
  std::vector<float> x_, xn_, q_, k_, v_, attn_, o_, gate_, up_, logits_;
  std::vector<uint8_t> xq_;    // quantized activations, one row per token
  std::vector<uint16_t> g16_;  // one row of FFN gate values as F16 (the GELU table index)
  std::vector<ThreadScratch> threads_;
};

class Gemma3State final {
 public:
  int n_past() const { return n_past_; }
  int n_ctx() const { return n_ctx_; }
  // Forgets positions >= n (n <= n_past): the next Forward continues from n.
  void Truncate(int n) { n_past_ = std::min(n, n_past_); }
  // Bytes the KV cache holds now.
  size_t kv_bytes() const;

 private:
  friend class Gemma3Model;
  // Grows every layer's cache to hold at least `positions` positions (<= n_ctx).
  void Reserve(int positions);

  int n_ctx_ = 0;
  int n_past_ = 0;
  int kv_dim_ = 0;
  int capacity_ = 0;  // positions the caches hold now
  // Per layer: [pos][kv_dim], F16 like llama.cpp's default cache type.
  std::vector<std::vector<uint16_t>> k_, v_;
  std::unique_ptr<Gemma3Scratch> scratch_;  // for Forward
};

}  // namespace gantry::engine
