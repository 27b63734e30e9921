#include "engine/gemma3.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "engine/quant.h"

namespace gantry::engine {
namespace {

// GELU(tanh) as ggml computes it with GGML_GELU_FP16: through a table indexed by the
// F16 bits of x, holding F16 results.
const std::vector<uint16_t>& GeluTable() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(1 << 16);
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    constexpr float kCoef = 0.044715f;
    for (uint32_t i = 0; i < t.size(); ++i) {
      const float x = Fp16ToFp32(static_cast<uint16_t>(i));
      const float y = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoef * x * x)));
      t[i] = Fp32ToFp16(y);
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

// llama.cpp's x86 build quantizes Q8_0 activations with id = 127/amax and round half
// to even (ggml's reference uses 1/(amax/127) and rounds half away from zero). The
// model is sensitive enough that the rare one-step differences show in the logits.
void QuantizeQ8_0LikeLlamaCpp(const float* x, void* dst, int64_t n) {
  auto* out = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* v = x + b * 32;
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[i]));
    out[b].d = Fp32ToFp16(amax / 127.f);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    for (int i = 0; i < 32; ++i) out[b].qs[i] = static_cast<int8_t>(std::nearbyint(v[i] * id));
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
  const size_t kv = static_cast<size_t>(hp_.n_layer) * s->n_ctx_ * s->kv_dim_;
  s->k_.assign(kv, 0);
  s->v_.assign(kv, 0);
  const size_t q_dim = static_cast<size_t>(hp_.n_head) * hp_.head_dim;
  s->x_.resize(hp_.n_embd);
  s->xn_.resize(hp_.n_embd);
  s->q_.resize(q_dim);
  s->k_cur_.resize(s->kv_dim_);
  s->v_cur_.resize(s->kv_dim_);
  s->attn_.resize(q_dim);
  s->o_.resize(hp_.n_embd);
  s->gate_.resize(hp_.n_ff);
  s->up_.resize(hp_.n_ff);
  s->scores_.resize(s->n_ctx_);
  s->q16_.resize(hp_.head_dim);
  s->vrow_.resize(hp_.head_dim);
  const int64_t widest = std::max<int64_t>({hp_.n_embd, hp_.n_ff, static_cast<int64_t>(q_dim)});
  s->xq_.resize(static_cast<size_t>(RowBytes(GgmlType::kF32, widest)));
  return s;
}

Status Gemma3Model::Forward(std::span<const int32_t> tokens, Gemma3State& state,
                            std::span<float> logits, Workers& workers) const {
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
  for (size_t i = 0; i < tokens.size(); ++i) {
    const bool last = i + 1 == tokens.size();
    Step(tokens[i], state, last && !logits.empty(), logits, workers);
  }
  return OkStatus();
}

void Gemma3Model::MatVec(const WeightMatrix& w, const float* x, float* y, Gemma3State& s,
                         Workers& workers) const {
  const KernelSet& k = Kernels();
  const GgmlType act = Traits(w.type)->vec_dot_type;
  // Quantize the activations once, as ggml does, then split the rows across threads.
  if (act == GgmlType::kQ8_0) {
    QuantizeQ8_0LikeLlamaCpp(x, s.xq_.data(), w.cols);
  } else {
    k.Quantize(act)(x, s.xq_.data(), w.cols);
  }
  const auto dot = k.Dot(w.type);
  const uint8_t* xq = s.xq_.data();
  workers.ParallelFor(w.rows, 16, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) y[r] = dot(w.data + r * w.row_bytes, xq, w.cols);
  });
}

void Gemma3Model::Attention(int il, int pos, Gemma3State& s) const {
  const int hd = hp_.head_dim;
  const int group = hp_.n_head / hp_.n_head_kv;
  const size_t layer_off = static_cast<size_t>(il) * s.n_ctx_ * s.kv_dim_;
  const uint16_t* kc = s.k_.data() + layer_off;
  const uint16_t* vc = s.v_.data() + layer_off;
  int first = 0;
  if (!hp_.IsGlobal(il)) first = std::max(0, pos - hp_.sliding_window + 1);
  const KernelSet& k = Kernels();
  const auto dot_f16 = k.Dot(GgmlType::kF16);
  const auto to_f32 = k.Dequantize(GgmlType::kF16);
  uint16_t* qh = s.q16_.data();
  float* vrow = s.vrow_.data();
  for (int h = 0; h < hp_.n_head; ++h) {
    const int kvh = h / group;
    // As ggml: q converted to F16, dotted with the F16 keys in F32.
    k.Quantize(GgmlType::kF16)(s.q_.data() + h * hd, qh, hd);
    float mx = -std::numeric_limits<float>::infinity();
    for (int j = first; j <= pos; ++j) {
      const float dot = dot_f16(kc + static_cast<size_t>(j) * s.kv_dim_ + kvh * hd, qh, hd);
      s.scores_[j] = dot;
      mx = std::max(mx, dot);
    }
    double sum = 0.0;
    for (int j = first; j <= pos; ++j) {
      const float e = std::exp(s.scores_[j] - mx);
      s.scores_[j] = e;
      sum += e;
    }
    const float inv = static_cast<float>(1.0 / sum);
    float* out = s.attn_.data() + h * hd;
    std::fill(out, out + hd, 0.0f);
    for (int j = first; j <= pos; ++j) {
      // ... and the softmax weights converted to F16 for the product with F16 V.
      const float p = Fp16ToFp32(Fp32ToFp16(s.scores_[j] * inv));
      to_f32(vc + static_cast<size_t>(j) * s.kv_dim_ + kvh * hd, vrow, hd);
      for (int d = 0; d < hd; ++d) out[d] += p * vrow[d];
    }
  }
}

