// BertEmbedder on tiny random BERTs the test writes itself (config.json, vocab.txt,
// model.safetensors), checked against a straightforward double-precision reference in
// this file that pads the batch and masks the padding, as HF BertModel does.
#include "engine/bert_embedder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace gantry::engine {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat",   "sat",   "on",    "mat", "dog",
    "a",     "big",   "##s",   ".",     ",",      "run", "hello", "world", "##ing", "!"};

struct TinyConfig {
  int hidden = 16;
  int heads = 2;
  int layers = 2;
  int intermediate = 40;
  int max_positions = 16;
  int max_seq_length = 12;
};

struct Tensor {
  std::vector<uint64_t> shape;
  std::vector<double> values;
  std::string dtype = "F32";
};

using Weights = std::map<std::string, Tensor>;

Weights RandomWeights(const TinyConfig& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 0.5);
  Weights w;
  auto add = [&](const std::string& name, std::vector<uint64_t> shape, double offset = 0.0) {
    Tensor t;
    t.shape = shape;
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    for (uint64_t i = 0; i < n; ++i) {
      // Round through float: the file holds F32, the reference works in double.
      t.values.push_back(static_cast<float>(offset + normal(rng)));
    }
    w[name] = std::move(t);
  };
  const auto H = static_cast<uint64_t>(c.hidden);
  const auto I = static_cast<uint64_t>(c.intermediate);
  add("embeddings.word_embeddings.weight", {kVocab.size(), H});
  add("embeddings.position_embeddings.weight", {uint64_t(c.max_positions), H});
  add("embeddings.token_type_embeddings.weight", {2, H});
  add("embeddings.LayerNorm.weight", {H}, 1.0);
  add("embeddings.LayerNorm.bias", {H});
  for (int il = 0; il < c.layers; ++il) {
    const std::string p = "encoder.layer." + std::to_string(il) + ".";
    for (const char* n : {"attention.self.query", "attention.self.key", "attention.self.value",
                          "attention.output.dense"}) {
      add(p + n + ".weight", {H, H});
      add(p + n + ".bias", {H});
    }
    add(p + "attention.output.LayerNorm.weight", {H}, 1.0);
    add(p + "attention.output.LayerNorm.bias", {H});
    add(p + "intermediate.dense.weight", {I, H});
    add(p + "intermediate.dense.bias", {I});
    add(p + "output.dense.weight", {H, I});
    add(p + "output.dense.bias", {H});
    add(p + "output.LayerNorm.weight", {H}, 1.0);
    add(p + "output.LayerNorm.bias", {H});
  }
  add("pooler.dense.weight", {H, H});  // present in the real file, unused
  add("pooler.dense.bias", {H});
  return w;
}

