// Scalar reference kernels. Each mirrors the ggml function named in its comment; where
// float operations could be ordered differently, the order is ggml's (dequantization must
// be bit-exact), and the integer parts of the dots are exact.
#include "engine/quant.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/cpu_features.h"

namespace gantry::engine {

namespace {

uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// ---- traits ----

constexpr TypeTraits kF32{"F32", 1, 4, GgmlType::kF32, true};
constexpr TypeTraits kF16{"F16", 1, 2, GgmlType::kF16, true};
constexpr TypeTraits kBF16{"BF16", 1, 2, GgmlType::kBF16, true};
constexpr TypeTraits kQ4_0{"Q4_0", kQK, sizeof(BlockQ4_0), GgmlType::kQ8_0, true};
constexpr TypeTraits kQ4_1{"Q4_1", kQK, sizeof(BlockQ4_1), GgmlType::kQ8_1, true};
constexpr TypeTraits kQ5_0{"Q5_0", kQK, sizeof(BlockQ5_0), GgmlType::kQ8_0, true};
constexpr TypeTraits kQ5_1{"Q5_1", kQK, sizeof(BlockQ5_1), GgmlType::kQ8_1, true};
constexpr TypeTraits kQ8_0{"Q8_0", kQK, sizeof(BlockQ8_0), GgmlType::kQ8_0, true};
constexpr TypeTraits kQ8_1{"Q8_1", kQK, sizeof(BlockQ8_1), GgmlType::kQ8_1, false};
constexpr TypeTraits kQ4_K{"Q4_K", kQK_K, sizeof(BlockQ4_K), GgmlType::kQ8_K, true};
constexpr TypeTraits kQ5_K{"Q5_K", kQK_K, sizeof(BlockQ5_K), GgmlType::kQ8_K, true};
constexpr TypeTraits kQ6_K{"Q6_K", kQK_K, sizeof(BlockQ6_K), GgmlType::kQ8_K, true};
constexpr TypeTraits kQ8_K{"Q8_K", kQK_K, sizeof(BlockQ8_K), GgmlType::kQ8_K, false};

constexpr GgmlType kWeightTypes[] = {
    GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ4_0,
    GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0,
    GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K,
};

std::string SupportedList() {
  std::string s;
  for (GgmlType t : kWeightTypes) {
    if (!s.empty()) s += ", ";
    s += Traits(t)->name;
  }
  return s;
}

// get_scale_min_k4 (ggml-quants.c): the j-th 6-bit scale and min of a Q4_K/Q5_K block.
inline void ScaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

// nearest_int (ggml-quants.c): round half to even, valid for |f| <= 4194303.
inline int NearestInt(float f) {
  const float val = f + 12582912.f;
  return static_cast<int>(FloatBits(val) & 0x007fffff) - 0x00400000;
}

// ---- dequantize (dequantize_row_*) ----

void DequantF32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void DequantF16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t v;
    std::memcpy(&v, h + 2 * i, 2);
    dst[i] = Fp16ToFp32(v);
  }
}

void DequantBF16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t v;
    std::memcpy(&v, h + 2 * i, 2);
    dst[i] = Bf16ToFp32(v);
  }
}

void DequantQ4_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = Fp16ToFp32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + kQK / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void DequantQ4_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = Fp16ToFp32(x[i].d);
    const float m = Fp16ToFp32(x[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      y[j + kQK / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void DequantQ5_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = Fp16ToFp32(x[i].d);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int xh0 = ((qh >> j) << 4) & 0x10;
      const int xh1 = (qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>(((x[i].qs[j] & 0x0F) | xh0) - 16) * d;
      y[j + kQK / 2] = static_cast<float>(((x[i].qs[j] >> 4) | xh1) - 16) * d;
    }
  }
}

void DequantQ5_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = Fp16ToFp32(x[i].d);
    const float m = Fp16ToFp32(x[i].m);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int xh0 = ((qh >> j) << 4) & 0x10;
      const int xh1 = (qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) | xh0) * d + m;
      y[j + kQK / 2] = static_cast<float>((x[i].qs[j] >> 4) | xh1) * d + m;
    }
  }
}

