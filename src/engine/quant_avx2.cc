// AVX2/FMA/F16C kernels (compiled with -mavx2 -mfma -mf16c; called only after the
// run-time check in Avx2Kernels()). Dequantization and quantization give exactly the
// scalar reference's bits: the same float operations in the same order, never fused.
// Dots compute the same integer block sums exactly and differ from the scalar ones only
// in the order the per-block float terms are added. The integer tricks follow ggml's
// arch/x86/quants.c (sign trick for maddubs; every int16 intermediate stays in range).
// The tiled MatMul kernels give exactly the bits of these dots (see "batched products").
#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <type_traits>
#include <utility>

#include "engine/cpu_features.h"
#include "engine/quant.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

namespace gantry::engine {
namespace {

inline float H2F(uint16_t h) { return _cvtsh_ss(h); }  // exact

inline float HsumFloat8(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

inline int HsumI32x8(__m256i a) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

inline float HmaxFloat8(__m256 x) {
  __m128 r = _mm_max_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_max_ps(r, _mm_movehl_ps(r, r));
  r = _mm_max_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

inline __m256i Load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 16 bytes -> 32 bytes: low nibbles in bytes 0..15, high nibbles in 16..31.
inline __m256i BytesFromNibbles32(const uint8_t* p) {
  const __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i bytes = _mm256_set_m128i(_mm_srli_epi16(tmp, 4), tmp);
  return _mm256_and_si256(_mm256_set1_epi8(0xF), bytes);
}

// 32 bits (little-endian) -> 32 bytes of 0x00 / 0xFF.
inline __m256i BytesFromBits32(const uint8_t* p) {
  uint32_t x32;
  std::memcpy(&x32, p, sizeof x32);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101,
                                         0x0000000000000000);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(x32)), shuf);
  bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

// Unsigned bytes x signed bytes, summed in groups of 4 into int32 lanes.
inline __m256i MulSumUs8(__m256i ax, __m256i sy) {
  return _mm256_madd_epi16(_mm256_set1_epi16(1), _mm256_maddubs_epi16(ax, sy));
}
// Signed x signed: |x| * (y with x's sign). Exact for y != -128 (activations never are).
inline __m256i MulSumI8(__m256i x, __m256i y) {
  return MulSumUs8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

// 8 int8 (from a 64-bit load) -> 8 floats.
inline __m256 I8x8ToFloat(const int8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// Converts 32 int8 lanes to floats and stores dst[i] = q[i] * d (+ m when kAddMin).
template <bool kAddMin>
inline void StoreScaled32(__m256i q, __m256 d, __m256 m, float* dst) {
  alignas(32) int8_t b[32];
  _mm256_store_si256(reinterpret_cast<__m256i*>(b), q);
  for (int k = 0; k < 4; ++k) {
    __m256 v = _mm256_mul_ps(I8x8ToFloat(b + 8 * k), d);
    if constexpr (kAddMin) v = _mm256_add_ps(v, m);
    _mm256_storeu_ps(dst + 8 * k, v);
  }
}

// dst[i] = d * q[i] - m for 32 unsigned-byte lanes (K-quant order of operations).
inline void StoreScaledMinus32(__m256i q, float d, float m, float* dst) {
  alignas(32) int8_t b[32];
  _mm256_store_si256(reinterpret_cast<__m256i*>(b), q);
  const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
  for (int k = 0; k < 4; ++k) {
    const __m256 v = _mm256_mul_ps(vd, I8x8ToFloat(b + 8 * k));
    _mm256_storeu_ps(dst + 8 * k, _mm256_sub_ps(v, vm));
  }
}

// The 8 scales and 8 mins of a Q4_K/Q5_K block (get_scale_min_k4 for j = 0..7).
struct ScalesMins {
  uint8_t sc[8];
  uint8_t m[8];
};
inline ScalesMins UnpackScalesK4(const uint8_t* scales) {
  constexpr uint32_t kMask1 = 0x3f3f3f3f, kMask2 = 0x0f0f0f0f, kMask3 = 0x03030303;
  uint32_t u[4];
  std::memcpy(u, scales, 12);
  u[3] = ((u[2] >> 4) & kMask2) | (((u[1] >> 6) & kMask3) << 4);
  const uint32_t aux = u[1] & kMask1;
  u[1] = (u[2] & kMask2) | (((u[0] >> 6) & kMask3) << 4);
  u[2] = aux;
  u[0] &= kMask1;
  ScalesMins r;
  std::memcpy(&r, u, sizeof r);
  return r;
}

// ---- dequantize ----

void DequantF16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint8_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 2 * i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(v));
  }
  for (; i < n; ++i) {
    uint16_t v;
    std::memcpy(&v, h + 2 * i, 2);
    dst[i] = H2F(v);
  }
}

void DequantBF16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint8_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 2 * i));
    const __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16);
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(w));
  }
  for (; i < n; ++i) {
    uint16_t v;
    std::memcpy(&v, h + 2 * i, 2);
    dst[i] = Bf16ToFp32(v);
  }
}

