// KernelSet::MatMul: every result bit-identical to the same set's vec_dot of that (weight
// row, activation row) pair, for every weight type, tile remainder, stride and ldy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/cpu_features.h"
#include "engine/quant.h"
#include "engine/quant_test_util.h"

namespace gantry::engine {
namespace {

using quant_testing::Avx2Unavailable;
using quant_testing::Bits;
using quant_testing::kWeightTypes;
using quant_testing::RandomRow;

// `rows` random valid weight rows (RandomRow), `stride` bytes apart; the padding
// between rows is random too.
std::vector<uint8_t> RandomWeights(GgmlType t, int64_t rows, int64_t n, int64_t stride,
                                   std::mt19937& rng) {
  std::vector<uint8_t> w(static_cast<size_t>(rows * stride));
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : w) b = static_cast<uint8_t>(byte(rng));
  for (int64_t r = 0; r < rows; ++r) {
    const std::vector<uint8_t> row = RandomRow(t, n, rng);
    std::memcpy(w.data() + r * stride, row.data(), row.size());
  }
  return w;
}

// `cols` activation rows quantized with `k` to the vec_dot_type of `t`, `stride` bytes
// apart. Row magnitudes vary; every fourth row has an all-zero first block (d = 0).
std::vector<uint8_t> RandomActivations(const KernelSet& k, GgmlType t, int64_t cols, int64_t n,
                                       int64_t stride, std::mt19937& rng) {
  const GgmlType at = Traits(t)->vec_dot_type;
  std::vector<uint8_t> a(static_cast<size_t>(cols * stride), 0xA5);
  const float scales[] = {1.0f, 1e-3f, 30.0f};
  for (int64_t c = 0; c < cols; ++c) {
    std::normal_distribution<float> normal(0.0f, scales[c % 3]);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = normal(rng);
    if (c % 4 == 3) {
      for (int64_t i = 0; i < std::min<int64_t>(n, Traits(at)->block_elems); ++i) x[i] = 0.0f;
    }
    k.Quantize(at)(x.data(), a.data() + c * stride, n);
  }
  return a;
}

std::vector<int64_t> Lengths(GgmlType t) {
  const int be = Traits(t)->block_elems;
  if (be == 1) return {7, 64, 640};
  if (be == kQK) return {32, 64, 96, 640};  // 1, 2, 3 and 20 blocks
  return {256, 512, 768};
}

constexpr uint32_t kSentinel = 0x7FC0DEADu;  // a NaN no kernel produces

// Runs the set's MatMul for one shape and compares every result with its vec_dot; the
// entries of y outside the rows x cols block (ldy padding) must keep the sentinel.
void CheckShape(const KernelSet& k, GgmlType t, int64_t rows, int64_t cols, int64_t n,
                int64_t w_pad, int64_t a_pad, int64_t ldy, std::mt19937& rng) {
  SCOPED_TRACE(std::string(k.name) + " " + Traits(t)->name + " rows=" + std::to_string(rows) +
               " cols=" + std::to_string(cols) + " n=" + std::to_string(n) +
               " ldy=" + std::to_string(ldy));
  const GgmlType at = Traits(t)->vec_dot_type;
  const int64_t w_stride = RowBytes(t, n) + w_pad;
  const int64_t a_stride = RowBytes(at, n) + a_pad;
  const std::vector<uint8_t> w = RandomWeights(t, rows, n, w_stride, rng);
  const std::vector<uint8_t> a = RandomActivations(k, t, cols, n, a_stride, rng);
  std::vector<uint32_t> y(static_cast<size_t>(cols * ldy), kSentinel);
  auto* yf = reinterpret_cast<float*>(y.data());
  ASSERT_NE(k.MatMul(t), nullptr);
  k.MatMul(t)(w.data(), w_stride, rows, a.data(), a_stride, cols, n, yf, ldy);
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t r = 0; r < ldy; ++r) {
      const uint32_t got = y[c * ldy + r];
      if (r >= rows) {
        ASSERT_EQ(got, kSentinel) << "wrote outside the product at c=" << c << " r=" << r;
        continue;
      }
      const float want = k.Dot(t)(w.data() + r * w_stride, a.data() + c * a_stride, n);
      ASSERT_EQ(got, Bits(want)) << "pair r=" << r << " c=" << c << ": got " << yf[c * ldy + r]
                                 << " want " << want;
    }
  }
}

class QuantMatMulTest : public testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (std::string(GetParam()) == "avx2" && Avx2Unavailable()) {
      GTEST_SKIP() << "no AVX2/FMA/F16C on this CPU";
    }
  }
  const KernelSet& kernels() {
    return std::string(GetParam()) == "avx2" ? *Avx2Kernels() : ScalarKernels();
  }
};

TEST_P(QuantMatMulTest, EveryTypeHasAMatMul) {
  for (GgmlType t : kWeightTypes) EXPECT_NE(kernels().MatMul(t), nullptr) << Traits(t)->name;
  EXPECT_EQ(kernels().MatMul(GgmlType::kQ8_1), nullptr);
  EXPECT_EQ(kernels().MatMul(GgmlType::kQ8_K), nullptr);
  EXPECT_EQ(kernels().MatMul(GgmlType::kQ2_K), nullptr);
  EXPECT_EQ(kernels().MatMul(static_cast<GgmlType>(1000)), nullptr);
}