void DequantQ8_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = Fp16ToFp32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void DequantQ8_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = Fp16ToFp32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void DequantQ4_K(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* q = x[i].qs;
    const float d = Fp16ToFp32(x[i].d);
    const float min = Fp16ToFp32(x[i].dmin);
    uint8_t sc, m;
    for (int is = 0; is < 8; is += 2, q += 32) {
      ScaleMinK4(is, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      ScaleMinK4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void DequantQ5_K(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    const float d = Fp16ToFp32(x[i].d);
    const float min = Fp16ToFp32(x[i].dmin);
    uint8_t sc, m;
    uint8_t u1 = 1, u2 = 2;
    for (int is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
      ScaleMinK4(is, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      ScaleMinK4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) {
        *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      }
    }
  }
}

void DequantQ6_K(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToFp32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * static_cast<float>(q1);
        y[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
        y[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
        y[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
      }
    }
  }
}

void DequantQ8_K(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i, y += kQK_K) {
    for (int j = 0; j < kQK_K; ++j) y[j] = x[i].d * static_cast<float>(x[i].qs[j]);
  }
}

// ---- activation quantizers (quantize_row_*_ref) ----

void QuantF32(const float* x, void* dst, int64_t n) {
  std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
}

void QuantF16(const float* x, void* dst, int64_t n) {
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = Fp32ToFp16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void QuantBF16(const float* x, void* dst, int64_t n) {
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = Fp32ToBf16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void QuantQ8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void QuantQ8_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
      sum += y[i].qs[j];
    }
    y[i].s = Fp32ToFp16(static_cast<float>(sum) * d);
  }
}

void QuantQ8_K(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      // ggml leaves bsums unset here; zero them so the bytes are deterministic.
      std::memset(&y[i], 0, sizeof y[i]);
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::min(127, NearestInt(iscale * x[j])));
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[j * 16 + l];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
  }
}

// ---- dots (ggml_vec_dot_*_generic); integer sums per block, float across blocks ----

float DotF32(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const float*>(vx);
  const auto* y = static_cast<const float*>(vy);
  double sum = 0.0;  // ggml_float, as ggml_vec_dot_f32's scalar path
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(sum);
}

template <float (*kToFloat)(uint16_t)>
float DotHalf(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(vx);
  const auto* y = static_cast<const uint8_t*>(vy);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    uint16_t a, b;
    std::memcpy(&a, x + 2 * i, 2);
    std::memcpy(&b, y + 2 * i, 2);
    sum += static_cast<double>(kToFloat(a) * kToFloat(b));
  }
  return static_cast<float>(sum);
}

float DotQ4_0(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j];
      sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + kQK / 2];
    }
    sumf += static_cast<float>(sumi) * (Fp16ToFp32(x[i].d) * Fp16ToFp32(y[i].d));
  }
  return sumf;
}

float DotQ4_1(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(vx);
  const auto* y = static_cast<const BlockQ8_1*>(vy);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += (x[i].qs[j] & 0x0F) * y[i].qs[j];
      sumi += (x[i].qs[j] >> 4) * y[i].qs[j + kQK / 2];
    }
    sumf += static_cast<float>(sumi) * (Fp16ToFp32(x[i].d) * Fp16ToFp32(y[i].d)) +
            Fp16ToFp32(x[i].m) * Fp16ToFp32(y[i].s);
  }
  return sumf;
}

float DotQ5_0(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int xh0 = ((qh >> j) << 4) & 0x10;
      const int xh1 = (qh >> (j + 12)) & 0x10;
      sumi += (((x[i].qs[j] & 0x0F) | xh0) - 16) * y[i].qs[j];
      sumi += (((x[i].qs[j] >> 4) | xh1) - 16) * y[i].qs[j + kQK / 2];
    }
    sumf += static_cast<float>(sumi) * (Fp16ToFp32(x[i].d) * Fp16ToFp32(y[i].d));
  }
  return sumf;
}