void DequantQ4_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const __m256i q = _mm256_sub_epi8(BytesFromNibbles32(x[i].qs), _mm256_set1_epi8(8));
    StoreScaled32<false>(q, _mm256_set1_ps(H2F(x[i].d)), zero, y);
  }
}

void DequantQ4_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    StoreScaled32<true>(BytesFromNibbles32(x[i].qs), _mm256_set1_ps(H2F(x[i].d)),
                        _mm256_set1_ps(H2F(x[i].m)), y);
  }
}

void DequantQ5_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    // A clear fifth bit sets the high nibble to 0xF: (q | 0xF0) as int8 == q - 16.
    const __m256i hi = _mm256_andnot_si256(BytesFromBits32(x[i].qh), _mm256_set1_epi8(-16));
    const __m256i q = _mm256_or_si256(BytesFromNibbles32(x[i].qs), hi);
    StoreScaled32<false>(q, _mm256_set1_ps(H2F(x[i].d)), zero, y);
  }
}

void DequantQ5_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const __m256i hi = _mm256_and_si256(BytesFromBits32(x[i].qh), _mm256_set1_epi8(0x10));
    const __m256i q = _mm256_or_si256(BytesFromNibbles32(x[i].qs), hi);
    StoreScaled32<true>(q, _mm256_set1_ps(H2F(x[i].d)), _mm256_set1_ps(H2F(x[i].m)), y);
  }
}

void DequantQ8_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(H2F(x[i].d));
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(I8x8ToFloat(x[i].qs + 8 * k), d));
    }
  }
}

template <bool kFiveBit>
void DequantQ45_K(const void* src, float* y, int64_t n) {
  using Block = std::conditional_t<kFiveBit, BlockQ5_K, BlockQ4_K>;
  const auto* x = static_cast<const Block*>(src);
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i one = _mm256_set1_epi8(1);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = H2F(x[i].d);
    const float min = H2F(x[i].dmin);
    const ScalesMins sm = UnpackScalesK4(x[i].scales);
    for (int j = 0; j < 4; ++j, y += 64) {
      const __m256i bits = Load256(x[i].qs + 32 * j);
      __m256i lo = _mm256_and_si256(bits, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
      if constexpr (kFiveBit) {
        const __m256i h = Load256(x[i].qh);
        lo = _mm256_or_si256(
            lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * j), one), 4));
        hi = _mm256_or_si256(
            hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * j + 1), one), 4));
      }
      StoreScaledMinus32(lo, d * sm.sc[2 * j], min * sm.m[2 * j], y);
      StoreScaledMinus32(hi, d * sm.sc[2 * j + 1], min * sm.m[2 * j + 1], y + 32);
    }
  }
}

// The four 32-lane chunks (element order) of one 128-element half of a Q6_K block,
// as unsigned 6-bit values (0..63).
inline void UnpackQ6(const uint8_t* ql, const uint8_t* qh, __m256i q[4]) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i m2 = _mm256_set1_epi8(3);
  const __m256i b1 = Load256(ql), b2 = Load256(ql + 32), h = Load256(qh);
  q[0] = _mm256_or_si256(_mm256_and_si256(b1, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
  q[1] = _mm256_or_si256(_mm256_and_si256(b2, m4),
                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));
  q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b1, 4), m4),
                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4));
  q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b2, 4), m4),
                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4));
}

void DequantQ6_K(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = H2F(x[i].d);
    for (int half = 0; half < 2; ++half, y += 128) {
      __m256i q[4];
      UnpackQ6(x[i].ql + 64 * half, x[i].qh + 32 * half, q);
      const int8_t* sc = x[i].scales + 8 * half;
      for (int k = 0; k < 4; ++k) {
        alignas(32) int8_t b[32];
        _mm256_store_si256(reinterpret_cast<__m256i*>(b),
                           _mm256_sub_epi8(q[k], _mm256_set1_epi8(32)));
        for (int g = 0; g < 2; ++g) {  // 16 elements share a scale
          const __m256 ds = _mm256_set1_ps(d * sc[2 * k + g]);
          for (int e = 0; e < 2; ++e) {
            const int off = 16 * g + 8 * e;
            _mm256_storeu_ps(y + 32 * k + off, _mm256_mul_ps(ds, I8x8ToFloat(b + off)));
          }
        }
      }
    }
  }
}

// ---- activation quantizers ----

// roundf (half away from zero) for values well inside int range.
inline __m256 RoundHalfAway(__m256 v) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 a = _mm256_andnot_ps(sign, v);
  const __m256 t = _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 up = _mm256_and_ps(
      _mm256_cmp_ps(_mm256_sub_ps(a, t), _mm256_set1_ps(0.5f), _CMP_GE_OQ), _mm256_set1_ps(1.0f));
  return _mm256_or_ps(_mm256_add_ps(t, up), _mm256_and_ps(v, sign));
}

