#include "engine/bert_embedder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/cpu_features.h"
#include "engine/quant.h"
#include "engine/safetensors.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GANTRY_BERT_AVX2 1
#endif

namespace gantry::engine {

namespace fs = std::filesystem;

namespace {

std::string ShapeString(std::span<const uint64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Result<nlohmann::json> ReadJson(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path.string() + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument(path.string() + ": not a JSON object");
  }
  return j;
}

Result<int> PositiveInt(const nlohmann::json& j, const char* key, const std::string& file) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() <= 0 ||
      it->get<int64_t>() > (int64_t{1} << 24)) {
    return InvalidArgument(file + ": \"" + key + "\" must be a positive integer");
  }
  return static_cast<int>(it->get<int64_t>());
}

// HF BERT's "gelu": the exact erf form.
inline float Gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

void LayerNormRow(float* x, int n, const float* w, const float* b, float eps) {
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / n;
  double var = 0;
  for (int i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float inv = static_cast<float>(1.0 / std::sqrt(var / n + eps));
  const float m = static_cast<float>(mean);
  for (int i = 0; i < n; ++i) x[i] = (x[i] - m) * inv * w[i] + b[i];
}

#ifdef GANTRY_BERT_AVX2
__attribute__((target("avx2,fma"))) inline float HSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) inline float DotAvx2(const float* a, const float* b, int n) {
  __m256 acc = _mm256_setzero_ps();
  for (int k = 0; k < n; k += 8) {
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc);
  }
  return HSum(acc);
}

// e^x for x <= 0 (Cephes' expf: range reduction by ln 2, degree-5 polynomial; ~1 ulp).
__attribute__((target("avx2,fma"))) inline __m256 ExpNonPositive(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// x[i] = gelu(x[i]) with erf from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, the
// same approximation PyTorch's vectorized CPU erf uses); std::erf for the tail.
__attribute__((target("avx2,fma"))) void GeluAvx2(float* x, int n) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 half = _mm256_set1_ps(0.5f);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 z = _mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f));
    const __m256 sign = _mm256_and_ps(z, sign_mask);
    const __m256 a = _mm256_andnot_ps(sign_mask, z);
    const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(a, _mm256_set1_ps(0.3275911f), one));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    const __m256 e = ExpNonPositive(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a)));
    const __m256 erf_abs = _mm256_fnmadd_ps(p, e, one);
    const __m256 erf = _mm256_or_ps(erf_abs, sign);
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, erf)));
  }
  for (; i < n; ++i) x[i] = Gelu(x[i]);
}