float DotQ5_1(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(vx);
  const auto* y = static_cast<const BlockQ8_1*>(vy);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int xh0 = ((qh >> j) << 4) & 0x10;
      const int xh1 = (qh >> (j + 12)) & 0x10;
      sumi += ((x[i].qs[j] & 0x0F) | xh0) * y[i].qs[j];
      sumi += ((x[i].qs[j] >> 4) | xh1) * y[i].qs[j + kQK / 2];
    }
    sumf += static_cast<float>(sumi) * (Fp16ToFp32(x[i].d) * Fp16ToFp32(y[i].d)) +
            Fp16ToFp32(x[i].m) * Fp16ToFp32(y[i].s);
  }
  return sumf;
}

float DotQ8_0(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += x[i].qs[j] * y[i].qs[j];
    sumf += static_cast<float>(sumi) * (Fp16ToFp32(x[i].d) * Fp16ToFp32(y[i].d));
  }
  return sumf;
}

// Q4_K/Q5_K: sum_j d*sc_j*q.y - dmin*m_j*sum(y); the min term uses Q8_K's bsums.
template <bool kFiveBit>
float DotQ45_K(const void* vx, const void* vy, int64_t n) {
  using Block = std::conditional_t<kFiveBit, BlockQ5_K, BlockQ4_K>;
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* q = x[i].qs;
    const int8_t* q8 = y[i].qs;
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; j += 2, q += 32, q8 += 64) {
      uint8_t sc0, m0, sc1, m1;
      ScaleMinK4(j, x[i].scales, &sc0, &m0);
      ScaleMinK4(j + 1, x[i].scales, &sc1, &m1);
      int32_t s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        int lo = q[l] & 0xF, hi = q[l] >> 4;
        if constexpr (kFiveBit) {
          lo |= ((x[i].qh[l] >> j) & 1) << 4;
          hi |= ((x[i].qh[l] >> (j + 1)) & 1) << 4;
        }
        s0 += lo * q8[l];
        s1 += hi * q8[l + 32];
      }
      isum += sc0 * s0 + sc1 * s1;
      msum += m0 * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]) +
              m1 * (y[i].bsums[2 * j + 2] + y[i].bsums[2 * j + 3]);
    }
    const float d = Fp16ToFp32(x[i].d) * y[i].d;
    const float dmin = Fp16ToFp32(x[i].dmin) * y[i].d;
    sumf += d * static_cast<float>(isum) - dmin * static_cast<float>(msum);
  }
  return sumf;
}

float DotQ6_K(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t q[kQK_K];  // the 6-bit quants minus 32, in element order
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32) {
      int8_t* a = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        a[l + 0] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        a[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        a[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        a[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int32_t isum = 0;
    for (int g = 0; g < kQK_K / 16; ++g) {
      int32_t s = 0;
      for (int l = 0; l < 16; ++l) s += q[16 * g + l] * y[i].qs[16 * g + l];
      isum += x[i].scales[g] * s;
    }
    sumf += Fp16ToFp32(x[i].d) * y[i].d * static_cast<float>(isum);
  }
  return sumf;
}

void QuantizeQ8_0Act(const float* x, void* dst, int64_t n) {
  auto* out = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* v = x + b * kQK;
    float amax = 0.0f;
    for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(v[i]));
    out[b].d = Fp32ToFp16(amax / 127.f);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    for (int i = 0; i < kQK; ++i) out[b].qs[i] = static_cast<int8_t>(std::nearbyint(v[i] * id));
  }
}

void AxpyF16Scalar(float a, const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float p = a * Fp16ToFp32(x[i]);
    y[i] += p;
  }
}

