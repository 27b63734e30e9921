#include "engine/gemma3.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "engine/quant.h"

namespace gantry::engine {
namespace {

// GELU(tanh) as ggml computes it with GGML_GELU_FP16: through a table indexed by the
// F16 bits of x, holding the F16 results (stored here as the floats they are).
const std::vector<float>& GeluTable() {
  static const std::vector<float> table = [] {
    std::vector<float> t(1 << 16);
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    constexpr float kCoef = 0.044715f;
    for (uint32_t i = 0; i < t.size(); ++i) {
      const float x = Fp16ToFp32(static_cast<uint16_t>(i));
      const float y = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoef * x * x)));
      t[i] = Fp16ToFp32(Fp32ToFp16(y));
    }
    return t;
  }();
  return table;
}

void RmsNorm(const float* x, const float* w, float* y, int n, float eps) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / n);
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

// NEOX rotation of one head (dims i and i + n/2 rotate together), with ggml's
// incremental theta so the angles match llama.cpp bit for bit.
void RopeNeox(float* x, int n, int pos, float base) {
  const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n));
  float theta = static_cast<float>(pos);
  const int half = n / 2;
  for (int i = 0; i < half; ++i) {
    const float c = std::cos(theta);
    const float s = std::sin(theta);
    const float x0 = x[i];
    const float x1 = x[i + half];
    x[i] = x0 * c - x1 * s;
    x[i + half] = x0 * s + x1 * c;
    theta *= theta_scale;
  }
}

Result<int> PositiveInt(const GgufFile& f, const std::string& key, int max) {
  ASSIGN_OR_RETURN(int64_t v, f.GetInt(key));
  if (v <= 0 || v > max) {
    return InvalidArgument(f.path() + ": " + key + " = " + std::to_string(v) +
                           " is out of range (1.." + std::to_string(max) + ")");
  }
  return static_cast<int>(v);
}

}  // namespace

Result<Gemma3Hparams> Gemma3Hparams::FromGguf(const GgufFile& f) {
  ASSIGN_OR_RETURN(std::string arch, f.GetString("general.architecture"));
  if (arch != "gemma3") {
    return Status(StatusCode::kUnimplemented,
                  f.path() + ": architecture '" + arch + "' is not supported (supported: gemma3)");
  }
  Gemma3Hparams h;
  ASSIGN_OR_RETURN(h.n_layer, PositiveInt(f, "gemma3.block_count", 512));
  ASSIGN_OR_RETURN(h.n_embd, PositiveInt(f, "gemma3.embedding_length", 1 << 16));
  ASSIGN_OR_RETURN(h.n_head, PositiveInt(f, "gemma3.attention.head_count", 1024));
  ASSIGN_OR_RETURN(h.n_head_kv, PositiveInt(f, "gemma3.attention.head_count_kv", 1024));
  ASSIGN_OR_RETURN(h.head_dim, PositiveInt(f, "gemma3.attention.key_length", 4096));
  ASSIGN_OR_RETURN(int value_dim, PositiveInt(f, "gemma3.attention.value_length", 4096));
  ASSIGN_OR_RETURN(h.n_ff, PositiveInt(f, "gemma3.feed_forward_length", 1 << 20));
  ASSIGN_OR_RETURN(h.n_ctx_train, PositiveInt(f, "gemma3.context_length", 1 << 24));
  if (value_dim != h.head_dim || h.head_dim % 2 != 0 || h.n_head % h.n_head_kv != 0) {
    return InvalidArgument(f.path() + ": unsupported head layout (key_length " +
                           std::to_string(h.head_dim) + ", value_length " +
                           std::to_string(value_dim) + ", heads " + std::to_string(h.n_head) + "/" +
                           std::to_string(h.n_head_kv) + ")");
  }
  if (auto eps = f.GetFloat("gemma3.attention.layer_norm_rms_epsilon"); eps.ok()) {
    h.rms_eps = static_cast<float>(*eps);
  }
  if (auto base = f.GetFloat("gemma3.rope.freq_base"); base.ok()) {
    h.rope_base_global = static_cast<float>(*base);
  }
  if (auto base = f.GetFloat("gemma3.rope.freq_base_swa"); base.ok()) {
    h.rope_base_local = static_cast<float>(*base);
  }
  if (auto swa = f.GetInt("gemma3.attention.sliding_window"); swa.ok()) {
    h.sliding_window = static_cast<int>(std::clamp<int64_t>(*swa, 0, 1 << 24));
  }
  if (auto period = f.GetInt("gemma3.attention.sliding_window_pattern"); period.ok()) {
    if (*period < 1 || *period > 1024) {
      return InvalidArgument(f.path() + ": gemma3.attention.sliding_window_pattern out of range");
    }
    h.swa_period = static_cast<int>(*period);
  }
  // llama.cpp: 1/sqrt(head_dim) except the 27B model (n_layer 62), which uses n_embd/n_head.
  h.attn_scale = h.n_layer == 62 ? 1.0f / std::sqrt(static_cast<float>(h.n_embd / h.n_head))
                                 : 1.0f / std::sqrt(static_cast<float>(h.head_dim));
  return h;
}