// One query row of attention: p[j] = q . k_j * scale for j < len, softmax, then
// o = sum_j p[j] v_j. Rows of k and v are `ld` floats apart. REQUIRES: hd % 8 == 0.
__attribute__((target("avx2,fma"))) void AttendAvx2(const float* q, const float* k, const float* v,
                                                    int ld, int len, int hd, float scale, float* p,
                                                    float* o) {
  float mx = -INFINITY;
  for (int j = 0; j < len; ++j) {
    p[j] = DotAvx2(q, k + static_cast<size_t>(j) * ld, hd) * scale;
    mx = std::max(mx, p[j]);
  }
  const __m256 vmx = _mm256_set1_ps(mx);
  __m256 vsum = _mm256_setzero_ps();
  int j = 0;
  for (; j + 8 <= len; j += 8) {
    const __m256 e = ExpNonPositive(_mm256_sub_ps(_mm256_loadu_ps(p + j), vmx));
    _mm256_storeu_ps(p + j, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = HSum(vsum);
  for (; j < len; ++j) sum += (p[j] = std::exp(p[j] - mx));
  const float inv = 1.0f / sum;
  for (int e = 0; e < hd; e += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int jj = 0; jj < len; ++jj) {
      acc = _mm256_fmadd_ps(_mm256_set1_ps(p[jj]),
                            _mm256_loadu_ps(v + static_cast<size_t>(jj) * ld + e), acc);
    }
    _mm256_storeu_ps(o + e, _mm256_mul_ps(acc, _mm256_set1_ps(inv)));
  }
}

// y[t * ldy + o] = x[t, :] . w[o, :] + b[o] for o in [o0, o1), t in [0, tokens).
// REQUIRES: in % 8 == 0. A 4-token x 3-output register tile keeps 12 accumulators and
// reuses each loaded weight vector 4 times; tokens go in blocks so that a block of x
// stays in L2 while the weight tiles stream through L1.
__attribute__((target("avx2,fma"))) void GemmAvx2(const float* x, int tokens, const float* w,
                                                  const float* b, int in, int o0, int o1, float* y,
                                                  int ldy) {
  constexpr int kTokenBlock = 64;
  for (int t0 = 0; t0 < tokens; t0 += kTokenBlock) {
    const int t1 = std::min(tokens, t0 + kTokenBlock);
    int o = o0;
    for (; o + 3 <= o1; o += 3) {
      const float* w0 = w + static_cast<size_t>(o) * in;
      const float* w1 = w0 + in;
      const float* w2 = w1 + in;
      int t = t0;
      for (; t + 4 <= t1; t += 4) {
        const float* x0 = x + static_cast<size_t>(t) * in;
        const float* x1 = x0 + in;
        const float* x2 = x1 + in;
        const float* x3 = x2 + in;
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00,
               a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
        for (int k = 0; k < in; k += 8) {
          const __m256 v0 = _mm256_loadu_ps(w0 + k);
          const __m256 v1 = _mm256_loadu_ps(w1 + k);
          const __m256 v2 = _mm256_loadu_ps(w2 + k);
          __m256 u = _mm256_loadu_ps(x0 + k);
          a00 = _mm256_fmadd_ps(u, v0, a00);
          a01 = _mm256_fmadd_ps(u, v1, a01);
          a02 = _mm256_fmadd_ps(u, v2, a02);
          u = _mm256_loadu_ps(x1 + k);
          a10 = _mm256_fmadd_ps(u, v0, a10);
          a11 = _mm256_fmadd_ps(u, v1, a11);
          a12 = _mm256_fmadd_ps(u, v2, a12);
          u = _mm256_loadu_ps(x2 + k);
          a20 = _mm256_fmadd_ps(u, v0, a20);
          a21 = _mm256_fmadd_ps(u, v1, a21);
          a22 = _mm256_fmadd_ps(u, v2, a22);
          u = _mm256_loadu_ps(x3 + k);
          a30 = _mm256_fmadd_ps(u, v0, a30);
          a31 = _mm256_fmadd_ps(u, v1, a31);
          a32 = _mm256_fmadd_ps(u, v2, a32);
        }
        float* y0 = y + static_cast<size_t>(t) * ldy + o;
        y0[0] = HSum(a00) + b[o];
        y0[1] = HSum(a01) + b[o + 1];
        y0[2] = HSum(a02) + b[o + 2];
        y0 += ldy;
        y0[0] = HSum(a10) + b[o];
        y0[1] = HSum(a11) + b[o + 1];
        y0[2] = HSum(a12) + b[o + 2];
        y0 += ldy;
        y0[0] = HSum(a20) + b[o];
        y0[1] = HSum(a21) + b[o + 1];
        y0[2] = HSum(a22) + b[o + 2];
        y0 += ldy;
        y0[0] = HSum(a30) + b[o];
        y0[1] = HSum(a31) + b[o + 1];
        y0[2] = HSum(a32) + b[o + 2];
      }
      for (; t < t1; ++t) {
        const float* xt = x + static_cast<size_t>(t) * in;
        float* yt = y + static_cast<size_t>(t) * ldy + o;
        yt[0] = DotAvx2(xt, w0, in) + b[o];
        yt[1] = DotAvx2(xt, w1, in) + b[o + 1];
        yt[2] = DotAvx2(xt, w2, in) + b[o + 2];
      }
    }
    for (; o < o1; ++o) {
      const float* wo = w + static_cast<size_t>(o) * in;
      for (int t = t0; t < t1; ++t) {
        y[static_cast<size_t>(t) * ldy + o] =
            DotAvx2(x + static_cast<size_t>(t) * in, wo, in) + b[o];
      }
    }
  }
}
#endif  // GANTRY_BERT_AVX2

// The AVX2 kernels need their inner dimension to be a multiple of 8.
bool UseAvx2(int in) {
#ifdef GANTRY_BERT_AVX2
  static const bool avx2 = SelectedCpuLevel() == CpuLevel::kAvx2;
  return avx2 && in % 8 == 0;
#else
  (void)in;
  return false;
#endif
}

}  // namespace