void WriteSafetensors(const fs::path& path, const Weights& weights, const std::string& prefix) {
  nlohmann::json header = nlohmann::json::object();
  std::vector<uint8_t> data;
  for (const auto& [name, t] : weights) {
    const size_t begin = data.size();
    for (double v : t.values) {
      if (t.dtype == "F16") {
        data.push_back(0);
        data.push_back(0);
      } else {
        const float f = static_cast<float>(v);
        uint8_t b[4];
        std::memcpy(b, &f, 4);
        data.insert(data.end(), b, b + 4);
      }
    }
    header[prefix + name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  header["__metadata__"] = {{"format", "pt"}};
  const std::string text = header.dump();
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
  out << text;
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

nlohmann::json ConfigJson(const TinyConfig& c) {
  return {{"architectures", {"BertModel"}}, {"hidden_act", "gelu"},
          {"hidden_size", c.hidden},        {"intermediate_size", c.intermediate},
          {"layer_norm_eps", 1e-12},        {"max_position_embeddings", c.max_positions},
          {"model_type", "bert"},           {"num_attention_heads", c.heads},
          {"num_hidden_layers", c.layers},  {"position_embedding_type", "absolute"},
          {"type_vocab_size", 2},           {"vocab_size", static_cast<int>(kVocab.size())}};
}

void WriteJson(const fs::path& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(); }

// A model directory under the test's temp dir, removed at the end.
class TinyModel {
 public:
  TinyModel(const TinyConfig& c, uint32_t seed, const std::string& prefix = "")
      : config_(c), weights_(RandomWeights(c, seed)) {
    dir_ = fs::path(::testing::TempDir()) /
           ("bert_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(dir_ / "1_Pooling");
    config_json_ = ConfigJson(c);
    prefix_ = prefix;
    Write();
  }
  ~TinyModel() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Write() {
    WriteJson(dir_ / "config.json", config_json_);
    WriteJson(dir_ / "sentence_bert_config.json",
              {{"max_seq_length", config_.max_seq_length}, {"do_lower_case", false}});
    WriteJson(dir_ / "1_Pooling" / "config.json", pooling_json_);
    std::ofstream vocab(dir_ / "vocab.txt");
    for (const auto& v : kVocab) vocab << v << "\n";
    vocab.close();
    WriteSafetensors(dir_ / "model.safetensors", weights_, prefix_);
  }

  Result<std::unique_ptr<BertEmbedder>> Open(int threads = 1, int max_batch_tokens = 4096) {
    BertEmbedderOptions o;
    o.threads = threads;
    o.max_batch_tokens = max_batch_tokens;
    return BertEmbedder::Open(dir_.string(), o);
  }

  // Reference: pad the batch to its longest sequence, mask the padding in attention
  // and pooling, all in double.
  std::vector<std::vector<double>> Reference(const std::vector<std::vector<int32_t>>& batch) const {
    const int H = config_.hidden, nh = config_.heads, hd = H / nh, I = config_.intermediate;
    size_t L = 0;
    for (const auto& ids : batch) L = std::max(L, ids.size());
    auto W = [&](const std::string& n) -> const std::vector<double>& {
      return weights_.at(n).values;
    };
    auto layer_norm = [&](std::vector<double>& x, const std::string& n) {
      double mean = 0, var = 0;
      for (double v : x) mean += v;
      mean /= H;
      for (double v : x) var += (v - mean) * (v - mean);
      var /= H;
      for (int i = 0; i < H; ++i) {
        x[i] = (x[i] - mean) / std::sqrt(var + 1e-12) * W(n + ".weight")[i] + W(n + ".bias")[i];
      }
    };
    auto linear = [&](const std::vector<double>& x, const std::string& n, int out) {
      const auto& w = W(n + ".weight");
      const auto& b = W(n + ".bias");
      const size_t in = x.size();
      std::vector<double> y(out);
      for (int o = 0; o < out; ++o) {
        double s = b[o];
        for (size_t i = 0; i < in; ++i) s += w[o * in + i] * x[i];
        y[o] = s;
      }
      return y;
    };
    std::vector<std::vector<double>> result;
    for (const auto& ids : batch) {
      std::vector<int32_t> padded = ids;
      padded.resize(L, 0);  // [PAD]
      std::vector<std::vector<double>> x(L, std::vector<double>(H));
      for (size_t t = 0; t < L; ++t) {
        for (int i = 0; i < H; ++i) {
          x[t][i] = W("embeddings.word_embeddings.weight")[padded[t] * H + i] +
                    W("embeddings.position_embeddings.weight")[t * H + i] +
                    W("embeddings.token_type_embeddings.weight")[i];
        }
        layer_norm(x[t], "embeddings.LayerNorm");
      }
      for (int il = 0; il < config_.layers; ++il) {
        const std::string p = "encoder.layer." + std::to_string(il) + ".";
        std::vector<std::vector<double>> q(L), k(L), v(L);
        for (size_t t = 0; t < L; ++t) {
          q[t] = linear(x[t], p + "attention.self.query", H);
          k[t] = linear(x[t], p + "attention.self.key", H);
          v[t] = linear(x[t], p + "attention.self.value", H);
        }
        std::vector<std::vector<double>> next(L);
        for (size_t t = 0; t < L; ++t) {
          std::vector<double> ctx(H, 0.0);
          for (int h = 0; h < nh; ++h) {
            std::vector<double> s(L);
            double mx = -1e300;
            for (size_t j = 0; j < L; ++j) {
              double d = 0;
              for (int e = 0; e < hd; ++e) d += q[t][h * hd + e] * k[j][h * hd + e];
              s[j] = d / std::sqrt(double(hd)) + (j < ids.size() ? 0.0 : -1e30);
              mx = std::max(mx, s[j]);
            }
            double sum = 0;
            for (double& e : s) sum += (e = std::exp(e - mx));
            for (size_t j = 0; j < L; ++j) {
              for (int e = 0; e < hd; ++e) ctx[h * hd + e] += s[j] / sum * v[j][h * hd + e];
            }
          }
          std::vector<double> a = linear(ctx, p + "attention.output.dense", H);
          for (int i = 0; i < H; ++i) a[i] += x[t][i];
          layer_norm(a, p + "attention.output.LayerNorm");
          std::vector<double> u = linear(a, p + "intermediate.dense", I);
          for (double& e : u) e = 0.5 * e * (1.0 + std::erf(e / std::sqrt(2.0)));
          std::vector<double> d = linear(u, p + "output.dense", H);
          for (int i = 0; i < H; ++i) d[i] += a[i];
          layer_norm(d, p + "output.LayerNorm");
          next[t] = d;
        }
        x = next;
      }
      std::vector<double> mean(H, 0.0);
      for (size_t t = 0; t < ids.size(); ++t) {
        for (int i = 0; i < H; ++i) mean[i] += x[t][i] / ids.size();
      }
      double norm = 0;
      for (double e : mean) norm += e * e;
      for (double& e : mean) e /= std::sqrt(norm);
      result.push_back(mean);
    }
    return result;
  }

  const fs::path& dir() const { return dir_; }
  Weights& weights() { return weights_; }
  nlohmann::json& config_json() { return config_json_; }
  nlohmann::json& pooling_json() { return pooling_json_; }
  std::string& prefix() { return prefix_; }

 private:
  static inline int counter_ = 0;
  TinyConfig config_;
  Weights weights_;
  fs::path dir_;
  nlohmann::json config_json_;
  nlohmann::json pooling_json_ = {{"word_embedding_dimension", 16},
                                  {"pooling_mode_cls_token", false},
                                  {"pooling_mode_mean_tokens", true},
                                  {"pooling_mode_max_tokens", false},
                                  {"pooling_mode_mean_sqrt_len_tokens", false}};
  std::string prefix_;
};

const std::vector<std::string> kTexts = {
    "the cat sat on the mat.",
    "",
    "hello world!",
    "a big dog, a big cat, the mats running on the mat. hello world! the dog sat.",
    "unknown words here",
    "dog",
};

double MaxDiff(const std::vector<float>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

void ExpectMatchesReference(TinyModel& tiny, BertEmbedder& model) {
  auto got = model.Embed(kTexts);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), kTexts.size());
  std::vector<std::vector<int32_t>> ids;
  for (const auto& t : kTexts) {
    auto r = model.tokenizer().Encode(t, true, true);
    ASSERT_TRUE(r.ok());
    ids.push_back(*r);
  }
  EXPECT_EQ(ids[3].size(), 12u);  // truncated to max_seq_length, [SEP] kept
  EXPECT_EQ(ids[3].back(), 3);
  const auto want = tiny.Reference(ids);
  for (size_t i = 0; i < kTexts.size(); ++i) {
    SCOPED_TRACE(kTexts[i]);
    ASSERT_EQ((*got)[i].size(), static_cast<size_t>(model.dim()));
    EXPECT_LT(MaxDiff((*got)[i], want[i]), 2e-5);
  }
}

TEST(BertEmbedderTest, MatchesReference) {
  TinyModel tiny(TinyConfig{}, 1);
  auto model = tiny.Open();
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->dim(), 16);
  EXPECT_EQ((*model)->max_seq_length(), 12);
  ExpectMatchesReference(tiny, **model);
}

TEST(BertEmbedderTest, MatchesReferenceWithOddSizesAndThreads) {
  // hidden 12 (not a multiple of 8) takes the generic dot path; 3 heads of 4.
  TinyConfig c;
  c.hidden = 12;
  c.heads = 3;
  c.intermediate = 20;
  c.layers = 3;
  TinyModel tiny(c, 2);
  tiny.pooling_json()["word_embedding_dimension"] = 12;
  tiny.Write();
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE(threads);
    auto model = tiny.Open(threads);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    ExpectMatchesReference(tiny, **model);
  }
}

TEST(BertEmbedderTest, BertPrefixedNames) {
  TinyModel tiny(TinyConfig{}, 3, "bert.");
  auto model = tiny.Open(2);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ExpectMatchesReference(tiny, **model);
}

TEST(BertEmbedderTest, SameAloneAndInABatchAndAcrossPasses) {
  TinyModel tiny(TinyConfig{}, 4);
  auto model = tiny.Open(2);
  ASSERT_TRUE(model.ok());
  // max_batch_tokens 12: every sequence gets a pass of its own.
  auto small = tiny.Open(1, 12);
  ASSERT_TRUE(small.ok());
  auto batch = (*model)->Embed(kTexts);
  auto passes = (*small)->Embed(kTexts);
  ASSERT_TRUE(batch.ok() && passes.ok());
  for (size_t i = 0; i < kTexts.size(); ++i) {
    SCOPED_TRACE(kTexts[i]);
    auto alone = (*model)->Embed(std::span<const std::string>(&kTexts[i], 1));
    ASSERT_TRUE(alone.ok());
    for (int j = 0; j < (*model)->dim(); ++j) {
      EXPECT_NEAR((*alone)[0][j], (*batch)[i][j], 1e-6);
      EXPECT_NEAR((*passes)[i][j], (*batch)[i][j], 1e-6);
    }
  }
}

TEST(BertEmbedderTest, UnitNormAndEmptyBatch) {
  TinyModel tiny(TinyConfig{}, 5);
  auto model = tiny.Open();
  ASSERT_TRUE(model.ok());
  auto got = (*model)->Embed(kTexts);
  ASSERT_TRUE(got.ok());
  for (const auto& v : *got) {
    double n = 0;
    for (float e : v) n += double(e) * e;
    EXPECT_NEAR(std::sqrt(n), 1.0, 1e-6);
  }
  auto none = (*model)->Embed({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(BertEmbedderTest, InvalidUtf8NamesTheText) {
  TinyModel tiny(TinyConfig{}, 6);
  auto model = tiny.Open();
  ASSERT_TRUE(model.ok());
  const std::vector<std::string> texts = {"hello", "bad \xff byte"};
  auto got = (*model)->Embed(texts);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find("text 1"), std::string::npos) << got.status().message();
}

Status OpenError(TinyModel& tiny) {
  tiny.Write();
  auto m = tiny.Open();
  return m.ok() ? OkStatus() : m.status();
}

void ExpectError(const Status& s, StatusCode code, const std::string& needle) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.ToString();
}

TEST(BertEmbedderTest, MissingTensor) {
  TinyModel tiny(TinyConfig{}, 7);
  tiny.weights().erase("encoder.layer.1.output.dense.bias");
  ExpectError(OpenError(tiny), StatusCode::kInvalidArgument,
              "missing tensor encoder.layer.1.output.dense.bias");
}

TEST(BertEmbedderTest, WrongShape) {
  TinyModel tiny(TinyConfig{}, 8);
  auto& t = tiny.weights()["encoder.layer.0.intermediate.dense.weight"];
  t.shape = {16, 40};  // transposed
  ExpectError(OpenError(tiny), StatusCode::kInvalidArgument,
              "tensor encoder.layer.0.intermediate.dense.weight has shape [16, 40], expected "
              "[40, 16]");
}

TEST(BertEmbedderTest, WrongDtype) {
  TinyModel tiny(TinyConfig{}, 9);
  tiny.weights()["embeddings.LayerNorm.weight"].dtype = "F16";
  ExpectError(OpenError(tiny), StatusCode::kInvalidArgument,
              "tensor embeddings.LayerNorm.weight has dtype F16, expected F32");
}

TEST(BertEmbedderTest, WrongVocabularySize) {
  TinyModel tiny(TinyConfig{}, 10);
  tiny.config_json()["vocab_size"] = 30;
  ExpectError(OpenError(tiny), StatusCode::kInvalidArgument,
              "tensor embeddings.word_embeddings.weight has shape [21, 16], expected [30, 16]");
}

TEST(BertEmbedderTest, ConfigErrors) {
  {
    TinyModel tiny(TinyConfig{}, 11);
    tiny.config_json()["hidden_act"] = "relu";
    ExpectError(OpenError(tiny), StatusCode::kUnimplemented, "hidden_act 'relu'");
  }
  {
    TinyModel tiny(TinyConfig{}, 12);
    tiny.config_json()["num_attention_heads"] = 3;
    ExpectError(OpenError(tiny), StatusCode::kInvalidArgument, "not a multiple");
  }
  {
    TinyModel tiny(TinyConfig{}, 13);
    tiny.config_json().erase("hidden_size");
    ExpectError(OpenError(tiny), StatusCode::kInvalidArgument, "\"hidden_size\"");
  }
  {
    TinyModel tiny(TinyConfig{}, 14);
    tiny.pooling_json()["pooling_mode_cls_token"] = true;
    ExpectError(OpenError(tiny), StatusCode::kUnimplemented, "pooling_mode_cls_token");
  }
  {
    TinyModel tiny(TinyConfig{}, 15);
    fs::remove(tiny.dir() / "config.json");
    auto m = tiny.Open();
    ASSERT_FALSE(m.ok());
    ExpectError(m.status(), StatusCode::kNotFound, "config.json");
  }
  {
    TinyModel tiny(TinyConfig{}, 16);
    fs::remove(tiny.dir() / "model.safetensors");
    auto m = tiny.Open();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kNotFound) << m.status().ToString();
  }
}

TEST(BertEmbedderTest, MissingDirectoryAndBadOptions) {
  auto m = BertEmbedder::Open("/nonexistent/bert-model", {});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);

  BertEmbedderOptions o;
  o.threads = 0;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.max_seq_length = 2;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.max_seq_length = 300;
  o.max_batch_tokens = 100;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(BertEmbedderOptions{}.Validate().ok());
}

}  // namespace
}  // namespace gantry::engine