Result<std::shared_ptr<const Gemma3Model>> Gemma3Model::Load(std::shared_ptr<const GgufFile> file) {
  std::shared_ptr<Gemma3Model> m(new Gemma3Model());
  m->file_ = std::move(file);
  const GgufFile& f = *m->file_;
  ASSIGN_OR_RETURN(m->hp_, Gemma3Hparams::FromGguf(f));
  const Gemma3Hparams& h = m->hp_;

  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows) -> Result<WeightMatrix> {
    ASSIGN_OR_RETURN(const TensorInfo* t, f.Tensor(name));
    if (t->dims.size() != 2 || static_cast<int64_t>(t->dims[0]) != cols ||
        (rows > 0 && static_cast<int64_t>(t->dims[1]) != rows)) {
      return InvalidArgument(f.path() + ": tensor '" + name + "' has an unexpected shape");
    }
    RETURN_IF_ERROR(CheckRowLength(t->type, cols, name));
    // The kernels read blocks through 2-byte (F32: 4-byte) loads; a file with an odd
    // general.alignment could place a tensor where that is undefined behaviour.
    const uintptr_t need = t->type == GgmlType::kF32 ? alignof(float) : alignof(uint16_t);
    if (reinterpret_cast<uintptr_t>(t->data) % need != 0) {
      return InvalidArgument(f.path() + ": tensor '" + name + "' data is not " +
                             std::to_string(need) + "-byte aligned");
    }
    WeightMatrix w;
    w.type = t->type;
    w.data = t->data;
    w.cols = cols;
    w.rows = static_cast<int64_t>(t->dims[1]);
    w.row_bytes = RowBytes(t->type, cols);
    return w;
  };
  auto vector = [&](const std::string& name, int64_t n) -> Result<const float*> {
    ASSIGN_OR_RETURN(const TensorInfo* t, f.Tensor(name));
    if (t->type != GgmlType::kF32 || t->dims.size() != 1 || static_cast<int64_t>(t->dims[0]) != n) {
      return InvalidArgument(f.path() + ": tensor '" + name + "' must be F32 [" +
                             std::to_string(n) + "]");
    }
    if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) {
      return InvalidArgument(f.path() + ": tensor '" + name + "' data is not 4-byte aligned");
    }
    return reinterpret_cast<const float*>(t->data);
  };

  ASSIGN_OR_RETURN(m->tok_embd_, matrix("token_embd.weight", h.n_embd, 0));
  m->hp_.n_vocab = static_cast<int>(m->tok_embd_.rows);
  ASSIGN_OR_RETURN(m->output_norm_, vector("output_norm.weight", h.n_embd));
  const int64_t q_dim = static_cast<int64_t>(h.n_head) * h.head_dim;
  const int64_t kv_dim = static_cast<int64_t>(h.n_head_kv) * h.head_dim;
  for (int il = 0; il < h.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    Layer L{};
    ASSIGN_OR_RETURN(L.attn_norm, vector(p + "attn_norm.weight", h.n_embd));
    ASSIGN_OR_RETURN(L.q_norm, vector(p + "attn_q_norm.weight", h.head_dim));
    ASSIGN_OR_RETURN(L.k_norm, vector(p + "attn_k_norm.weight", h.head_dim));
    ASSIGN_OR_RETURN(L.post_attn_norm, vector(p + "post_attention_norm.weight", h.n_embd));
    ASSIGN_OR_RETURN(L.ffn_norm, vector(p + "ffn_norm.weight", h.n_embd));
    ASSIGN_OR_RETURN(L.post_ffw_norm, vector(p + "post_ffw_norm.weight", h.n_embd));
    ASSIGN_OR_RETURN(L.wq, matrix(p + "attn_q.weight", h.n_embd, q_dim));
    ASSIGN_OR_RETURN(L.wk, matrix(p + "attn_k.weight", h.n_embd, kv_dim));
    ASSIGN_OR_RETURN(L.wv, matrix(p + "attn_v.weight", h.n_embd, kv_dim));
    ASSIGN_OR_RETURN(L.wo, matrix(p + "attn_output.weight", q_dim, h.n_embd));
    ASSIGN_OR_RETURN(L.gate, matrix(p + "ffn_gate.weight", h.n_embd, h.n_ff));
    ASSIGN_OR_RETURN(L.up, matrix(p + "ffn_up.weight", h.n_embd, h.n_ff));
    ASSIGN_OR_RETURN(L.down, matrix(p + "ffn_down.weight", h.n_ff, h.n_embd));
    m->layers_.push_back(L);
  }
  return std::shared_ptr<const Gemma3Model>(std::move(m));
}