Status BertEmbedderOptions::Validate() const {
  if (threads < 1) return InvalidArgument("bert embedder: threads must be >= 1");
  if (max_seq_length < 0 || max_seq_length == 1 || max_seq_length == 2) {
    return InvalidArgument("bert embedder: max_seq_length must be 0 (from the model) or >= 3");
  }
  if (max_batch_tokens < std::max(max_seq_length, 3)) {
    return InvalidArgument("bert embedder: max_batch_tokens must be >= max_seq_length");
  }
  return OkStatus();
}

// Reads and checks the model directory's files and tensors.
struct BertLoader {
  std::shared_ptr<const SafetensorsFile> st;
  std::string prefix;  // "" or "bert."

  Result<std::vector<float>> Get(const std::string& name, std::vector<uint64_t> shape) const {
    const std::string full = prefix + name;
    auto t = st->Tensor(full);
    if (!t.ok()) {
      return InvalidArgument(st->path() + ": missing tensor " + full);
    }
    const SafetensorsTensor& tensor = **t;
    if (tensor.dtype != SafetensorsDtype::kF32) {
      return InvalidArgument(st->path() + ": tensor " + full + " has dtype " +
                             std::string(SafetensorsDtypeName(tensor.dtype)) + ", expected F32");
    }
    if (tensor.shape != shape) {
      return InvalidArgument(st->path() + ": tensor " + full + " has shape " +
                             ShapeString(tensor.shape) + ", expected " + ShapeString(shape));
    }
    std::vector<float> v(tensor.n_elements);
    if (tensor.n_bytes) std::memcpy(v.data(), tensor.data, tensor.n_bytes);
    return v;
  }

  Status GetLinear(const std::string& name, int out, int in, BertEmbedder::Linear& lin) const {
    ASSIGN_OR_RETURN(lin.w, Get(name + ".weight", {uint64_t(out), uint64_t(in)}));
    ASSIGN_OR_RETURN(lin.b, Get(name + ".bias", {uint64_t(out)}));
    lin.out = out;
    lin.in = in;
    return OkStatus();
  }

  Status GetNorm(const std::string& name, int n, BertEmbedder::Norm& norm) const {
    ASSIGN_OR_RETURN(norm.w, Get(name + ".weight", {uint64_t(n)}));
    ASSIGN_OR_RETURN(norm.b, Get(name + ".bias", {uint64_t(n)}));
    return OkStatus();
  }

