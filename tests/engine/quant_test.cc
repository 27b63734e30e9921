#include "engine/quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu_features.h"
#include "engine/quant_test_util.h"

namespace gantry::engine {
namespace {

using quant_testing::Avx2Unavailable;
using quant_testing::Bits;
using quant_testing::FromBits;
using quant_testing::HalfFields;
using quant_testing::kWeightTypes;
using quant_testing::RandomRow;

// ---- helpers ----

uint32_t Id(GgmlType t) { return static_cast<uint32_t>(t); }

const GgmlType kActTypes[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16,
                              GgmlType::kQ8_0, GgmlType::kQ8_1, GgmlType::kQ8_K};

std::vector<float> RandomFloats(int64_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = normal(rng);
  return x;
}

std::vector<int64_t> Lengths(GgmlType t) {
  const int be = Traits(t)->block_elems;
  if (be == 1) return {1, 7, 8, 15, 16, 31, 33, 640, 1000};
  if (be == kQK) return {32, 64, 96, 640, 2048};
  return {256, 512, 768, 2560};
}

std::vector<float> Dequant(const KernelSet& k, GgmlType t, const void* src, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  k.Dequantize(t)(src, out.data(), n);
  return out;
}

std::vector<uint8_t> Quant(const KernelSet& k, GgmlType t, const float* x, int64_t n) {
  std::vector<uint8_t> out(static_cast<size_t>(RowBytes(t, n)));
  k.Quantize(t)(x, out.data(), n);
  return out;
}

// Index of the first bitwise difference, or -1.
int64_t FirstBitDiff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Bits(a[i]) != Bits(b[i])) return static_cast<int64_t>(i);
  }
  return -1;
}

// ---- fixtures made by gguf-py (tests/engine/fixtures/make_quant_fixtures.py) ----

struct Fixture {
  GgmlType type;
  std::vector<uint8_t> blocks;
  std::vector<float> values;
};

std::string FixtureDir() {
  if (const char* s = std::getenv("GANTRY_SOURCE_DIR"); s != nullptr && *s != '\0') {
    return std::string(s) + "/tests/engine/fixtures/quant";
  }
  std::string here = __FILE__;  // absolute under CMake
  return here.substr(0, here.find_last_of('/')) + "/fixtures/quant";
}

// Fails the calling test (ASSERT) when the file is missing or malformed.
void LoadFixture(const std::string& name, Fixture* f) {
  const std::string path = FixtureDir() + "/" + name;
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << "missing fixture " << path
                         << " (set GANTRY_SOURCE_DIR to the source tree, or regenerate with "
                            "tests/engine/fixtures/make_quant_fixtures.py)";
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(data.size(), 16u) << path;
  ASSERT_EQ(std::memcmp(data.data(), "GQF1", 4), 0) << path;
  uint32_t hdr[3];
  std::memcpy(hdr, data.data() + 4, 12);
  const uint32_t n = hdr[1], nbytes = hdr[2];
  ASSERT_EQ(data.size(), 16u + nbytes + 4ull * n) << path;
  f->type = static_cast<GgmlType>(hdr[0]);
  f->blocks.assign(data.begin() + 16, data.begin() + 16 + nbytes);
  f->values.resize(n);
  std::memcpy(f->values.data(), data.data() + 16 + nbytes, 4ull * n);
  ASSERT_NE(Traits(f->type), nullptr) << path;
  ASSERT_EQ(RowBytes(f->type, n), static_cast<int64_t>(nbytes)) << path;
}

std::vector<const KernelSet*> AllKernelSets() {
  std::vector<const KernelSet*> v = {&ScalarKernels()};
  if (Avx2Kernels() != nullptr) v.push_back(Avx2Kernels());
  return v;
}

class QuantFixtureTest : public testing::TestWithParam<const char*> {};