std::unique_ptr<Gemma3State> Gemma3Model::NewState(int n_ctx) const {
  auto s = std::unique_ptr<Gemma3State>(new Gemma3State());
  s->n_ctx_ = std::clamp(n_ctx, 1, hp_.n_ctx_train);
  s->kv_dim_ = hp_.n_head_kv * hp_.head_dim;
  s->k_.resize(hp_.n_layer);
  s->v_.resize(hp_.n_layer);
  return s;
}

size_t Gemma3State::kv_bytes() const {
  return static_cast<size_t>(capacity_) * kv_dim_ * sizeof(uint16_t) * 2 * k_.size();
}

void Gemma3State::Reserve(int positions) {
  if (positions <= capacity_) return;
  const int grown = std::min(n_ctx_, std::max({positions, 2 * capacity_, 64}));
  for (size_t il = 0; il < k_.size(); ++il) {
    k_[il].resize(static_cast<size_t>(grown) * kv_dim_);
    v_[il].resize(static_cast<size_t>(grown) * kv_dim_);
  }
  capacity_ = grown;
}

size_t Gemma3Scratch::bytes() const {
  size_t n =
      (x_.capacity() + xn_.capacity() + q_.capacity() + k_.capacity() + v_.capacity() +
       attn_.capacity() + o_.capacity() + gate_.capacity() + up_.capacity() + logits_.capacity()) *
          sizeof(float) +
      xq_.capacity();
  for (const auto& t : threads_) {
    n += t.scores.capacity() * sizeof(float) + t.q16.capacity() * 2 + t.p16.capacity() * 2;
  }
  return n;
}

Status Gemma3Model::CheckItem(const Gemma3State& state, std::span<const int32_t> tokens,
                              std::span<const float> logits) const {
  if (!logits.empty() && logits.size() != static_cast<size_t>(hp_.n_vocab)) {
    return InvalidArgument("logits buffer must hold n_vocab floats");
  }
  if (state.n_past_ + static_cast<int64_t>(tokens.size()) > state.n_ctx_) {
    return Status(StatusCode::kResourceExhausted, "context full: " + std::to_string(state.n_past_) +
                                                      " + " + std::to_string(tokens.size()) +
                                                      " tokens exceed n_ctx " +
                                                      std::to_string(state.n_ctx_));
  }
  for (int32_t t : tokens) {
    if (t < 0 || t >= hp_.n_vocab) {
      return InvalidArgument("token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                             std::to_string(hp_.n_vocab - 1) + ")");
    }
  }
  return OkStatus();
}

Status Gemma3Model::Forward(std::span<const int32_t> tokens, Gemma3State& state,
                            std::span<float> logits, Workers& workers) const {
  if (!state.scratch_) state.scratch_ = std::make_unique<Gemma3Scratch>();
  // Validate the whole span first so an error leaves the state untouched.
  RETURN_IF_ERROR(CheckItem(state, tokens, logits));
  constexpr size_t kChunk = 256;
  for (size_t i = 0; i < tokens.size(); i += kChunk) {
    const size_t n = std::min(kChunk, tokens.size() - i);
    Gemma3BatchItem item{&state, tokens.subspan(i, n),
                         i + n == tokens.size() ? logits : std::span<float>()};
    RETURN_IF_ERROR(ForwardBatch({&item, 1}, *state.scratch_, workers));
  }
  return OkStatus();
}