// Packs four vectors of 8 int32 (each in int8 range) into 32 int8 in order.
inline __m256i PackI32ToI8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i all = _mm256_packs_epi16(ab, cd);
  return _mm256_permutevar8x32_epi32(all, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// One 32-element block as quantize_row_q8_0_ref / q8_1_ref; returns the sum of the quants.
inline int QuantBlock32(const float* x, int8_t* qs, float* d_out) {
  __m256 v[4];
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 amax = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
  }
  const float max = HmaxFloat8(amax);
  const float d = max / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m256 vid = _mm256_set1_ps(id);
  __m256i q[4];
  for (int k = 0; k < 4; ++k) q[k] = _mm256_cvttps_epi32(RoundHalfAway(_mm256_mul_ps(v[k], vid)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), PackI32ToI8(q[0], q[1], q[2], q[3]));
  *d_out = d;
  return HsumI32x8(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
}

void QuantQ8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float d;
    QuantBlock32(x, y[i].qs, &d);
    y[i].d = Fp32ToFp16(d);
  }
}

// llama.cpp's x86 quantize_row_q8_0: id = 127 / amax, round half to even.
void QuantQ8_0Act(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    __m256 v[4];
    __m256 amax8 = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      amax8 = _mm256_max_ps(amax8, _mm256_andnot_ps(sign, v[k]));
    }
    const float amax = HmaxFloat8(amax8);
    y[i].d = Fp32ToFp16(amax / 127.f);
    const __m256 vid = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      q[k] = _mm256_cvtps_epi32(
          _mm256_round_ps(_mm256_mul_ps(v[k], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), PackI32ToI8(q[0], q[1], q[2], q[3]));
  }
}

void QuantQ8_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float d;
    const int sum = QuantBlock32(x, y[i].qs, &d);
    y[i].d = Fp32ToFp16(d);
    y[i].s = Fp32ToFp16(static_cast<float>(sum) * d);
  }
}

void QuantQ8_K(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    __m256 amax8 = _mm256_setzero_ps();
    for (int j = 0; j < kQK_K; j += 8) {
      amax8 = _mm256_max_ps(amax8, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
    }
    const float amax = HmaxFloat8(amax8);
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof y[i]);
      continue;
    }
    // The reference keeps the first element of largest magnitude, sign included.
    const __m256 vamax = _mm256_set1_ps(amax);
    float max = 0.0f;
    for (int j = 0; j < kQK_K; j += 8) {
      const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j));
      const int mask = _mm256_movemask_ps(_mm256_cmp_ps(a, vamax, _CMP_EQ_OQ));
      if (mask != 0) {
        max = x[j + __builtin_ctz(static_cast<unsigned>(mask))];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 vis = _mm256_set1_ps(iscale);
    const __m256i k127 = _mm256_set1_epi32(127);
    for (int j = 0; j < kQK_K; j += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        // cvtps_epi32 rounds half to even (default MXCSR), as nearest_int.
        q[k] = _mm256_min_epi32(
            _mm256_cvtps_epi32(_mm256_mul_ps(vis, _mm256_loadu_ps(x + j + 8 * k))), k127);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + j),
                          PackI32ToI8(q[0], q[1], q[2], q[3]));
      y[i].bsums[j / 16] = static_cast<int16_t>(HsumI32x8(_mm256_add_epi32(q[0], q[1])));
      y[i].bsums[j / 16 + 1] = static_cast<int16_t>(HsumI32x8(_mm256_add_epi32(q[2], q[3])));
    }
    y[i].d = 1 / iscale;
  }
}

void QuantF16(const float* x, void* dst, int64_t n) {
  auto* out = static_cast<uint8_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), h);
  }
  for (; i < n; ++i) {
    const uint16_t h = Fp32ToFp16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

// ---- dots ----

float DotF32(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const float*>(vx);
  const auto* y = static_cast<const float*>(vy);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] =
          _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * k), _mm256_loadu_ps(y + i + 8 * k), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8)
    acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc[0]);
  float sum =
      HsumFloat8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