KernelSet MakeScalarKernels() {
  KernelSet k;
  k.axpy_f16 = AxpyF16Scalar;
  k.quantize_q8_0_act = QuantizeQ8_0Act;
  k.name = "scalar";
  auto set = [&k](GgmlType t, DequantizeFn dq, VecDotFn dot, MatMulFn mm) {
    k.dequantize[static_cast<uint32_t>(t)] = dq;
    k.vec_dot[static_cast<uint32_t>(t)] = dot;
    k.matmul[static_cast<uint32_t>(t)] = mm;
  };
  set(GgmlType::kF32, DequantF32, DotF32, MatMulByVecDot<DotF32>);
  set(GgmlType::kF16, DequantF16, DotHalf<Fp16ToFp32>, MatMulByVecDot<DotHalf<Fp16ToFp32>>);
  set(GgmlType::kBF16, DequantBF16, DotHalf<Bf16ToFp32>, MatMulByVecDot<DotHalf<Bf16ToFp32>>);
  set(GgmlType::kQ4_0, DequantQ4_0, DotQ4_0, MatMulByVecDot<DotQ4_0>);
  set(GgmlType::kQ4_1, DequantQ4_1, DotQ4_1, MatMulByVecDot<DotQ4_1>);
  set(GgmlType::kQ5_0, DequantQ5_0, DotQ5_0, MatMulByVecDot<DotQ5_0>);
  set(GgmlType::kQ5_1, DequantQ5_1, DotQ5_1, MatMulByVecDot<DotQ5_1>);
  set(GgmlType::kQ8_0, DequantQ8_0, DotQ8_0, MatMulByVecDot<DotQ8_0>);
  set(GgmlType::kQ8_1, DequantQ8_1, nullptr, nullptr);
  set(GgmlType::kQ4_K, DequantQ4_K, DotQ45_K<false>, MatMulByVecDot<DotQ45_K<false>>);
  set(GgmlType::kQ5_K, DequantQ5_K, DotQ45_K<true>, MatMulByVecDot<DotQ45_K<true>>);
  set(GgmlType::kQ6_K, DequantQ6_K, DotQ6_K, MatMulByVecDot<DotQ6_K>);
  set(GgmlType::kQ8_K, DequantQ8_K, nullptr, nullptr);
  auto quant = [&k](GgmlType t, QuantizeFn q) { k.quantize[static_cast<uint32_t>(t)] = q; };
  quant(GgmlType::kF32, QuantF32);
  quant(GgmlType::kF16, QuantF16);
  quant(GgmlType::kBF16, QuantBF16);
  quant(GgmlType::kQ8_0, QuantQ8_0);
  quant(GgmlType::kQ8_1, QuantQ8_1);
  quant(GgmlType::kQ8_K, QuantQ8_K);
  return k;
}

}  // namespace

// ---- public ----

const TypeTraits* Traits(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return &kF32;
    case GgmlType::kF16:
      return &kF16;
    case GgmlType::kBF16:
      return &kBF16;
    case GgmlType::kQ4_0:
      return &kQ4_0;
    case GgmlType::kQ4_1:
      return &kQ4_1;
    case GgmlType::kQ5_0:
      return &kQ5_0;
    case GgmlType::kQ5_1:
      return &kQ5_1;
    case GgmlType::kQ8_0:
      return &kQ8_0;
    case GgmlType::kQ8_1:
      return &kQ8_1;
    case GgmlType::kQ4_K:
      return &kQ4_K;
    case GgmlType::kQ5_K:
      return &kQ5_K;
    case GgmlType::kQ6_K:
      return &kQ6_K;
    case GgmlType::kQ8_K:
      return &kQ8_K;
    default:
      return nullptr;
  }
}

int64_t RowBytes(GgmlType t, int64_t n) {
  const TypeTraits* tr = Traits(t);
  assert(tr != nullptr && n % tr->block_elems == 0);
  return n / tr->block_elems * tr->block_bytes;
}

Status CheckSupported(GgmlType t, std::string_view tensor_name) {
  const TypeTraits* tr = Traits(t);
  if (tr != nullptr && tr->is_weight_type) return OkStatus();
  return Unimplemented("tensor " + std::string(tensor_name) + ": type " + GgmlTypeName(t) +
                       " is not supported by the engine (supported: " + SupportedList() + ")");
}

