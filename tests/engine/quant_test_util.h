// Test-only helpers shared by the quant kernel tests: float bits, the weight types,
// random valid weight rows, and the AVX2 availability check.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "engine/cpu_features.h"
#include "engine/quant.h"

namespace gantry::engine::quant_testing {

inline uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline constexpr GgmlType kWeightTypes[] = {
    GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ4_0,
    GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0,
    GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K,
};

// Byte offsets of the fp16 scale fields of each block type.
inline std::vector<int> HalfFields(GgmlType t) {
  switch (t) {
    case GgmlType::kQ4_0:
    case GgmlType::kQ5_0:
    case GgmlType::kQ8_0:
      return {0};
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_1:
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
      return {0, 2};
    case GgmlType::kQ6_K:
      return {208};
    default:
      return {};
  }
}

// A random valid weight row: random quant bytes, fp16 scales of sensible magnitude and
// either sign (or exactly `fixed_scale` when non-zero), finite random F16/BF16/F32 values.
inline std::vector<uint8_t> RandomRow(GgmlType t, int64_t n, std::mt19937& rng,
                                      float fixed_scale = 0) {
  std::vector<uint8_t> row(static_cast<size_t>(RowBytes(t, n)));
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : row) b = static_cast<uint8_t>(byte(rng));
  std::uniform_real_distribution<float> expo(-4.0f, 0.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto scale = [&] {
    if (fixed_scale != 0) return fixed_scale;
    const float v = std::pow(10.0f, expo(rng));
    return byte(rng) < 64 ? -v : v;
  };
  if (t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = normal(rng);
      if (t == GgmlType::kF32) std::memcpy(&row[4 * i], &v, 4);
      const uint16_t h = t == GgmlType::kF16 ? Fp32ToFp16(v) : Fp32ToBf16(v);
      if (t != GgmlType::kF32) std::memcpy(&row[2 * i], &h, 2);
    }
    return row;
  }
  const TypeTraits* tr = Traits(t);
  for (int64_t b = 0; b < n / tr->block_elems; ++b) {
    for (int off : HalfFields(t)) {
      const uint16_t h = Fp32ToFp16(scale());
      std::memcpy(&row[b * tr->block_bytes + off], &h, 2);
    }
  }
  return row;
}

// The AVX2 kernels must exist whenever the CPU can run them; only a CPU without
// AVX2/FMA/F16C (or a non-x86 build) skips the AVX2 comparisons.
inline bool Avx2Unavailable() {
  const CpuFeatures& f = DetectCpuFeatures();
  const bool cpu_has = f.avx2 && f.fma && f.f16c;
  EXPECT_FALSE(cpu_has && Avx2Kernels() == nullptr) << "CPU has AVX2/FMA/F16C but no kernels";
  return Avx2Kernels() == nullptr;
}

}  // namespace gantry::engine::quant_testing