template <bool kBf16>
inline __m256 LoadHalf8(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (kBf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
  return _mm256_cvtph_ps(v);
}

template <bool kBf16>
float DotHalf(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(vx);
  const auto* y = static_cast<const uint8_t*>(vy);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 2; ++k) {
      const int64_t o = 2 * (i + 8 * k);
      acc[k] = _mm256_fmadd_ps(LoadHalf8<kBf16>(x + o), LoadHalf8<kBf16>(y + o), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8) {
    acc[0] = _mm256_fmadd_ps(LoadHalf8<kBf16>(x + 2 * i), LoadHalf8<kBf16>(y + 2 * i), acc[0]);
  }
  float sum = HsumFloat8(_mm256_add_ps(acc[0], acc[1]));
  for (; i < n; ++i) {
    uint16_t a, b;
    std::memcpy(&a, x + 2 * i, 2);
    std::memcpy(&b, y + 2 * i, 2);
    sum += kBf16 ? Bf16ToFp32(a) * Bf16ToFp32(b) : H2F(a) * H2F(b);
  }
  return sum;
}

// Legacy quants against Q8_0: per block, exact int sum times dx*dy, accumulated in 8 lanes.
template <typename Block, __m256i (*kUnpack)(const Block&)>
float DotLegacyQ8_0(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  const int64_t nb = n / kQK;
  auto term = [&](int64_t i, __m256 acc) {
    const __m256i s = MulSumI8(kUnpack(x[i]), Load256(y[i].qs));
    return _mm256_fmadd_ps(_mm256_set1_ps(H2F(x[i].d) * H2F(y[i].d)), _mm256_cvtepi32_ps(s), acc);
  };
  // Two accumulators hide the FMA latency.
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    acc0 = term(i, acc0);
    acc1 = term(i + 1, acc1);
  }
  if (i < nb) acc0 = term(i, acc0);
  return HsumFloat8(_mm256_add_ps(acc0, acc1));
}

inline __m256i UnpackQ4_0(const BlockQ4_0& b) {
  return _mm256_sub_epi8(BytesFromNibbles32(b.qs), _mm256_set1_epi8(8));
}
inline __m256i UnpackQ5_0(const BlockQ5_0& b) {
  const __m256i hi = _mm256_andnot_si256(BytesFromBits32(b.qh), _mm256_set1_epi8(-16));
  return _mm256_or_si256(BytesFromNibbles32(b.qs), hi);
}
inline __m256i UnpackQ8_0(const BlockQ8_0& b) { return Load256(b.qs); }

// Q4_1/Q5_1 against Q8_1: unsigned quants, plus the min times Q8_1's precomputed d*sum.
template <typename Block, __m256i (*kUnpack)(const Block&)>
float DotLegacyQ8_1(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const BlockQ8_1*>(vy);
  __m256 acc = _mm256_setzero_ps();
  float summs = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    summs += H2F(x[i].m) * H2F(y[i].s);
    const __m256i s = MulSumUs8(kUnpack(x[i]), Load256(y[i].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(H2F(x[i].d) * H2F(y[i].d)), _mm256_cvtepi32_ps(s), acc);
  }
  return HsumFloat8(acc) + summs;
}

inline __m256i UnpackQ4_1(const BlockQ4_1& b) { return BytesFromNibbles32(b.qs); }
inline __m256i UnpackQ5_1(const BlockQ5_1& b) {
  const __m256i hi = _mm256_and_si256(BytesFromBits32(b.qh), _mm256_set1_epi8(0x10));
  return _mm256_or_si256(BytesFromNibbles32(b.qs), hi);
}

template <bool kFiveBit>
float DotQ45_K(const void* vx, const void* vy, int64_t n) {
  using Block = std::conditional_t<kFiveBit, BlockQ5_K, BlockQ4_K>;
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = y[i].d * H2F(x[i].d);
    const float dmin = -y[i].d * H2F(x[i].dmin);
    const ScalesMins sm = UnpackScalesK4(x[i].scales);

    // Min term: mins[j] * (sum of the 32 activations of sub-block j), from bsums.
    const __m128i mins = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm.m)));
    const __m256i bsums = Load256(y[i].bsums);
    const __m128i q8s =
        _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
    acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(_mm_madd_epi16(mins, q8s)), acc_m);

    const uint8_t* q4 = x[i].qs;
    const int8_t* q8 = y[i].qs;
    __m256i h = _mm256_setzero_si256();
    if constexpr (kFiveBit) h = Load256(x[i].qh);
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j, q4 += 32, q8 += 64) {
      const __m256i bits = Load256(q4);
      __m256i lo = _mm256_and_si256(bits, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
      if constexpr (kFiveBit) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
        hi = _mm256_or_si256(hi,
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4));
        h = _mm256_srli_epi16(h, 2);
      }
      const __m256i pl =
          _mm256_madd_epi16(_mm256_set1_epi16(sm.sc[2 * j]), _mm256_maddubs_epi16(lo, Load256(q8)));
      const __m256i ph = _mm256_madd_epi16(_mm256_set1_epi16(sm.sc[2 * j + 1]),
                                           _mm256_maddubs_epi16(hi, Load256(q8 + 32)));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  acc_m = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
  acc_m = _mm_add_ss(acc_m, _mm_movehdup_ps(acc_m));
  return HsumFloat8(acc) + _mm_cvtss_f32(acc_m);
}