Status CheckRowLength(GgmlType t, int64_t ne0, std::string_view tensor_name) {
  RETURN_IF_ERROR(CheckSupported(t, tensor_name));
  const TypeTraits* tr = Traits(t);
  if (ne0 <= 0 || ne0 % tr->block_elems != 0) {
    return InvalidArgument("tensor " + std::string(tensor_name) + ": row length " +
                           std::to_string(ne0) + " is not a positive multiple of the " + tr->name +
                           " block size " + std::to_string(tr->block_elems));
  }
  return OkStatus();
}

float Fp16ToFp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact
    const float v = static_cast<float>(mant) * 0x1p-24f;
    return sign ? -v : v;
  }
  if (exp == 0x1F) return BitsFloat(sign | 0x7F800000u | (mant << 13));  // inf, NaN
  return BitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t Fp32ToFp16(float f) {
  const uint32_t x = FloatBits(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) {  // NaN: quiet, keep the top payload bits (as vcvtps2ph)
    return static_cast<uint16_t>(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
  }
  if (ax >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 rounds to inf
  if (ax < 0x38800000u) {                        // below 2^-14: subnormal half or zero
    const uint32_t e = ax >> 23;
    if (e < 102) return sign;  // < 2^-25 (float subnormals included)
    const uint32_t m = (ax & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14..24
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t h = (((ax >> 23) - 112) << 10) | ((ax >> 13) & 0x3FFu);
  const uint32_t rem = ax & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h;  // a carry bumps the exponent
  return static_cast<uint16_t>(sign | h);
}

float Bf16ToFp32(uint16_t h) { return BitsFloat(static_cast<uint32_t>(h) << 16); }

uint16_t Fp32ToBf16(float f) {
  const uint32_t u = FloatBits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 64);
  return static_cast<uint16_t>((u + (0x7FFFu + ((u >> 16) & 1))) >> 16);
}

const KernelSet& ScalarKernels() {
  static const KernelSet k = MakeScalarKernels();
  return k;
}

const KernelSet& Kernels() {
  static const KernelSet& k = []() -> const KernelSet& {
    const KernelSet* avx2 = Avx2Kernels();
    if (avx2 != nullptr && SelectedCpuLevel() == CpuLevel::kAvx2) return *avx2;
    return ScalarKernels();
  }();
  return k;
}

void DequantizeRow(GgmlType t, const void* src, float* dst, int64_t n) {
  DequantizeFn f = Kernels().Dequantize(t);
  assert(f != nullptr);
  f(src, dst, n);
}

void QuantizeRow(GgmlType vec_dot_type, const float* src, void* dst, int64_t n) {
  QuantizeFn f = Kernels().Quantize(vec_dot_type);
  assert(f != nullptr);
  f(src, dst, n);
}

void QuantizeRowQ8_0(const float* src, void* dst, int64_t n) {
  QuantizeRow(GgmlType::kQ8_0, src, dst, n);
}

void QuantizeRowQ8_K(const float* src, void* dst, int64_t n) {
  QuantizeRow(GgmlType::kQ8_K, src, dst, n);
}

float VecDot(GgmlType weight_type, const void* weight_row, const void* act_quantized, int64_t n) {
  VecDotFn f = Kernels().Dot(weight_type);
  assert(f != nullptr);
  return f(weight_row, act_quantized, n);
}

void MatVec(GgmlType t, const uint8_t* weights, int64_t rows, int64_t cols, const float* x,
            float* y, const KernelSet& kernels) {
  const TypeTraits* tr = Traits(t);
  assert(tr != nullptr && cols % tr->block_elems == 0);
  VecDotFn dot = kernels.Dot(t);
  assert(dot != nullptr);
  const void* act = x;
  if (tr->vec_dot_type != GgmlType::kF32) {
    thread_local std::vector<uint8_t> scratch;
    scratch.resize(static_cast<size_t>(RowBytes(tr->vec_dot_type, cols)));
    kernels.Quantize(tr->vec_dot_type)(x, scratch.data(), cols);
    act = scratch.data();
  }
  const int64_t row_bytes = RowBytes(t, cols);
  for (int64_t r = 0; r < rows; ++r) y[r] = dot(weights + r * row_bytes, act, cols);
}

}  // namespace gantry::engine