  static Result<BertConfig> ReadConfig(const fs::path& path) {
    ASSIGN_OR_RETURN(nlohmann::json j, ReadJson(path));
    const std::string file = path.string();
    BertConfig c;
    ASSIGN_OR_RETURN(c.vocab_size, PositiveInt(j, "vocab_size", file));
    ASSIGN_OR_RETURN(c.hidden, PositiveInt(j, "hidden_size", file));
    ASSIGN_OR_RETURN(c.layers, PositiveInt(j, "num_hidden_layers", file));
    ASSIGN_OR_RETURN(c.heads, PositiveInt(j, "num_attention_heads", file));
    ASSIGN_OR_RETURN(c.intermediate, PositiveInt(j, "intermediate_size", file));
    ASSIGN_OR_RETURN(c.max_positions, PositiveInt(j, "max_position_embeddings", file));
    ASSIGN_OR_RETURN(c.type_vocab_size, PositiveInt(j, "type_vocab_size", file));
    if (c.hidden % c.heads != 0) {
      return InvalidArgument(file + ": hidden_size " + std::to_string(c.hidden) +
                             " is not a multiple of num_attention_heads " +
                             std::to_string(c.heads));
    }
    if (auto it = j.find("layer_norm_eps"); it != j.end()) {
      if (!it->is_number() || it->get<double>() <= 0) {
        return InvalidArgument(file + ": \"layer_norm_eps\" must be a positive number");
      }
      c.layer_norm_eps = it->get<float>();
    }
    const std::string act = j.value("hidden_act", std::string("gelu"));
    if (act != "gelu") {
      return Unimplemented(file + ": hidden_act '" + act + "' is not supported (only 'gelu')");
    }
    if (auto it = j.find("position_embedding_type");
        it != j.end() && *it != nlohmann::json("absolute")) {
      return Unimplemented(file + ": only absolute position embeddings are supported");
    }
    return c;
  }