float DotQ6_K(const void* vx, const void* vy, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  const __m256i m32s = _mm256_set1_epi8(32);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = y[i].d * H2F(x[i].d);
    const int8_t* q8 = y[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      __m256i q[4];
      UnpackQ6(x[i].ql + 64 * half, x[i].qh + 32 * half, q);
      const int8_t* sc = x[i].scales + 8 * half;
      for (int k = 0; k < 4; ++k, q8 += 32) {
        const __m256i a = Load256(q8);
        // (q - 32) * a == q * a - 32 * a; both maddubs stay inside int16.
        const __m256i p16 =
            _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], a), _mm256_maddubs_epi16(m32s, a));
        const __m256i scale =
            _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale, p16));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return HsumFloat8(acc);
}

// ---- batched products (MatMulFn) ----
//
// A tiled kernel computes a tile of kRows weight rows x kCols activation rows in one pass
// over the blocks: each weight block is loaded and unpacked once for the tile's activation
// rows, and activation-only terms are computed once for its weight rows. Every pair keeps
// exactly the float operations of its vec_dot above, in the same order (the same per-block
// scale products, FMAs into the same accumulators, the same horizontal sums); only the
// exact integer block sums are computed in a different order. Scale products are taken as
// a vector multiply of two broadcasts, which is the broadcast of the scalar product.
//
// Tile<R, C> (R <= kRows, C <= kCols) computes y[c * ldy + r] for the R x C pairs of the
// rows at w and a; MatMulTiled covers the product with full tiles and smaller remainders.

using TileFn = void (*)(const uint8_t* w, int64_t w_row_bytes, const uint8_t* a,
                        int64_t a_row_bytes, int64_t nb, float* y, int64_t ldy);

template <typename K, int R, int... C>
constexpr std::array<TileFn, sizeof...(C)> TileRow(std::integer_sequence<int, C...>) {
  return {&K::template Tile<R, C + 1>...};
}
template <typename K, int... R>
constexpr std::array<std::array<TileFn, K::kCols>, K::kRows> TileTable(
    std::integer_sequence<int, R...>) {
  return {TileRow<K, R + 1>(std::make_integer_sequence<int, K::kCols>{})...};
}

// Activation rows are taken in panels of about this many bytes, so that a panel stays in
// L2 while every weight row streams past it once.
inline constexpr int64_t kPanelBytes = 128 * 1024;

// One activation row (plain decoding) goes through kDot row by row instead: the tiles
// pay off only when a decoded weight block is reused across activation rows, and
// streaming weights from memory they measured 30% slower than the row dot. Same bits.
template <typename K, VecDotFn kDot>
void MatMulTiled(const void* w, int64_t w_row_bytes, int64_t rows, const void* a,
                 int64_t a_row_bytes, int64_t cols, int64_t n, float* y, int64_t ldy) {
  assert(cols <= 1 || ldy >= rows);
  if (cols == 1) {
    const auto* wr = static_cast<const uint8_t*>(w);
    for (int64_t r = 0; r < rows; ++r) y[r] = kDot(wr + r * w_row_bytes, a, n);
    return;
  }
  static constexpr auto kTiles = TileTable<K>(std::make_integer_sequence<int, K::kRows>{});
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  const int64_t nb = n / K::kBlockElems;
  int64_t panel = cols;
  if (a_row_bytes > 0 && a_row_bytes * cols > kPanelBytes) {
    panel = std::max<int64_t>(1, kPanelBytes / a_row_bytes / K::kCols) * K::kCols;
  }
  for (int64_t c0 = 0; c0 < cols; c0 += panel) {
    const int64_t c1 = std::min(cols, c0 + panel);
    for (int64_t r = 0; r < rows; r += K::kRows) {
      const int64_t nr = std::min<int64_t>(K::kRows, rows - r);
      for (int64_t c = c0; c < c1; c += K::kCols) {
        const int64_t nc = std::min<int64_t>(K::kCols, c1 - c);
        kTiles[nr - 1][nc - 1](wb + r * w_row_bytes, w_row_bytes, ab + c * a_row_bytes, a_row_bytes,
                               nb, y + c * ldy + r, ldy);
      }
    }
  }
}

template <typename Block>
inline const Block& BlockAt(const uint8_t* row, int64_t i) {
  return reinterpret_cast<const Block*>(row)[i];
}

// Q4_0/Q5_0/Q8_0 against Q8_0, as DotLegacyQ8_0: block i of each pair goes into that pair's
// accumulator i % 2, the two added before the horizontal sum.
template <typename Block>
struct LegacyQ8_0Tiles {
  // (A function-pointer parameter returning __m256i would draw -Wignored-attributes when
  // this type is itself a template argument.)
  static __m256i Unpack(const Block& b) {
    if constexpr (std::is_same_v<Block, BlockQ4_0>) {
      return UnpackQ4_0(b);
    } else if constexpr (std::is_same_v<Block, BlockQ5_0>) {
      return UnpackQ5_0(b);
    } else {
      static_assert(std::is_same_v<Block, BlockQ8_0>);
      return UnpackQ8_0(b);
    }
  }