void Gemma3Model::MatMul(const WeightMatrix& w, const float* x, int tokens, float* y,
                         Gemma3Scratch& sc, Workers& workers) const {
  const KernelSet& k = Kernels();
  const GgmlType act = Traits(w.type)->vec_dot_type;
  const int64_t a_row_bytes = RowBytes(act, w.cols);
  // Quantize the activations once per token, as ggml does, then split the weight rows
  // across threads; each thread multiplies its rows with every token.
  // Q8_0 activations are rounded as llama.cpp's x86 build does (see quant.h).
  const QuantizeFn quantize = act == GgmlType::kQ8_0 ? k.quantize_q8_0_act : k.Quantize(act);
  uint8_t* xq = sc.xq_.data();
  auto quantize_rows = [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) quantize(x + t * w.cols, xq + t * a_row_bytes, w.cols);
  };
  if (tokens >= 8) {
    workers.ParallelFor(tokens, 1, quantize_rows);
  } else {
    quantize_rows(0, tokens, 0);
  }
  const MatMulFn matmul = k.MatMul(w.type);
  workers.ParallelFor(w.rows, 16, [&](int64_t begin, int64_t end, int) {
    matmul(w.data + begin * w.row_bytes, w.row_bytes, end - begin, xq, a_row_bytes, tokens, w.cols,
           y + begin, w.rows);
  });
}

void Gemma3Model::Attention(int il, int tokens, Gemma3Scratch& sc, Workers& workers) const {
  const int hd = hp_.head_dim;
  const int group = hp_.n_head / hp_.n_head_kv;
  const int q_dim = hp_.n_head * hd;
  const KernelSet& k = Kernels();
  const auto dot_f16 = k.Dot(GgmlType::kF16);
  const auto to_f32 = k.Dequantize(GgmlType::kF16);
  const auto to_f16 = k.Quantize(GgmlType::kF16);
  const auto axpy = k.axpy_f16;
  workers.ParallelFor(
      static_cast<int64_t>(tokens) * hp_.n_head, 1, [&](int64_t begin, int64_t end, int thread) {
        Gemma3Scratch::ThreadScratch& ts = sc.threads_[thread];
        uint16_t* qh = ts.q16.data();
        uint16_t* p16 = ts.p16.data();
        float* scores = ts.scores.data();
        for (int64_t job = begin; job < end; ++job) {
          const int t = static_cast<int>(job / hp_.n_head);
          const int h = static_cast<int>(job % hp_.n_head);
          const Gemma3State& s = *sc.row_state_[t];
          const int pos = sc.row_pos_[t];
          const int kvh = h / group;
          const uint16_t* kc = s.k_[il].data();
          const uint16_t* vc = s.v_[il].data();
          const int first = hp_.IsGlobal(il) ? 0 : std::max(0, pos - hp_.sliding_window + 1);
          // As ggml: q converted to F16, dotted with the F16 keys in F32.
          to_f16(sc.q_.data() + static_cast<size_t>(t) * q_dim + h * hd, qh, hd);
          float mx = -std::numeric_limits<float>::infinity();
          for (int j = first; j <= pos; ++j) {
            const float dot = dot_f16(kc + static_cast<size_t>(j) * s.kv_dim_ + kvh * hd, qh, hd);
            scores[j] = dot;
            mx = std::max(mx, dot);
          }
          double sum = 0.0;
          for (int j = first; j <= pos; ++j) {
            const float e = std::exp(scores[j] - mx);
            scores[j] = e;
            sum += e;
          }
          const float inv = static_cast<float>(1.0 / sum);
          // ... and the softmax weights rounded to F16 for the product with F16 V.
          const int count = pos - first + 1;
          for (int j = first; j <= pos; ++j) scores[j] *= inv;
          to_f16(scores + first, p16, count);
          to_f32(p16, scores + first, count);
          float* out = sc.attn_.data() + static_cast<size_t>(t) * q_dim + h * hd;
          std::fill(out, out + hd, 0.0f);
          for (int j = first; j <= pos; ++j) {
            axpy(scores[j], vc + static_cast<size_t>(j) * s.kv_dim_ + kvh * hd, out, hd);
          }
        }
      });
}