  static Status CheckPooling(const fs::path& path, int hidden) {
    if (!fs::exists(path)) return OkStatus();
    ASSIGN_OR_RETURN(nlohmann::json j, ReadJson(path));
    const std::string file = path.string();
    for (const char* other :
         {"pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
          "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
      if (j.value(other, false)) {
        return Unimplemented(file + ": " + other + " is not supported (only mean pooling)");
      }
    }
    if (!j.value("pooling_mode_mean_tokens", false)) {
      return Unimplemented(file + ": only pooling_mode_mean_tokens is supported");
    }
    if (j.contains("word_embedding_dimension") &&
        j.value("word_embedding_dimension", 0) != hidden) {
      return InvalidArgument(file + ": word_embedding_dimension does not match hidden_size " +
                             std::to_string(hidden));
    }
    return OkStatus();
  }
};

Result<std::unique_ptr<BertEmbedder>> BertEmbedder::Open(const std::string& model_dir,
                                                         BertEmbedderOptions options) {
  RETURN_IF_ERROR(options.Validate());
  const fs::path dir(model_dir);
  if (!fs::is_directory(dir)) return NotFound(model_dir + ": no such model directory");

  std::unique_ptr<BertEmbedder> m(new BertEmbedder());
  ASSIGN_OR_RETURN(m->config_, BertLoader::ReadConfig(dir / "config.json"));
  const BertConfig& c = m->config_;
  RETURN_IF_ERROR(BertLoader::CheckPooling(dir / "1_Pooling" / "config.json", c.hidden));

  int max_len = options.max_seq_length;
  if (max_len == 0) {
    max_len = 256;
    const fs::path sb = dir / "sentence_bert_config.json";
    if (fs::exists(sb)) {
      ASSIGN_OR_RETURN(nlohmann::json j, ReadJson(sb));
      if (j.contains("max_seq_length")) {
        ASSIGN_OR_RETURN(max_len, PositiveInt(j, "max_seq_length", sb.string()));
      }
    }
  }
  m->max_seq_length_ = std::max(3, std::min(max_len, c.max_positions));
  m->max_batch_tokens_ = std::max(options.max_batch_tokens, m->max_seq_length_);

  WordPieceOptions wp;
  wp.max_length = static_cast<size_t>(m->max_seq_length_);
  const fs::path tc = dir / "tokenizer_config.json";
  if (fs::exists(tc)) {
    ASSIGN_OR_RETURN(nlohmann::json j, ReadJson(tc));
    if (auto it = j.find("do_lower_case"); it != j.end() && it->is_boolean()) {
      wp.lowercase = it->get<bool>();
    }
  }
  ASSIGN_OR_RETURN(m->tokenizer_,
                   WordPieceTokenizer::FromVocabFile((dir / "vocab.txt").string(), wp));
  if (m->tokenizer_->vocab_size() > c.vocab_size) {
    return InvalidArgument((dir / "vocab.txt").string() + ": " +
                           std::to_string(m->tokenizer_->vocab_size()) +
                           " tokens but config.json vocab_size is " + std::to_string(c.vocab_size));
  }

  BertLoader L{nullptr, ""};
  ASSIGN_OR_RETURN(L.st, SafetensorsFile::Open((dir / "model.safetensors").string()));
  if (!L.st->Tensor("embeddings.word_embeddings.weight").ok() &&
      L.st->Tensor("bert.embeddings.word_embeddings.weight").ok()) {
    L.prefix = "bert.";
  }
  const auto H = static_cast<uint64_t>(c.hidden);
  ASSIGN_OR_RETURN(m->word_embd_,
                   L.Get("embeddings.word_embeddings.weight", {uint64_t(c.vocab_size), H}));
  ASSIGN_OR_RETURN(m->pos_embd_,
                   L.Get("embeddings.position_embeddings.weight", {uint64_t(c.max_positions), H}));
  ASSIGN_OR_RETURN(std::vector<float> types, L.Get("embeddings.token_type_embeddings.weight",
                                                   {uint64_t(c.type_vocab_size), H}));
  m->type0_embd_.assign(types.begin(), types.begin() + c.hidden);
  RETURN_IF_ERROR(L.GetNorm("embeddings.LayerNorm", c.hidden, m->embd_norm_));

  m->layers_.resize(c.layers);
  for (int il = 0; il < c.layers; ++il) {
    const std::string p = "encoder.layer." + std::to_string(il) + ".";
    Layer& layer = m->layers_[il];
    Linear q, k, v;
    RETURN_IF_ERROR(L.GetLinear(p + "attention.self.query", c.hidden, c.hidden, q));
    RETURN_IF_ERROR(L.GetLinear(p + "attention.self.key", c.hidden, c.hidden, k));
    RETURN_IF_ERROR(L.GetLinear(p + "attention.self.value", c.hidden, c.hidden, v));
    layer.qkv.out = 3 * c.hidden;
    layer.qkv.in = c.hidden;
    for (Linear* part : {&q, &k, &v}) {
      layer.qkv.w.insert(layer.qkv.w.end(), part->w.begin(), part->w.end());
      layer.qkv.b.insert(layer.qkv.b.end(), part->b.begin(), part->b.end());
    }
    RETURN_IF_ERROR(L.GetLinear(p + "attention.output.dense", c.hidden, c.hidden, layer.attn_out));
    RETURN_IF_ERROR(L.GetNorm(p + "attention.output.LayerNorm", c.hidden, layer.attn_norm));
    RETURN_IF_ERROR(L.GetLinear(p + "intermediate.dense", c.intermediate, c.hidden, layer.up));
    RETURN_IF_ERROR(L.GetLinear(p + "output.dense", c.hidden, c.intermediate, layer.down));
    RETURN_IF_ERROR(L.GetNorm(p + "output.LayerNorm", c.hidden, layer.out_norm));
  }
  m->workers_ = std::make_unique<Workers>(options.threads);
  return m;
}

BertEmbedder::~BertEmbedder() = default;

Result<std::vector<std::vector<float>>> BertEmbedder::Embed(std::span<const std::string> texts) {
  std::vector<std::vector<int32_t>> ids(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    auto r = tokenizer_->Encode(texts[i], /*add_special=*/true, /*parse_special=*/true);
    if (!r.ok()) return r.status().WithContext("text " + std::to_string(i));
    ids[i] = std::move(*r);
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  std::vector<int32_t> packed;
  std::vector<int> lengths;
  for (size_t i = 0; i < ids.size(); ++i) {
    packed.insert(packed.end(), ids[i].begin(), ids[i].end());
    lengths.push_back(static_cast<int>(ids[i].size()));
    const bool last = i + 1 == ids.size();
    if (last || packed.size() + ids[i + 1].size() > static_cast<size_t>(max_batch_tokens_)) {
      Encode(packed, lengths, out);
      packed.clear();
      lengths.clear();
    }
  }
  return out;
}

void BertEmbedder::Encode(std::span<const int32_t> ids, std::span<const int> lengths,
                          std::vector<std::vector<float>>& out) {
  const int H = config_.hidden;
  const int T = static_cast<int>(ids.size());
  const float eps = config_.layer_norm_eps;
  std::vector<float> x(static_cast<size_t>(T) * H);
  std::vector<float> qkv(static_cast<size_t>(T) * 3 * H);
  std::vector<float> attn(static_cast<size_t>(T) * H);
  std::vector<float> ffn(static_cast<size_t>(T) * config_.intermediate);

  // Embeddings: positions restart at 0 for each sequence; token type is always 0.
  int t = 0;
  for (int len : lengths) {
    for (int pos = 0; pos < len; ++pos, ++t) {
      float* xt = &x[static_cast<size_t>(t) * H];
      const int32_t id = std::clamp<int32_t>(ids[t], 0, config_.vocab_size - 1);
      const float* we = &word_embd_[static_cast<size_t>(id) * H];
      const float* pe = &pos_embd_[static_cast<size_t>(pos) * H];
      for (int i = 0; i < H; ++i) xt[i] = we[i] + pe[i] + type0_embd_[i];
      LayerNormRow(xt, H, embd_norm_.w.data(), embd_norm_.b.data(), eps);
    }
  }

  for (const Layer& layer : layers_) {
    MatMul(layer.qkv, x.data(), T, qkv.data(), /*gelu=*/false);
    Attention(qkv.data(), lengths, attn.data());
    MatMul(layer.attn_out, attn.data(), T, qkv.data(), /*gelu=*/false);
    AddNorm(qkv.data(), layer.attn_norm, T, x.data());
    MatMul(layer.up, x.data(), T, ffn.data(), /*gelu=*/true);
    MatMul(layer.down, ffn.data(), T, qkv.data(), /*gelu=*/false);
    AddNorm(qkv.data(), layer.out_norm, T, x.data());
  }

  // Mean pooling over each sequence's tokens, then L2 normalization (eps 1e-12, as
  // torch.nn.functional.normalize).
  t = 0;
  std::vector<double> acc(H);
  for (int len : lengths) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int i = 0; i < len; ++i, ++t) {
      const float* xt = &x[static_cast<size_t>(t) * H];
      for (int j = 0; j < H; ++j) acc[j] += xt[j];
    }
    std::vector<float> v(H);
    double norm2 = 0;
    for (int j = 0; j < H; ++j) {
      v[j] = static_cast<float>(acc[j] / len);
      norm2 += static_cast<double>(v[j]) * v[j];
    }
    const double inv = 1.0 / std::max(std::sqrt(norm2), 1e-12);
    for (int j = 0; j < H; ++j) v[j] = static_cast<float>(v[j] * inv);
    out.push_back(std::move(v));
  }
}