  static constexpr int kRows = 4, kCols = 4, kBlockElems = kQK;

  template <int R, int C>
  static void Tile(const uint8_t* w, int64_t w_row_bytes, const uint8_t* a, int64_t a_row_bytes,
                   int64_t nb, float* y, int64_t ldy) {
    static_assert(R <= 4);
    // The even blocks' accumulators, then the odd blocks': one set of R x C live at a time.
    __m256 sums[2][R][C];
    for (int parity = 0; parity < 2; ++parity) {
      __m256 acc[R][C];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
      }
      for (int64_t i = parity; i < nb; i += 2) {
        // The R x C scale products dx * dy, R at a time, broadcast from memory below.
        alignas(16) float dxy[C][4];
        uint64_t dx_halves = 0;  // the R fp16 weight scales
        __m256i x[R], x_abs[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const Block& b = BlockAt<Block>(w + r * w_row_bytes, i);
          x[r] = Unpack(b);
          x_abs[r] = _mm256_sign_epi8(x[r], x[r]);
          dx_halves |= uint64_t{b.d} << (16 * r);
        }
        const __m128 dxv =  // exact, as H2F
            _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>(dx_halves)));
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          const float dy = H2F(BlockAt<BlockQ8_0>(a + c * a_row_bytes, i).d);
          _mm_store_ps(dxy[c], _mm_mul_ps(dxv, _mm_set1_ps(dy)));
        }
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          const __m256i q = Load256(BlockAt<BlockQ8_0>(a + c * a_row_bytes, i).qs);
#pragma GCC unroll 8
          for (int r = 0; r < R; ++r) {
            const __m256i s = MulSumUs8(x_abs[r], _mm256_sign_epi8(q, x[r]));  // MulSumI8
            acc[r][c] =
                _mm256_fmadd_ps(_mm256_broadcast_ss(&dxy[c][r]), _mm256_cvtepi32_ps(s), acc[r][c]);
          }
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) sums[parity][r][c] = acc[r][c];
      }
    }
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        y[c * ldy + r] = HsumFloat8(_mm256_add_ps(sums[0][r][c], sums[1][r][c]));
      }
    }
  }
};

// Byte-shuffle control that broadcasts int16 element e of each 128-bit lane.
inline __m128i Int16Broadcast(int e) {
  return _mm_set1_epi16(static_cast<int16_t>(((2 * e + 1) << 8) | (2 * e)));
}

// Q4_K/Q5_K against Q8_K, as DotQ45_K.
template <bool kFiveBit>
struct Q45_KTiles {
  using Block = std::conditional_t<kFiveBit, BlockQ5_K, BlockQ4_K>;
  static constexpr int kRows = 2, kCols = 4, kBlockElems = kQK_K;

  template <int R, int C>
  static void Tile(const uint8_t* w, int64_t w_row_bytes, const uint8_t* a, int64_t a_row_bytes,
                   int64_t nb, float* y, int64_t ldy) {
    const __m256i m4 = _mm256_set1_epi8(0xF);
    const __m256i one = _mm256_set1_epi8(1);
    __m256 acc[R][C];
    __m128 acc_m[R][C];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        acc[r][c] = _mm256_setzero_ps();
        acc_m[r][c] = _mm_setzero_ps();
      }
    }
    for (int64_t i = 0; i < nb; ++i) {
      const Block* x[R];
      __m256i scales[R];  // the 8 scales as int16, in both 128-bit lanes
      __m128i mins[R];
      __m256 dx[R];
      __m128 dminx[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        x[r] = &BlockAt<Block>(w + r * w_row_bytes, i);
        const ScalesMins sm = UnpackScalesK4(x[r]->scales);
        scales[r] = _mm256_broadcastsi128_si256(
            _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm.sc))));
        mins[r] = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm.m)));
        dx[r] = _mm256_set1_ps(H2F(x[r]->d));
        dminx[r] = _mm_set1_ps(H2F(x[r]->dmin));
      }
      const BlockQ8_K* yb[C];
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        yb[c] = &BlockAt<BlockQ8_K>(a + c * a_row_bytes, i);
        const __m256i bsums = Load256(yb[c]->bsums);
        const __m128i q8s =
            _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
        const __m128 dminy = _mm_set1_ps(-yb[c]->d);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          acc_m[r][c] = _mm_fmadd_ps(_mm_mul_ps(dminy, dminx[r]),
                                     _mm_cvtepi32_ps(_mm_madd_epi16(mins[r], q8s)), acc_m[r][c]);
        }
      }
      __m256i sumi[R][C];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) sumi[r][c] = _mm256_setzero_si256();
      }
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m256i sel_lo = _mm256_broadcastsi128_si256(Int16Broadcast(2 * j));
        const __m256i sel_hi = _mm256_broadcastsi128_si256(Int16Broadcast(2 * j + 1));
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const __m256i bits = Load256(x[r]->qs + 32 * j);
          __m256i lo = _mm256_and_si256(bits, m4);
          __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
          if constexpr (kFiveBit) {
            const __m256i h = _mm256_srli_epi16(Load256(x[r]->qh), 2 * j);
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
            hi = _mm256_or_si256(
                hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4));
          }
          const __m256i sc_lo = _mm256_shuffle_epi8(scales[r], sel_lo);
          const __m256i sc_hi = _mm256_shuffle_epi8(scales[r], sel_hi);
