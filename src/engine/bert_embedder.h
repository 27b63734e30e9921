// BertEmbedder: sentence embeddings from a BERT encoder in sentence-transformers'
// layout (all-MiniLM-L6-v2), computed on the CPU in F32.
//
// The model directory holds model.safetensors (F32 weights in HF BertModel names, with
// or without a "bert." prefix), config.json (hidden_size, num_hidden_layers,
// num_attention_heads, intermediate_size, max_position_embeddings, vocab_size,
// type_vocab_size, layer_norm_eps, hidden_act "gelu") and vocab.txt; optionally
// sentence_bert_config.json (max_seq_length) and 1_Pooling/config.json (only mean
// pooling is supported).
//
// Embed follows sentence-transformers' Transformer -> Pooling(mean) -> Normalize:
//   1. WordPiece (HF BertTokenizer, uncased), [CLS] ... [SEP], truncated to
//      max_seq_length pieces counting both;
//   2. post-LN BERT: LN(word + position + token_type[0]), then per layer
//      x = LN(x + SelfAttention(x)), x = LN(x + W2 gelu_erf(W1 x));
//   3. mean over the sequence's tokens, then x / max(|x|, 1e-12).
// The sequences of a batch are packed back to back (no padding): the linear layers run
// as one token-matrix x weight product over every token of the batch, and attention
// runs per sequence, so a sentence embeds the same alone or next to longer ones.
//
// Errors: Open gives kNotFound for a missing file, kInvalidArgument naming the file or
// tensor for a bad config, a missing tensor, a wrong shape or a dtype other than F32,
// and kUnimplemented for a pooling other than mean or an activation other than gelu.
// Embed gives kInvalidArgument naming the text's index for text that cannot be
// tokenized (invalid UTF-8).
//
// Thread safety: Embed may be called from any thread; calls are serialized (each call
// uses the whole thread team). The weights are copied out of the file at Open.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/wordpiece_tokenizer.h"
#include "engine/workers.h"

namespace gantry::engine {

struct BertEmbedderOptions {
  int threads = 1;
  // Longest input in word pieces, [CLS] and [SEP] included; 0: sentence_bert_config.json's
  // max_seq_length, else 256. Capped by max_position_embeddings.
  int max_seq_length = 0;
  // The most tokens run through the encoder at once; a larger batch runs in several
  // passes (bounds the scratch memory: about 14 KB per token for MiniLM).
  int max_batch_tokens = 4096;

  // kInvalidArgument for threads < 1, max_seq_length < 0 or == 1, 2, or
  // max_batch_tokens < max_seq_length.
  Status Validate() const;
};

struct BertConfig {
  int vocab_size = 0;
  int hidden = 0;
  int layers = 0;
  int heads = 0;
  int intermediate = 0;
  int max_positions = 0;
  int type_vocab_size = 0;
  float layer_norm_eps = 1e-12f;
};

class BertEmbedder final {
 public:
  static Result<std::unique_ptr<BertEmbedder>> Open(const std::string& model_dir,
                                                    BertEmbedderOptions options);
  ~BertEmbedder();

  // One L2-normalized vector of dim() floats per text, in order. An empty span gives an
  // empty result; an empty text embeds [CLS] [SEP].
  Result<std::vector<std::vector<float>>> Embed(std::span<const std::string> texts);

  int dim() const { return config_.hidden; }
  int max_seq_length() const { return max_seq_length_; }
  const BertConfig& config() const { return config_; }
  const WordPieceTokenizer& tokenizer() const { return *tokenizer_; }

 private:
  struct Linear {
    std::vector<float> w;  // [out, in] row-major
    std::vector<float> b;  // [out]
    int out = 0;
    int in = 0;
  };
  struct Norm {
    std::vector<float> w;
    std::vector<float> b;
  };
  struct Layer {
    Linear qkv;  // query, key and value stacked: [3 * hidden, hidden]
    Linear attn_out;
    Norm attn_norm;
    Linear up;
    Linear down;
    Norm out_norm;
  };
  BertEmbedder() = default;
  friend struct BertLoader;

  // Runs the encoder over `lengths.size()` packed sequences of token `ids` and writes
  // one pooled, normalized vector per sequence to `out`.
  void Encode(std::span<const int32_t> ids, std::span<const int> lengths,
              std::vector<std::vector<float>>& out);
  // y[t, o] = x[t, :] . w[o, :] + b[o] for t < tokens, then GELU when `gelu`.
  void MatMul(const Linear& lin, const float* x, int tokens, float* y, bool gelu);
  void Attention(const float* qkv, std::span<const int> lengths, float* out);
  void AddNorm(const float* residual, const Norm& norm, int tokens, float* x) const;

  BertConfig config_;
  int max_seq_length_ = 256;
  int max_batch_tokens_ = 4096;
  std::unique_ptr<WordPieceTokenizer> tokenizer_;
  std::vector<float> word_embd_;   // [vocab, hidden]
  std::vector<float> pos_embd_;    // [max_positions, hidden]
  std::vector<float> type0_embd_;  // token type 0: [hidden]
  Norm embd_norm_;
  std::vector<Layer> layers_;
  std::unique_ptr<Workers> workers_;
  std::mutex mu_;  // serializes Embed
};

}  // namespace gantry::engine