void BertEmbedder::MatMul(const Linear& lin, const float* x, int tokens, float* y, bool gelu) {
  const int in = lin.in;
  const int ldy = lin.out;
  const bool avx2 = UseAvx2(in);
  // Split the output features across the team: every thread reads all of x (small) and
  // its own slice of the weights (large), so no weight row is loaded twice.
  workers_->ParallelFor(lin.out, 12, [&](int64_t begin, int64_t end, int) {
    const int o0 = static_cast<int>(begin);
    const int o1 = static_cast<int>(end);
#ifdef GANTRY_BERT_AVX2
    if (avx2) {
      GemmAvx2(x, tokens, lin.w.data(), lin.b.data(), in, o0, o1, y, ldy);
    }
#endif
    if (!avx2) {
      const VecDotFn dot = Kernels().Dot(GgmlType::kF32);
      for (int t = 0; t < tokens; ++t) {
        const float* xt = x + static_cast<size_t>(t) * in;
        for (int o = o0; o < o1; ++o) {
          y[static_cast<size_t>(t) * ldy + o] =
              dot(&lin.w[static_cast<size_t>(o) * in], xt, in) + lin.b[o];
        }
      }
    }
    if (gelu) {
      for (int t = 0; t < tokens; ++t) {
        float* yt = y + static_cast<size_t>(t) * ldy;
#ifdef GANTRY_BERT_AVX2
        if (avx2) {
          GeluAvx2(yt + o0, o1 - o0);
          continue;
        }
#endif
        for (int o = o0; o < o1; ++o) yt[o] = Gelu(yt[o]);
      }
    }
  });
}