Status Gemma3Model::ForwardBatch(std::span<const Gemma3BatchItem> items, Gemma3Scratch& sc,
                                 Workers& workers) const {
  // ---- validate everything before touching any state ----
  int64_t total = 0;
  int n_logits = 0;
  int max_ctx = 1;
  for (size_t i = 0; i < items.size(); ++i) {
    const Gemma3BatchItem& it = items[i];
    const std::string where = "batch item " + std::to_string(i) + ": ";
    if (it.state == nullptr) return InvalidArgument(where + "no state");
    for (size_t j = 0; j < i; ++j) {
      if (items[j].state == it.state) return InvalidArgument(where + "state used twice");
    }
    if (it.tokens.empty()) return InvalidArgument(where + "no tokens");
    if (Status st = CheckItem(*it.state, it.tokens, it.logits); !st.ok()) {
      return Status(st.code(), where + st.message());
    }
    if (!it.logits.empty()) ++n_logits;
    total += static_cast<int64_t>(it.tokens.size());
    max_ctx = std::max(max_ctx, it.state->n_past_ + static_cast<int>(it.tokens.size()));
  }
  if (total == 0) return OkStatus();
  if (total > (1 << 20)) return InvalidArgument("batch too large: " + std::to_string(total));
  const int T = static_cast<int>(total);

  // ---- size the scratch ----
  const int n = hp_.n_embd;
  const int hd = hp_.head_dim;
  const int q_dim = hp_.n_head * hd;
  const int kv_dim = hp_.n_head_kv * hd;
  const int n_ff = hp_.n_ff;
  auto fit = [](auto& v, size_t size) {
    if (v.size() < size) v.resize(size);
  };
  fit(sc.x_, static_cast<size_t>(T) * n);
  fit(sc.xn_, static_cast<size_t>(T) * n);
  fit(sc.q_, static_cast<size_t>(T) * q_dim);
  fit(sc.k_, static_cast<size_t>(T) * kv_dim);
  fit(sc.v_, static_cast<size_t>(T) * kv_dim);
  fit(sc.attn_, static_cast<size_t>(T) * q_dim);
  fit(sc.o_, static_cast<size_t>(T) * n);
  fit(sc.gate_, static_cast<size_t>(T) * n_ff);
  fit(sc.up_, static_cast<size_t>(T) * n_ff);
  fit(sc.g16_, static_cast<size_t>(n_ff));
  fit(sc.logits_, static_cast<size_t>(n_logits) * hp_.n_vocab);
  const int64_t widest = std::max<int64_t>({n, n_ff, q_dim});
  fit(sc.xq_, static_cast<size_t>(T * RowBytes(GgmlType::kF32, widest)));
  if (sc.threads_.size() < static_cast<size_t>(workers.size())) sc.threads_.resize(workers.size());
  for (auto& ts : sc.threads_) {
    fit(ts.scores, static_cast<size_t>(max_ctx));
    fit(ts.q16, static_cast<size_t>(hd));
    fit(ts.p16, static_cast<size_t>(max_ctx));
  }
  sc.row_state_.clear();
  sc.row_pos_.clear();
  for (const auto& it : items) {
    it.state->Reserve(it.state->n_past_ + static_cast<int>(it.tokens.size()));
    for (size_t j = 0; j < it.tokens.size(); ++j) {
      sc.row_state_.push_back(it.state);
      sc.row_pos_.push_back(it.state->n_past_ + static_cast<int>(j));
    }
  }

  // ---- embeddings ----
  const float emb_scale = std::sqrt(static_cast<float>(n));
  {
    int t = 0;
    for (const auto& it : items) {
      for (int32_t token : it.tokens) {
        float* x = sc.x_.data() + static_cast<size_t>(t++) * n;
        DequantizeRow(tok_embd_.type, tok_embd_.data + token * tok_embd_.row_bytes, x, n);
        for (int i = 0; i < n; ++i) x[i] *= emb_scale;
      }
    }
  }

  const auto& gelu = GeluTable();
  const auto to_f16 = Kernels().Quantize(GgmlType::kF16);
  for (int il = 0; il < hp_.n_layer; ++il) {
    const Layer& L = layers_[il];
    const float base = hp_.IsGlobal(il) ? hp_.rope_base_global : hp_.rope_base_local;
    for (int t = 0; t < T; ++t) {
      RmsNorm(sc.x_.data() + static_cast<size_t>(t) * n, L.attn_norm,
              sc.xn_.data() + static_cast<size_t>(t) * n, n, hp_.rms_eps);
    }
    MatMul(L.wq, sc.xn_.data(), T, sc.q_.data(), sc, workers);
    MatMul(L.wk, sc.xn_.data(), T, sc.k_.data(), sc, workers);
    MatMul(L.wv, sc.xn_.data(), T, sc.v_.data(), sc, workers);
    for (int t = 0; t < T; ++t) {
      const int pos = sc.row_pos_[t];
      for (int h = 0; h < hp_.n_head; ++h) {
        float* q = sc.q_.data() + static_cast<size_t>(t) * q_dim + h * hd;
        RmsNorm(q, L.q_norm, q, hd, hp_.rms_eps);
        RopeNeox(q, hd, pos, base);
        for (int d = 0; d < hd; ++d) q[d] *= hp_.attn_scale;
      }
      float* kt = sc.k_.data() + static_cast<size_t>(t) * kv_dim;
      const float* vt = sc.v_.data() + static_cast<size_t>(t) * kv_dim;
      for (int h = 0; h < hp_.n_head_kv; ++h) {
        float* k = kt + h * hd;
        RmsNorm(k, L.k_norm, k, hd, hp_.rms_eps);
        RopeNeox(k, hd, pos, base);
      }
      Gemma3State& s = *sc.row_state_[t];
      uint16_t* kslot = s.k_[il].data() + static_cast<size_t>(pos) * kv_dim;
      uint16_t* vslot = s.v_[il].data() + static_cast<size_t>(pos) * kv_dim;
      to_f16(kt, kslot, kv_dim);
      to_f16(vt, vslot, kv_dim);
    }
    Attention(il, T, sc, workers);
    MatMul(L.wo, sc.attn_.data(), T, sc.o_.data(), sc, workers);
    for (int t = 0; t < T; ++t) {
      float* o = sc.o_.data() + static_cast<size_t>(t) * n;
      float* x = sc.x_.data() + static_cast<size_t>(t) * n;
      RmsNorm(o, L.post_attn_norm, o, n, hp_.rms_eps);
      for (int i = 0; i < n; ++i) x[i] += o[i];
      RmsNorm(x, L.ffn_norm, sc.xn_.data() + static_cast<size_t>(t) * n, n, hp_.rms_eps);
    }
    MatMul(L.gate, sc.xn_.data(), T, sc.gate_.data(), sc, workers);
    MatMul(L.up, sc.xn_.data(), T, sc.up_.data(), sc, workers);
    for (int t = 0; t < T; ++t) {
      float* gate = sc.gate_.data() + static_cast<size_t>(t) * n_ff;
      const float* up = sc.up_.data() + static_cast<size_t>(t) * n_ff;
      uint16_t* g16 = sc.g16_.data();
      to_f16(gate, g16, n_ff);
      for (int i = 0; i < n_ff; ++i) {
        const float g = gate[i];
        float act;
        if (g <= -10.0f) {
          act = 0.0f;
        } else if (g >= 10.0f) {
          act = g;
        } else {
          act = gelu[g16[i]];
        }
        gate[i] = act * up[i];
      }
    }
    MatMul(L.down, sc.gate_.data(), T, sc.o_.data(), sc, workers);
    for (int t = 0; t < T; ++t) {
      float* o = sc.o_.data() + static_cast<size_t>(t) * n;
      float* x = sc.x_.data() + static_cast<size_t>(t) * n;
      RmsNorm(o, L.post_ffw_norm, o, n, hp_.rms_eps);
      for (int i = 0; i < n; ++i) x[i] += o[i];
    }
  }
  for (const auto& it : items) it.state->n_past_ += static_cast<int>(it.tokens.size());
  if (n_logits == 0) return OkStatus();

  // ---- logits: only the last token of the items that asked, in one product ----
  {
    int t = 0;
    int l = 0;
    for (const auto& it : items) {
      t += static_cast<int>(it.tokens.size());
      if (it.logits.empty()) continue;
      RmsNorm(sc.x_.data() + static_cast<size_t>(t - 1) * n, output_norm_,
              sc.xn_.data() + static_cast<size_t>(l++) * n, n, hp_.rms_eps);
    }
  }
  MatMul(tok_embd_, sc.xn_.data(), n_logits, sc.logits_.data(), sc, workers);
  int l = 0;
  for (const auto& it : items) {
    if (it.logits.empty()) continue;
    const float* src = sc.logits_.data() + static_cast<size_t>(l++) * hp_.n_vocab;
    std::copy(src, src + hp_.n_vocab, it.logits.begin());
  }
  return OkStatus();
}

}  // namespace gantry::engine