#pragma GCC unroll 8
          for (int c = 0; c < C; ++c) {
            const int8_t* q8 = yb[c]->qs + 64 * j;
            const __m256i pl = _mm256_madd_epi16(sc_lo, _mm256_maddubs_epi16(lo, Load256(q8)));
            const __m256i ph = _mm256_madd_epi16(sc_hi, _mm256_maddubs_epi16(hi, Load256(q8 + 32)));
            sumi[r][c] = _mm256_add_epi32(sumi[r][c], _mm256_add_epi32(pl, ph));
          }
        }
      }
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m256 dy = _mm256_set1_ps(yb[c]->d);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          acc[r][c] =
              _mm256_fmadd_ps(_mm256_mul_ps(dy, dx[r]), _mm256_cvtepi32_ps(sumi[r][c]), acc[r][c]);
        }
      }
    }
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        __m128 m = acc_m[r][c];
        m = _mm_add_ps(m, _mm_movehl_ps(m, m));
        m = _mm_add_ss(m, _mm_movehdup_ps(m));
        y[c * ldy + r] = HsumFloat8(acc[r][c]) + _mm_cvtss_f32(m);
      }
    }
  }
};

// 32-lane chunk k (element order) of a 128-element half of a Q6_K block, as UnpackQ6's q[k].
inline __m256i UnpackQ6Chunk(const uint8_t* ql, const uint8_t* qh, int k) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i m2 = _mm256_set1_epi8(3);
  const __m256i b = Load256(ql + 32 * (k & 1));
  const __m256i lo = _mm256_and_si256(k < 2 ? b : _mm256_srli_epi16(b, 4), m4);
  const __m256i h = _mm256_and_si256(_mm256_srli_epi16(Load256(qh), 2 * k), m2);
  return _mm256_or_si256(lo, _mm256_slli_epi16(h, 4));
}

// Q6_K against Q8_K, as DotQ6_K.
struct Q6_KTiles {
  static constexpr int kRows = 3, kCols = 4, kBlockElems = kQK_K;

  template <int R, int C>
  static void Tile(const uint8_t* w, int64_t w_row_bytes, const uint8_t* a, int64_t a_row_bytes,
                   int64_t nb, float* y, int64_t ldy) {
    const __m256i m32s = _mm256_set1_epi8(32);
    __m256 acc[R][C];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < nb; ++i) {
      const BlockQ6_K* x[R];
      const BlockQ8_K* yb[C];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) x[r] = &BlockAt<BlockQ6_K>(w + r * w_row_bytes, i);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) yb[c] = &BlockAt<BlockQ8_K>(a + c * a_row_bytes, i);
      __m256i sumi[R][C];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) sumi[r][c] = _mm256_setzero_si256();
      }
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        __m256i scales[R];  // the half's 8 scales as int16, in both 128-bit lanes
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          scales[r] = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(
              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x[r]->scales + 8 * half))));
        }
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          // Scale 2k for the low 16 lanes, 2k + 1 for the high ones.
          const __m256i sel = _mm256_set_m128i(Int16Broadcast(2 * k + 1), Int16Broadcast(2 * k));
          __m256i q[R], sc[R];
#pragma GCC unroll 8
          for (int r = 0; r < R; ++r) {
            q[r] = UnpackQ6Chunk(x[r]->ql + 64 * half, x[r]->qh + 32 * half, k);
            sc[r] = _mm256_shuffle_epi8(scales[r], sel);
          }
#pragma GCC unroll 8
          for (int c = 0; c < C; ++c) {
            const __m256i act = Load256(yb[c]->qs + 128 * half + 32 * k);
            const __m256i act32 = _mm256_maddubs_epi16(m32s, act);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
              // (q - 32) * a == q * a - 32 * a, as in DotQ6_K.
              const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q[r], act), act32);
              sumi[r][c] = _mm256_add_epi32(sumi[r][c], _mm256_madd_epi16(sc[r], p16));
            }
          }
        }
      }
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m256 dy = _mm256_set1_ps(yb[c]->d);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          acc[r][c] = _mm256_fmadd_ps(_mm256_mul_ps(dy, _mm256_set1_ps(H2F(x[r]->d))),
                                      _mm256_cvtepi32_ps(sumi[r][c]), acc[r][c]);
        }
      }
    }
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) y[c * ldy + r] = HsumFloat8(acc[r][c]);
    }
  }
};