void BertEmbedder::Attention(const float* qkv, std::span<const int> lengths, float* out) {
  const int H = config_.hidden;
  const int n_head = config_.heads;
  const int hd = H / n_head;
  const int ld = 3 * H;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  std::vector<int> starts(lengths.size());
  int max_len = 0;
  for (size_t s = 0, t = 0; s < lengths.size(); t += lengths[s], ++s) {
    starts[s] = static_cast<int>(t);
    max_len = std::max(max_len, lengths[s]);
  }
  std::vector<std::vector<float>> scores(workers_->size(), std::vector<float>(max_len));
  const VecDotFn dot = Kernels().Dot(GgmlType::kF32);
  const bool avx2 = UseAvx2(hd);
  const int64_t jobs = static_cast<int64_t>(lengths.size()) * n_head;
  workers_->ParallelFor(jobs, 1, [&](int64_t begin, int64_t end, int thread) {
    float* p = scores[thread].data();
    for (int64_t job = begin; job < end; ++job) {
      const int s = static_cast<int>(job / n_head);
      const int h = static_cast<int>(job % n_head);
      const int len = lengths[s];
      const float* base = qkv + static_cast<size_t>(starts[s]) * ld + h * hd;
      for (int i = 0; i < len; ++i) {
        const float* q = base + static_cast<size_t>(i) * ld;
#ifdef GANTRY_BERT_AVX2
        if (avx2) {
          AttendAvx2(q, base + H, base + 2 * H, ld, len, hd, scale, p,
                     out + static_cast<size_t>(starts[s] + i) * H + h * hd);
          continue;
        }
#endif
        float mx = -INFINITY;
        for (int j = 0; j < len; ++j) {
          p[j] = dot(q, base + static_cast<size_t>(j) * ld + H, hd) * scale;
          mx = std::max(mx, p[j]);
        }
        float sum = 0;
        for (int j = 0; j < len; ++j) {
          p[j] = std::exp(p[j] - mx);
          sum += p[j];
        }
        const float inv = 1.0f / sum;
        float* __restrict o = out + static_cast<size_t>(starts[s] + i) * H + h * hd;
        std::fill(o, o + hd, 0.0f);
        for (int j = 0; j < len; ++j) {
          const float* __restrict v = base + static_cast<size_t>(j) * ld + 2 * H;
          const float pj = p[j] * inv;
          for (int e = 0; e < hd; ++e) o[e] += pj * v[e];
        }
      }
    }
  });
}

void BertEmbedder::AddNorm(const float* delta, const Norm& norm, int tokens, float* x) const {
  const int H = config_.hidden;
  for (int t = 0; t < tokens; ++t) {
    float* xt = x + static_cast<size_t>(t) * H;
    const float* dt = delta + static_cast<size_t>(t) * H;
    for (int i = 0; i < H; ++i) xt[i] += dt[i];
    LayerNormRow(xt, H, norm.w.data(), norm.b.data(), config_.layer_norm_eps);
  }
}

}  // namespace gantry::engine