TEST_P(QuantFixtureTest, DequantizeMatchesGgufPyBitExactly) {
  Fixture f;
  ASSERT_NO_FATAL_FAILURE(LoadFixture(std::string(GetParam()) + ".bin", &f));
  EXPECT_STREQ(Traits(f.type)->name, GetParam());
  const auto n = static_cast<int64_t>(f.values.size());
  for (const KernelSet* k : AllKernelSets()) {
    const std::vector<float> got = Dequant(*k, f.type, f.blocks.data(), n);
    const int64_t bad = FirstBitDiff(got, f.values);
    EXPECT_EQ(bad, -1) << k->name << " " << GetParam() << " element " << bad << ": got "
                       << (bad >= 0 ? got[bad] : 0) << " want " << (bad >= 0 ? f.values[bad] : 0);
  }
  std::vector<float> via_default(static_cast<size_t>(n));
  DequantizeRow(f.type, f.blocks.data(), via_default.data(), n);
  EXPECT_EQ(FirstBitDiff(via_default, f.values), -1);
}

INSTANTIATE_TEST_SUITE_P(Quant, QuantFixtureTest,
                         testing::Values("F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
                                         "Q4_K", "Q5_K", "Q6_K"),
                         [](const testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

TEST(QuantFixture, Q8_0QuantizeMatchesGgufPyBitExactly) {
  Fixture f;
  ASSERT_NO_FATAL_FAILURE(LoadFixture("q8_0_quantize.bin", &f));
  ASSERT_EQ(f.type, GgmlType::kQ8_0);
  const auto n = static_cast<int64_t>(f.values.size());
  for (const KernelSet* k : AllKernelSets()) {
    EXPECT_EQ(Quant(*k, GgmlType::kQ8_0, f.values.data(), n), f.blocks) << k->name;
  }
  std::vector<uint8_t> got(f.blocks.size());
  QuantizeRowQ8_0(f.values.data(), got.data(), n);
  EXPECT_EQ(got, f.blocks);
}

// ---- traits and errors ----

TEST(QuantTraits, BlockSizesMatchGgml) {
  struct Want {
    GgmlType t;
    int elems, bytes;
    GgmlType dot;
  };
  const Want want[] = {
      {GgmlType::kF32, 1, 4, GgmlType::kF32},       {GgmlType::kF16, 1, 2, GgmlType::kF16},
      {GgmlType::kBF16, 1, 2, GgmlType::kBF16},     {GgmlType::kQ4_0, 32, 18, GgmlType::kQ8_0},
      {GgmlType::kQ4_1, 32, 20, GgmlType::kQ8_1},   {GgmlType::kQ5_0, 32, 22, GgmlType::kQ8_0},
      {GgmlType::kQ5_1, 32, 24, GgmlType::kQ8_1},   {GgmlType::kQ8_0, 32, 34, GgmlType::kQ8_0},
      {GgmlType::kQ8_1, 32, 36, GgmlType::kQ8_1},   {GgmlType::kQ4_K, 256, 144, GgmlType::kQ8_K},
      {GgmlType::kQ5_K, 256, 176, GgmlType::kQ8_K}, {GgmlType::kQ6_K, 256, 210, GgmlType::kQ8_K},
      {GgmlType::kQ8_K, 256, 292, GgmlType::kQ8_K},
  };
  for (const Want& w : want) {
    const TypeTraits* tr = Traits(w.t);
    ASSERT_NE(tr, nullptr) << Id(w.t);
    EXPECT_EQ(tr->block_elems, w.elems) << tr->name;
    EXPECT_EQ(tr->block_bytes, w.bytes) << tr->name;
    EXPECT_EQ(tr->vec_dot_type, w.dot) << tr->name;
  }
  EXPECT_EQ(Traits(GgmlType::kQ2_K), nullptr);
  EXPECT_EQ(Traits(static_cast<GgmlType>(23)), nullptr);
  EXPECT_EQ(RowBytes(GgmlType::kQ4_K, 1024), 4 * 144);
  EXPECT_EQ(RowBytes(GgmlType::kQ8_0, 640), 20 * 34);
}

TEST(QuantTraits, CheckSupportedNamesTensorAndTypes) {
  for (GgmlType t : kWeightTypes) EXPECT_TRUE(CheckSupported(t, "w").ok()) << Id(t);
  const Status s = CheckSupported(GgmlType::kQ2_K, "blk.0.ffn_down.weight");
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_EQ(s.message(),
            "tensor blk.0.ffn_down.weight: type Q2_K is not supported by the engine (supported: "
            "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K)");
  // Activation-only types are not weight types.
  EXPECT_EQ(CheckSupported(GgmlType::kQ8_K, "x").code(), StatusCode::kUnimplemented);
  EXPECT_EQ(CheckSupported(GgmlType::kQ8_1, "x").code(), StatusCode::kUnimplemented);
  EXPECT_EQ(CheckSupported(static_cast<GgmlType>(23), "x").code(), StatusCode::kUnimplemented);

  EXPECT_TRUE(CheckRowLength(GgmlType::kQ4_K, 1024, "a").ok());
  const Status r = CheckRowLength(GgmlType::kQ4_K, 640, "blk.0.attn_output.weight");
  EXPECT_EQ(r.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.message().find("blk.0.attn_output.weight"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("640"), std::string::npos) << r.message();
  EXPECT_EQ(CheckRowLength(GgmlType::kQ8_0, 0, "a").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckRowLength(GgmlType::kQ2_K, 256, "a").code(), StatusCode::kUnimplemented);
}

TEST(QuantCpu, EnvOverrideForcesScalar) {
  CpuFeatures all;
  all.avx2 = all.fma = all.f16c = true;
  EXPECT_EQ(ChooseCpuLevel(all, nullptr), CpuLevel::kAvx2);
  EXPECT_EQ(ChooseCpuLevel(all, "auto"), CpuLevel::kAvx2);
  EXPECT_EQ(ChooseCpuLevel(all, "scalar"), CpuLevel::kScalar);
  CpuFeatures no_fma = all;
  no_fma.fma = false;
  EXPECT_EQ(ChooseCpuLevel(no_fma, nullptr), CpuLevel::kScalar);
  EXPECT_EQ(ChooseCpuLevel(CpuFeatures{}, "avx2"), CpuLevel::kScalar);
  EXPECT_EQ(CpuLevelName(CpuLevel::kAvx2), "avx2");
  // The process-wide choice agrees with the kernel set in use.
  const bool avx2 = SelectedCpuLevel() == CpuLevel::kAvx2 && Avx2Kernels() != nullptr;
  EXPECT_STREQ(Kernels().name, avx2 ? "avx2" : "scalar");
}

// ---- fp16 / bf16 conversion ----

TEST(QuantConvert, Fp16RoundTripsEveryFiniteHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = Fp16ToFp32(static_cast<uint16_t>(h));
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0) {
      EXPECT_TRUE(std::isnan(f)) << h;
      continue;
    }
    ASSERT_EQ(Fp32ToFp16(f), h) << std::hex << h;
  }
  EXPECT_EQ(Fp16ToFp32(0x3C00), 1.0f);
  EXPECT_EQ(Fp16ToFp32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(Fp32ToFp16(65504.0f), 0x7BFF);
  EXPECT_EQ(Fp32ToFp16(65519.996f), 0x7BFF);
  EXPECT_EQ(Fp32ToFp16(65520.0f), 0x7C00);               // ties to even: rounds to inf
  EXPECT_EQ(Fp32ToFp16(std::ldexp(1.0f, -25)), 0x0000);  // tie, even is 0
  EXPECT_EQ(Fp32ToFp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(Fp32ToFp16(std::ldexp(3.0f, -25)), 0x0002);         // 1.5 ulp ties to even 2
  EXPECT_EQ(Fp32ToFp16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie to even
  EXPECT_EQ(Fp32ToFp16(1.0f + std::ldexp(3.0f, -11)), 0x3C02);
  EXPECT_EQ(Fp32ToFp16(-0.0f), 0x8000);
}

// F16C (through the AVX2 kernels) as the oracle for the scalar conversions.
TEST(QuantConvert, Fp16MatchesF16cOnSampledFloats) {
  const KernelSet* avx2 = Avx2Kernels();
  if (Avx2Unavailable()) GTEST_SKIP() << "no AVX2/F16C on this CPU";
  std::vector<float> in;
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 4099)
    in.push_back(FromBits(static_cast<uint32_t>(u)));
  for (uint32_t e = 100; e < 145; ++e) {  // around every half exponent boundary and tie
    for (uint32_t m : {0u, 1u, 0xFFFu, 0x1000u, 0x1001u, 0x2000u, 0x3000u, 0x7FFFFFu}) {
      in.push_back(FromBits((e << 23) | m));
      in.push_back(FromBits(0x80000000u | (e << 23) | m));
    }
  }
  in.resize(in.size() / 8 * 8);
  const auto n = static_cast<int64_t>(in.size());
  const std::vector<uint8_t> hw = Quant(*avx2, GgmlType::kF16, in.data(), n);
  const std::vector<uint8_t> sw = Quant(ScalarKernels(), GgmlType::kF16, in.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t a, b;
    std::memcpy(&a, &hw[2 * i], 2);
    std::memcpy(&b, &sw[2 * i], 2);
    ASSERT_EQ(a, b) << "float bits " << std::hex << Bits(in[i]);
  }
  // And every half back to float.
  std::vector<uint16_t> halves(0x10000);
  for (uint32_t h = 0; h < 0x10000; ++h) halves[h] = static_cast<uint16_t>(h);
  const std::vector<float> a = Dequant(*avx2, GgmlType::kF16, halves.data(), 0x10000);
  const std::vector<float> b = Dequant(ScalarKernels(), GgmlType::kF16, halves.data(), 0x10000);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if (std::isnan(a[h])) {
      EXPECT_TRUE(std::isnan(b[h])) << h;
    } else {
      ASSERT_EQ(Bits(a[h]), Bits(b[h])) << std::hex << h;
    }
  }
}

TEST(QuantConvert, Bf16RoundsToNearestEven) {
  EXPECT_EQ(Fp32ToBf16(1.0f), 0x3F80);
  EXPECT_EQ(Fp32ToBf16(FromBits(0x3F808000)), 0x3F80);  // tie, even
  EXPECT_EQ(Fp32ToBf16(FromBits(0x3F818000)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(Fp32ToBf16(FromBits(0x3F808001)), 0x3F81);
  EXPECT_EQ(Fp32ToBf16(FromBits(0x7F800001)), 0x7FC0);  // NaN made quiet
  EXPECT_EQ(Bf16ToFp32(0xBF80), -1.0f);
}

// ---- activation quantizers ----

TEST(QuantActivations, Q8_KFollowsReference) {
  // One block whose largest-magnitude element is positive: the reference negates, and
  // max = 127 makes iscale = -1 exactly, so the ties below are exact.
  std::vector<float> x(256, 0.0f);
  x[3] = 127.0f;
  x[7] = -63.5f;   // 63.5 -> 64 (half to even)
  x[9] = -127.0f;  // same magnitude later: the first one decides the sign
  x[10] = 0.5f;    // -0.5 -> 0
  x[11] = 1.5f;    // -1.5 -> -2
  for (const KernelSet* k : AllKernelSets()) {
    const std::vector<uint8_t> q = Quant(*k, GgmlType::kQ8_K, x.data(), 256);
    BlockQ8_K b;
    std::memcpy(&b, q.data(), sizeof b);
    EXPECT_EQ(b.d, -1.0f) << k->name;
    EXPECT_EQ(b.qs[3], -127);
    EXPECT_EQ(b.qs[7], 64);
    EXPECT_EQ(b.qs[9], 127);
    EXPECT_EQ(b.qs[10], 0);
    EXPECT_EQ(b.qs[11], -2);
    EXPECT_EQ(b.bsums[0], -127 + 64 + 127 + 0 - 2);
    for (int g = 1; g < 16; ++g) EXPECT_EQ(b.bsums[g], 0);
  }
  // All zero: d = 0 and every byte defined.
  std::vector<float> zero(512, 0.0f);
  for (const KernelSet* k : AllKernelSets()) {
    const std::vector<uint8_t> q = Quant(*k, GgmlType::kQ8_K, zero.data(), 512);
    EXPECT_EQ(q, std::vector<uint8_t>(q.size(), 0)) << k->name;
  }
}

TEST(QuantActivations, Q8_1SumMatchesQuants) {
  std::mt19937 rng(7);
  const std::vector<float> x = RandomFloats(320, rng);
  const std::vector<uint8_t> q8_0 = Quant(ScalarKernels(), GgmlType::kQ8_0, x.data(), 320);
  const std::vector<uint8_t> q8_1 = Quant(ScalarKernels(), GgmlType::kQ8_1, x.data(), 320);
  for (int b = 0; b < 10; ++b) {
    BlockQ8_0 a;
    BlockQ8_1 c;
    std::memcpy(&a, &q8_0[b * sizeof a], sizeof a);
    std::memcpy(&c, &q8_1[b * sizeof c], sizeof c);
    EXPECT_EQ(a.d, c.d);
    EXPECT_EQ(std::memcmp(a.qs, c.qs, 32), 0);
    int sum = 0;
    for (int8_t v : c.qs) sum += v;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    EXPECT_EQ(c.s, Fp32ToFp16(static_cast<float>(sum) * (amax / 127.0f))) << "block " << b;
  }
}

// ---- AVX2 against scalar ----

class QuantAvx2Test : public testing::Test {
 protected:
  void SetUp() override {
    if (Avx2Unavailable()) GTEST_SKIP() << "no AVX2/FMA/F16C on this CPU";
  }
  const KernelSet& avx2() { return *Avx2Kernels(); }
  const KernelSet& scalar() { return ScalarKernels(); }
};

TEST_F(QuantAvx2Test, DequantizeBitIdentical) {
  std::mt19937 rng(1);
  for (GgmlType t : kWeightTypes) {
    for (int64_t n : Lengths(t)) {
      const std::vector<uint8_t> row = RandomRow(t, n, rng);
      EXPECT_EQ(
          FirstBitDiff(Dequant(avx2(), t, row.data(), n), Dequant(scalar(), t, row.data(), n)), -1)
          << Traits(t)->name << " n=" << n;
    }
  }
}

TEST_F(QuantAvx2Test, QuantizeBitIdentical) {
  std::mt19937 rng(2);
  for (GgmlType t : kActTypes) {
    for (int64_t n : {256, 512, 2560}) {
      for (float scale : {1e-3f, 1.0f, 300.0f}) {
        std::vector<float> x = RandomFloats(n, rng, scale);
        x[5] = 0.0f;
        x[6] = -x[7];  // equal magnitudes
        EXPECT_EQ(Quant(avx2(), t, x.data(), n), Quant(scalar(), t, x.data(), n))
            << Traits(t)->name << " n=" << n << " scale=" << scale;
      }
    }
    // Exact ties after scaling (amax 127 gives d = 1 and iscale = -1).
    std::vector<float> ties(256);
    for (int i = 0; i < 256; ++i) ties[i] = static_cast<float>(i % 64 - 32) + 0.5f;
    ties[0] = 127.0f;
    ties[32] = 127.0f;
    ties[64] = 127.0f;
    ties[96] = 127.0f;
    ties[128] = 127.0f;
    ties[160] = 127.0f;
    ties[192] = 127.0f;
    ties[224] = 127.0f;
    EXPECT_EQ(Quant(avx2(), t, ties.data(), 256), Quant(scalar(), t, ties.data(), 256))
        << Traits(t)->name << " ties";
  }
}

// Random realistic data: the integer block sums agree exactly, so the results differ only
// by float summation order: |avx2 - scalar| <= 1e-5 * sum|w_i * a_i| (the sum of the
// magnitudes of the terms; float rounding over <= 80 blocks is < 1e-6 of it).
TEST_F(QuantAvx2Test, VecDotMatchesScalar) {
  std::mt19937 rng(3);
  for (GgmlType t : kWeightTypes) {
    const GgmlType at = Traits(t)->vec_dot_type;
    for (int64_t n : Lengths(t)) {
      const std::vector<uint8_t> w = RandomRow(t, n, rng);
      const std::vector<float> x = RandomFloats(n, rng);
      const std::vector<uint8_t> a = Quant(scalar(), at, x.data(), n);
      const std::vector<float> wf = Dequant(scalar(), t, w.data(), n);
      const std::vector<float> af = Dequant(scalar(), at, a.data(), n);
      double mag = 0;
      for (int64_t i = 0; i < n; ++i) mag += std::fabs(static_cast<double>(wf[i]) * af[i]);
      const float s = scalar().Dot(t)(w.data(), a.data(), n);
      const float v = avx2().Dot(t)(w.data(), a.data(), n);
      EXPECT_LE(std::fabs(static_cast<double>(s) - v), 1e-5 * mag + 1e-30)
          << Traits(t)->name << " n=" << n << " scalar " << s << " avx2 " << v;
    }
  }
}

// Scales chosen so every float in the computation is an integer below 2^24: then any
// summation order is exact, and both kernels must equal the integer dot exactly.
TEST_F(QuantAvx2Test, VecDotExactOnIntegerData) {
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> q(-126, 126);
  for (GgmlType t : kWeightTypes) {
    if (t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16) continue;
    const GgmlType at = Traits(t)->vec_dot_type;
    const int64_t n = Traits(t)->block_elems == kQK ? 256 : 512;
    std::vector<uint8_t> w = RandomRow(t, n, rng, /*fixed_scale=*/1.0f);
    if (t == GgmlType::kQ6_K) {  // small int8 scales keep the sums small
      for (int64_t b = 0; b < n / kQK_K; ++b) {
        auto* blk = reinterpret_cast<BlockQ6_K*>(w.data()) + b;
        for (auto& s : blk->scales) s = static_cast<int8_t>(q(rng) % 8);
      }
    }
    // Integer activations whose largest magnitude in each block is 127: d = +-1 exactly.
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = static_cast<float>(q(rng));
    const int be = Traits(at)->block_elems;
    for (int64_t b = 0; b < n / be; ++b) x[b * be + 1] = -127.0f;
    const std::vector<uint8_t> a = Quant(scalar(), at, x.data(), n);
    const std::vector<float> wf = Dequant(scalar(), t, w.data(), n);
    const std::vector<float> af = Dequant(scalar(), at, a.data(), n);
    double want = 0;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(af[i], x[i]) << Traits(t)->name;  // quantization was lossless
      want += static_cast<double>(wf[i]) * af[i];
    }
    ASSERT_LT(std::fabs(want), 1 << 24);
    EXPECT_EQ(scalar().Dot(t)(w.data(), a.data(), n), static_cast<float>(want)) << Traits(t)->name;
    EXPECT_EQ(avx2().Dot(t)(w.data(), a.data(), n), static_cast<float>(want)) << Traits(t)->name;
  }
}

// ---- VecDot against dequantize-then-dot ----

// VecDot(w, quant(x)) differs from sum(deq(w)_i * x_i) by the activation quantization
// error, bounded by sum|deq(w)_i| * |x_i - deq(quant(x))_i|, plus float rounding (1e-5 of
// the term magnitudes) and, for Q8_1, the fp16 rounding of each block's d*sum (2^-11).
TEST(QuantVecDot, MatchesDequantizedDotWithinActivationError) {
  std::mt19937 rng(5);
  for (const KernelSet* k : AllKernelSets()) {
    for (GgmlType t : kWeightTypes) {
      const GgmlType at = Traits(t)->vec_dot_type;
      for (int64_t n : Lengths(t)) {
        const std::vector<uint8_t> w = RandomRow(t, n, rng);
        const std::vector<float> x = RandomFloats(n, rng, 2.0f);
        const std::vector<uint8_t> a = Quant(*k, at, x.data(), n);
        const std::vector<float> wf = Dequant(ScalarKernels(), t, w.data(), n);
        const std::vector<float> af = Dequant(ScalarKernels(), at, a.data(), n);
        double exact = 0, mag = 0, act_err = 0;
        for (int64_t i = 0; i < n; ++i) {
          exact += static_cast<double>(wf[i]) * x[i];
          mag += std::fabs(static_cast<double>(wf[i]) * af[i]);
          act_err +=
              std::fabs(static_cast<double>(wf[i])) * std::fabs(static_cast<double>(x[i]) - af[i]);
        }
        double q8_1_err = 0;
        if (at == GgmlType::kQ8_1) {
          const int bb = Traits(t)->block_bytes;
          for (int64_t b = 0; b < n / kQK; ++b) {
            uint16_t m;
            std::memcpy(&m, &w[b * bb + 2], 2);  // Q4_1/Q5_1: d, then m
            BlockQ8_1 yb;
            std::memcpy(&yb, &a[b * sizeof yb], sizeof yb);
            q8_1_err += std::fabs(Fp16ToFp32(m) * Fp16ToFp32(yb.s)) * std::ldexp(1.0, -10);
          }
        }
        const double tol = act_err + 1e-5 * mag + q8_1_err + 1e-30;
        const float got = k->Dot(t)(w.data(), a.data(), n);
        EXPECT_LE(std::fabs(got - exact), tol) << k->name << " " << Traits(t)->name << " n=" << n
                                               << " got " << got << " want " << exact;
        // The activation error itself is small next to the dot's scale.
        EXPECT_LE(act_err, 0.02 * mag + 1e-30) << Traits(t)->name;
      }
    }
  }
}

TEST(QuantMatVec, EqualsPerRowVecDot) {
  std::mt19937 rng(6);
  for (const KernelSet* k : AllKernelSets()) {
    for (GgmlType t : kWeightTypes) {
      const int64_t rows = 5, cols = Traits(t)->block_elems == kQK_K ? 512 : 640;
      std::vector<uint8_t> w;
      for (int r = 0; r < rows; ++r) {
        const std::vector<uint8_t> row = RandomRow(t, cols, rng);
        w.insert(w.end(), row.begin(), row.end());
      }
      const std::vector<float> x = RandomFloats(cols, rng);
      std::vector<float> y(rows);
      MatVec(t, w.data(), rows, cols, x.data(), y.data(), *k);
      const GgmlType at = Traits(t)->vec_dot_type;
      const std::vector<uint8_t> a = Quant(*k, at, x.data(), cols);
      for (int64_t r = 0; r < rows; ++r) {
        EXPECT_EQ(y[r], k->Dot(t)(w.data() + r * RowBytes(t, cols), a.data(), cols))
            << k->name << " " << Traits(t)->name << " row " << r;
      }
    }
  }
}

TEST(QuantKernels, EverySupportedTypeHasEveryKernel) {
  for (const KernelSet* k : AllKernelSets()) {
    for (GgmlType t : kWeightTypes) {
      EXPECT_NE(k->Dequantize(t), nullptr) << k->name << " " << Traits(t)->name;
      EXPECT_NE(k->Dot(t), nullptr) << k->name << " " << Traits(t)->name;
      EXPECT_NE(k->MatMul(t), nullptr) << k->name << " " << Traits(t)->name;
      EXPECT_NE(k->Quantize(Traits(t)->vec_dot_type), nullptr) << k->name;
    }
    EXPECT_EQ(k->Dot(static_cast<GgmlType>(1000)), nullptr);
    EXPECT_EQ(k->MatMul(static_cast<GgmlType>(1000)), nullptr);
  }
}

}  // namespace
}  // namespace gantry::engine