// GCC would otherwise contract the multiply and add into an FMA (this file is built with
// -mfma), which rounds once instead of twice and would differ from the scalar kernel.
__attribute__((optimize("fp-contract=off"))) void AxpyF16(float a, const uint16_t* x, float* y,
                                                          int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    // mul then add, as the scalar kernel: no FMA, same bits.
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, v)));
  }
  for (; i < n; ++i) {
    const float p = a * H2F(x[i]);
    y[i] += p;
  }
}

KernelSet MakeAvx2Kernels() {
  KernelSet k = ScalarKernels();  // types without an AVX2 kernel keep the scalar one
  k.axpy_f16 = AxpyF16;
  k.quantize_q8_0_act = QuantQ8_0Act;
  k.name = "avx2";
  // Every type with an AVX2 vec_dot gets a matmul over that vec_dot (or a tiled kernel
  // with the same float operations), never the scalar set's.
  auto set = [&k](GgmlType t, DequantizeFn dq, VecDotFn dot, MatMulFn mm) {
    k.dequantize[static_cast<uint32_t>(t)] = dq;
    k.vec_dot[static_cast<uint32_t>(t)] = dot;
    k.matmul[static_cast<uint32_t>(t)] = mm;
  };
  set(GgmlType::kF32, k.Dequantize(GgmlType::kF32), DotF32, MatMulByVecDot<DotF32>);
  set(GgmlType::kF16, DequantF16, DotHalf<false>, MatMulByVecDot<DotHalf<false>>);
  set(GgmlType::kBF16, DequantBF16, DotHalf<true>, MatMulByVecDot<DotHalf<true>>);
  set(GgmlType::kQ4_0, DequantQ4_0, DotLegacyQ8_0<BlockQ4_0, UnpackQ4_0>,
      MatMulTiled<LegacyQ8_0Tiles<BlockQ4_0>, DotLegacyQ8_0<BlockQ4_0, UnpackQ4_0>>);
  set(GgmlType::kQ4_1, DequantQ4_1, DotLegacyQ8_1<BlockQ4_1, UnpackQ4_1>,
      MatMulByVecDot<DotLegacyQ8_1<BlockQ4_1, UnpackQ4_1>>);
  set(GgmlType::kQ5_0, DequantQ5_0, DotLegacyQ8_0<BlockQ5_0, UnpackQ5_0>,
      MatMulTiled<LegacyQ8_0Tiles<BlockQ5_0>, DotLegacyQ8_0<BlockQ5_0, UnpackQ5_0>>);
  set(GgmlType::kQ5_1, DequantQ5_1, DotLegacyQ8_1<BlockQ5_1, UnpackQ5_1>,
      MatMulByVecDot<DotLegacyQ8_1<BlockQ5_1, UnpackQ5_1>>);
  set(GgmlType::kQ8_0, DequantQ8_0, DotLegacyQ8_0<BlockQ8_0, UnpackQ8_0>,
      MatMulTiled<LegacyQ8_0Tiles<BlockQ8_0>, DotLegacyQ8_0<BlockQ8_0, UnpackQ8_0>>);
  set(GgmlType::kQ4_K, DequantQ45_K<false>, DotQ45_K<false>,
      MatMulTiled<Q45_KTiles<false>, DotQ45_K<false>>);
  set(GgmlType::kQ5_K, DequantQ45_K<true>, DotQ45_K<true>,
      MatMulTiled<Q45_KTiles<true>, DotQ45_K<true>>);
  set(GgmlType::kQ6_K, DequantQ6_K, DotQ6_K, MatMulTiled<Q6_KTiles, DotQ6_K>);
  k.quantize[static_cast<uint32_t>(GgmlType::kF16)] = QuantF16;
  k.quantize[static_cast<uint32_t>(GgmlType::kQ8_0)] = QuantQ8_0;
  k.quantize[static_cast<uint32_t>(GgmlType::kQ8_1)] = QuantQ8_1;
  k.quantize[static_cast<uint32_t>(GgmlType::kQ8_K)] = QuantQ8_K;
  return k;
}

}  // namespace

const KernelSet* Avx2Kernels() {
  const CpuFeatures& f = DetectCpuFeatures();
  if (!(f.avx2 && f.fma && f.f16c)) return nullptr;
  static const KernelSet k = MakeAvx2Kernels();
  return &k;
}

}  // namespace gantry::engine

#else  // not built with AVX2/FMA/F16C

namespace gantry::engine {
const KernelSet* Avx2Kernels() { return nullptr; }
}  // namespace gantry::engine

#endif
