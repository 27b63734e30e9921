// Parity of the Gemma 3 engine with llama.cpp on the default model file.
//
// Fixtures: fixtures/gemma3_parity.json, made by fixtures/make_gemma3_fixtures.py
// (llama-cpp-python, same GGUF). Tolerances and why (docs/engine.md has the numbers):
// a single token reproduces llama.cpp's logits to ~1e-5. Past that, Gemma 3's
// activations are quantized to 8 bits before every weight product, so a last-bit
// difference in a float sum (our AVX2 kernels add in another order than llama.cpp's)
// now and then moves one activation by a whole quantization step, and those steps
// add up over 18 layers: our own scalar and AVX2 kernels differ from each other by up
// to 1.1 (mean 0.16) on a 6-token prompt and 1.7 (mean 1.0) on the 19-token chat prompt. The logit
// tolerances sit above that noise floor; greedy tokens must be identical wherever llama.cpp's own
// choice is clear (best minus second-best logit >= kClearMargin), and the test
// reports where it stopped comparing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/gemma3.h"
#include "engine/quant.h"

namespace gantry::engine {
namespace {

constexpr double kMaxAbsDiff = 2.5;
constexpr double kMeanAbsDiff = 1.0;
constexpr double kClearMargin = 1.0;

std::string SourceDir() {
  const char* s = std::getenv("GANTRY_SOURCE_DIR");
  return s != nullptr && *s != '\0' ? s : ".";
}

std::string ModelPath() {
  if (const char* m = std::getenv("GANTRY_MODELS"); m != nullptr && *m != '\0') {
    return std::string(m) + "/gemma-3-270m-q4_k_m.gguf";
  }
  return SourceDir() + "/models/gemma-3-270m-q4_k_m.gguf";
}

class Gemma3ParityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto f = GgufFile::Open(ModelPath());
    ASSERT_TRUE(f.ok()) << f.status().ToString() << " (run `build/gantry models pull`)";
    auto m = Gemma3Model::Load(*f);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = *m;
    const std::string fixture = SourceDir() + "/tests/engine_model/fixtures/gemma3_parity.json";
    std::ifstream in(fixture);
    ASSERT_TRUE(in) << "missing fixture " << fixture;
    fixtures_ = nlohmann::json::parse(in);
  }
  static void TearDownTestSuite() { model_.reset(); }

  static inline std::shared_ptr<const Gemma3Model> model_;
  static inline nlohmann::json fixtures_;
};

TEST_F(Gemma3ParityTest, SingleTokenLogitsMatchLlamaCppToRounding) {
  Workers workers(2);
  // With the AVX2 kernels a single token reproduces llama.cpp's x86 logits to ~1e-5
  // (measured). The scalar reference sums in another order, which is enough to flip an
  // activation's 8-bit rounding now and then (see the top of this file).
  const double tol = &Kernels() == &ScalarKernels() ? kMaxAbsDiff : 1e-3;
  const int step = fixtures_["sample_ids_step"].get<int>();
  ASSERT_GE(fixtures_["single_token"].size(), 3u);
  for (const auto& c : fixtures_["single_token"]) {
    const int32_t id = c["id"].get<int32_t>();
    SCOPED_TRACE("token " + std::to_string(id));
    auto state = model_->NewState(8);
    std::vector<float> logits(model_->hparams().n_vocab);
    const int32_t one[] = {id};
    ASSERT_TRUE(model_->Forward(one, *state, logits, workers).ok());
    const auto top_ids = c["top_ids"].get<std::vector<int32_t>>();
    const auto top_logits = c["top_logits"].get<std::vector<double>>();
    for (size_t i = 0; i < top_ids.size(); ++i) {
      EXPECT_NEAR(logits[top_ids[i]], top_logits[i], tol) << "id " << top_ids[i];
    }
    const auto sample = c["sample_logits"].get<std::vector<double>>();
    for (size_t i = 0; i < sample.size(); ++i) {
      EXPECT_NEAR(logits[i * step], sample[i], tol) << "id " << i * step;
    }
  }
}

TEST_F(Gemma3ParityTest, LogitsAndGreedyTokensMatchLlamaCpp) {
  ASSERT_GE(fixtures_["cases"].size(), 4u);
  Workers workers(2);
  const int step = fixtures_["sample_ids_step"].get<int>();
  for (const auto& c : fixtures_["cases"]) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    auto state = model_->NewState(512);
    std::vector<float> logits(model_->hparams().n_vocab);
    ASSERT_TRUE(model_->Forward(ids, *state, logits, workers).ok());

    // Logits of the last prompt token.
    const auto top_ids = c["top_ids"].get<std::vector<int32_t>>();
    const auto top_logits = c["top_logits"].get<std::vector<double>>();
    const auto sample = c["sample_logits"].get<std::vector<double>>();
    double max_diff = 0.0, sum_diff = 0.0;
    size_t n = 0;
    for (size_t i = 0; i < top_ids.size(); ++i, ++n) {
      const double d = std::fabs(logits[top_ids[i]] - top_logits[i]);
      max_diff = std::max(max_diff, d);
      sum_diff += d;
    }
    for (size_t i = 0; i < sample.size(); ++i, ++n) {
      const double d = std::fabs(logits[i * step] - sample[i]);
      max_diff = std::max(max_diff, d);
      sum_diff += d;
    }
    const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(best, top_ids[0]);
    EXPECT_LE(max_diff, kMaxAbsDiff);
    EXPECT_LE(sum_diff / n, kMeanAbsDiff);

    // Greedy continuation, teacher-forced with llama.cpp's tokens so that one near-tie
    // does not end the comparison: every step where llama.cpp's choice was clear must
    // pick the same token.
    const auto want = c["greedy"].get<std::vector<int32_t>>();
    const auto margins = c["greedy_margins"].get<std::vector<double>>();
    size_t clear = 0, same = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const int32_t got =
          static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      if (margins[i] >= kClearMargin) {
        EXPECT_EQ(got, want[i]) << "greedy token " << i << " (llama.cpp margin " << margins[i]
                                << ")";
        ++clear;
      }
      same += got == want[i] ? 1 : 0;
      const int32_t next[] = {want[i]};
      ASSERT_TRUE(model_->Forward(next, *state, logits, workers).ok());
    }
    std::string label = c["prompt"].get<std::string>().substr(0, 32);
    std::replace(label.begin(), label.end(), '\n', ' ');
    std::printf(
        "[ parity ] %-32s logits max|d| %.3f mean|d| %.3f; greedy: %zu of %zu tokens "
        "identical, %zu steps clear in llama.cpp\n",
        label.c_str(), max_diff, sum_diff / n, same, want.size(), clear);
  }
}

}  // namespace
}  // namespace gantry::engine