void Gemma3Model::Step(int32_t token, Gemma3State& s, bool want_logits, std::span<float> logits,
                       Workers& workers) const {
  const int n = hp_.n_embd;
  const int hd = hp_.head_dim;
  const int pos = s.n_past_;
  float* x = s.x_.data();
  float* xn = s.xn_.data();

  DequantizeRow(tok_embd_.type, tok_embd_.data + token * tok_embd_.row_bytes, x, n);
  const float emb_scale = std::sqrt(static_cast<float>(n));
  for (int i = 0; i < n; ++i) x[i] *= emb_scale;

  const auto& gelu = GeluTable();
  for (int il = 0; il < hp_.n_layer; ++il) {
    const Layer& L = layers_[il];
    const float base = hp_.IsGlobal(il) ? hp_.rope_base_global : hp_.rope_base_local;

    RmsNorm(x, L.attn_norm, xn, n, hp_.rms_eps);
    MatVec(L.wq, xn, s.q_.data(), s, workers);
    MatVec(L.wk, xn, s.k_cur_.data(), s, workers);
    MatVec(L.wv, xn, s.v_cur_.data(), s, workers);
    for (int h = 0; h < hp_.n_head; ++h) {
      float* q = s.q_.data() + h * hd;
      RmsNorm(q, L.q_norm, q, hd, hp_.rms_eps);
      RopeNeox(q, hd, pos, base);
      for (int d = 0; d < hd; ++d) q[d] *= hp_.attn_scale;
    }
    const size_t slot = (static_cast<size_t>(il) * s.n_ctx_ + pos) * s.kv_dim_;
    for (int h = 0; h < hp_.n_head_kv; ++h) {
      float* k = s.k_cur_.data() + h * hd;
      RmsNorm(k, L.k_norm, k, hd, hp_.rms_eps);
      RopeNeox(k, hd, pos, base);
    }
    for (int i = 0; i < s.kv_dim_; ++i) {
      s.k_[slot + i] = Fp32ToFp16(s.k_cur_[i]);
      s.v_[slot + i] = Fp32ToFp16(s.v_cur_[i]);
    }
    Attention(il, pos, s);
    MatVec(L.wo, s.attn_.data(), s.o_.data(), s, workers);
    RmsNorm(s.o_.data(), L.post_attn_norm, s.o_.data(), n, hp_.rms_eps);
    for (int i = 0; i < n; ++i) x[i] += s.o_[i];

    RmsNorm(x, L.ffn_norm, xn, n, hp_.rms_eps);
    MatVec(L.gate, xn, s.gate_.data(), s, workers);
    MatVec(L.up, xn, s.up_.data(), s, workers);
    for (int i = 0; i < hp_.n_ff; ++i) {
      const float g = s.gate_[i];
      float act;
      if (g <= -10.0f) {
        act = 0.0f;
      } else if (g >= 10.0f) {
        act = g;
      } else {
        act = Fp16ToFp32(gelu[Fp32ToFp16(g)]);
      }
      s.gate_[i] = act * s.up_[i];
    }
    MatVec(L.down, s.gate_.data(), s.o_.data(), s, workers);
    RmsNorm(s.o_.data(), L.post_ffw_norm, s.o_.data(), n, hp_.rms_eps);
    for (int i = 0; i < n; ++i) x[i] += s.o_[i];
  }
  s.n_past_ = pos + 1;
  if (!want_logits) return;
  RmsNorm(x, output_norm_, xn, n, hp_.rms_eps);
  MatVec(tok_embd_, xn, logits.data(), s, workers);
}

}  // namespace gantry::engine