// Rows and cols around and off the tile sizes; one block and several (odd and even
// counts); alternately padded row strides; ldy both equal to and larger than rows.
TEST_P(QuantMatMulTest, BitIdenticalToVecDotPerPair) {
  std::mt19937 rng(11);
  for (GgmlType t : kWeightTypes) {
    for (int64_t n : Lengths(t)) {
      int shape = 0;
      for (int64_t rows : {1, 3, 5, 7, 17}) {
        for (int64_t cols : {1, 2, 3, 5, 9}) {
          const int64_t pad = shape % 2 == 0 ? 0 : 64;
          const int64_t ldy = shape % 3 == 0 ? rows : rows + 3;
          ++shape;
          ASSERT_NO_FATAL_FAILURE(CheckShape(kernels(), t, rows, cols, n, pad, pad, ldy, rng));
        }
      }
    }
  }
}

// Enough activation rows of a long row length that the tiled kernels split them into
// several panels.
TEST_P(QuantMatMulTest, LongRowsManyColsBitIdentical) {
  std::mt19937 rng(12);
  for (GgmlType t : kWeightTypes) {
    ASSERT_NO_FATAL_FAILURE(CheckShape(kernels(), t, /*rows=*/6, /*cols=*/61, /*n=*/4096,
                                       /*w_pad=*/0, /*a_pad=*/32, /*ldy=*/7, rng));
  }
}

TEST_P(QuantMatMulTest, EmptyProductWritesNothing) {
  std::mt19937 rng(13);
  for (GgmlType t : kWeightTypes) {
    const int64_t n = Traits(t)->block_elems == 1 ? 64 : Traits(t)->block_elems;
    const int64_t w_stride = RowBytes(t, n);
    const int64_t a_stride = RowBytes(Traits(t)->vec_dot_type, n);
    const std::vector<uint8_t> w = RandomWeights(t, 4, n, w_stride, rng);
    const std::vector<uint8_t> a = RandomActivations(kernels(), t, 4, n, a_stride, rng);
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{0, 4}, {4, 0}, {0, 0}}) {
      std::vector<uint32_t> y(32, kSentinel);
      kernels().MatMul(t)(w.data(), w_stride, rows, a.data(), a_stride, cols, n,
                          reinterpret_cast<float*>(y.data()), 4);
      EXPECT_EQ(y, std::vector<uint32_t>(32, kSentinel))
          << Traits(t)->name << " rows=" << rows << " cols=" << cols;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Quant, QuantMatMulTest, testing::Values("scalar", "avx2"),
                         [](const testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

TEST(QuantQ8_0Act, Avx2MatchesScalarIncludingTies) {
  if (Avx2Unavailable()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(32 * 40);
  for (auto& v : x) v = normal(rng);
  // Blocks whose amax is 127 scale by exactly 1: k + 0.5 values are ties (even wins).
  for (int i = 0; i < 32; ++i) x[i] = i == 0 ? 127.0f : static_cast<float>(i % 7) - 3.5f;
  std::fill(x.begin() + 32, x.begin() + 64, 0.0f);  // an all-zero block
  const int64_t bytes = RowBytes(GgmlType::kQ8_0, static_cast<int64_t>(x.size()));
  std::vector<uint8_t> a(bytes), b(bytes);
  ScalarKernels().quantize_q8_0_act(x.data(), a.data(), static_cast<int64_t>(x.size()));
  Avx2Kernels()->quantize_q8_0_act(x.data(), b.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(a, b);
  const auto* blk = reinterpret_cast<const BlockQ8_0*>(a.data());
  EXPECT_EQ(blk[0].qs[1], -2);  // -2.5 -> -2 (half to even), not -3
  EXPECT_EQ(blk[0].qs[2], -2);  // -1.5 -> -2
  EXPECT_EQ(blk[0].qs[4], 0);   // 0.5 -> 0
}

TEST(QuantAxpyF16, Avx2MatchesScalarBitForBit) {
  if (Avx2Unavailable()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int64_t n : {1, 7, 8, 9, 256, 259}) {
    std::vector<uint16_t> x(n);
    for (auto& v : x) v = Fp32ToFp16(normal(rng));
    std::vector<float> y_scalar(n), y_avx2(n);
    for (int64_t i = 0; i < n; ++i) y_scalar[i] = y_avx2[i] = normal(rng);
    for (float a : {0.25f, 0.1f, -1.7f, 1e-3f}) {
      ScalarKernels().axpy_f16(a, x.data(), y_scalar.data(), n);
      Avx2Kernels()->axpy_f16(a, x.data(), y_avx2.data(), n);
    }
    EXPECT_EQ(0, std::memcmp(y_scalar.data(), y_avx2.data(), n * sizeof(float))) << "n=" << n;
    // And it is what the plain expression gives.
    std::vector<float> y_ref(n, 1.0f), y_k(n, 1.0f);
    for (int64_t i = 0; i < n; ++i) y_ref[i] += 0.3f * Fp16ToFp32(x[i]);
    ScalarKernels().axpy_f16(0.3f, x.data(), y_k.data(), n);
    EXPECT_EQ(0, std::memcmp(y_ref.data(), y_k.data(), n * sizeof(float)));
  }
}

}  // namespace
}  // namespace gantry::engine
