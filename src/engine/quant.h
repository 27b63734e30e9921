// Quantized tensor kernels: the block layouts of ggml's quant types, conversion to
// float, activation quantization and the weight-row x activation-row dot products the
// engine's matrix-vector products are made of.
//
// Layouts and arithmetic follow ggml (ggml-common.h, ggml-quants.c and the CPU backend's
// ggml_vec_dot_*), so a model file written by llama.cpp reads the same here and the
// logits match llama.cpp's up to float summation order:
//   - DequantizeRow gives the same floats as ggml's dequantize_row_* (and gguf-py).
//   - Activations are quantized like quantize_row_q8_0_ref / q8_1_ref / q8_K_ref
//     (the AVX2 versions here give the same bytes as the scalar reference).
//   - VecDot(type, w, a, n) is ggml_vec_dot_<type>_<vec_dot_type>: `a` is the activation
//     row already quantized to Traits(type)->vec_dot_type (Q8_0 for Q4_0/Q5_0/Q8_0,
//     Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants, F16 for F16, BF16 for BF16, F32 for F32).
//
// Two kernel sets exist: a portable scalar reference and an AVX2/FMA/F16C one (x86-64
// only; types without an AVX2 kernel fall back to the scalar one). Kernels() picks one
// once per process (see cpu_features.h; GANTRY_CPU=scalar forces the scalar set).
//
// Batched products (the tokens of a prompt, or one token of each of several sequences)
// use a set's MatMul: every (weight row, activation row) pair of a rows x cols product,
// each result bit-identical to that set's vec_dot of the pair, so batching tokens does
// not change the logits.
//
// Preconditions (checked with assert only: they are programmer invariants; validate file
// contents with CheckSupported/CheckRowLength first): `n` is a multiple of the type's
// block_elems, buffers hold RowBytes(type, n) bytes, the type is supported, and pointers
// are aligned for their block struct (2 bytes; 4 for F32 and Q8_K), which GGUF's tensor
// alignment and any allocator give.
//
// Thread safety: every function is thread-safe (pure functions over caller memory;
// MatVec uses a thread_local scratch buffer).
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <string_view>

#include "core/status.h"
#include "engine/gguf.h"

namespace gantry::engine {

// ---- block layouts (ggml-common.h); all fields little-endian, no padding ----

inline constexpr int kQK = 32;     // elements per block of the "legacy" quants
inline constexpr int kQK_K = 256;  // elements per K-quant super-block
inline constexpr int kKScaleSize = 12;

struct BlockQ4_0 {
  uint16_t d;  // fp16 scale
  uint8_t qs[kQK / 2];
};
struct BlockQ4_1 {
  uint16_t d, m;  // fp16 scale and min
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // fifth bits, read as a little-endian uint32
  uint8_t qs[kQK / 2];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
struct BlockQ8_1 {
  uint16_t d;  // fp16 scale
  uint16_t s;  // fp16 of d * sum(qs)
  int8_t qs[kQK];
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleSize];  // 8 6-bit scales and 8 6-bit mins, see ScaleMinK4
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
struct BlockQ8_K {  // activations only
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];  // sums of each group of 16 qs
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);

// ---- type traits ----

struct TypeTraits {
  const char* name;       // "Q4_K"
  int block_elems;        // elements per block
  int block_bytes;        // bytes per block
  GgmlType vec_dot_type;  // what VecDot wants the activations quantized to
  bool is_weight_type;    // false for the activation-only Q8_1 / Q8_K
};

// nullptr when the engine does not support `t`.
const TypeTraits* Traits(GgmlType t);

// Bytes of a row of `n` elements. REQUIRES: supported type, n % block_elems == 0.
int64_t RowBytes(GgmlType t, int64_t n);

// OK when tensors of type `t` can be used as weights; otherwise kUnimplemented:
// "tensor X: type Q2_K is not supported by the engine (supported: F32, F16, ...)".
Status CheckSupported(GgmlType t, std::string_view tensor_name);
// CheckSupported, plus kInvalidArgument when the row length `ne0` is not a positive
// multiple of the type's block size.
Status CheckRowLength(GgmlType t, int64_t ne0, std::string_view tensor_name);

// ---- scalar conversions (IEEE binary16 and bfloat16, round to nearest even) ----

float Fp16ToFp32(uint16_t h);
uint16_t Fp32ToFp16(float f);  // NaN stays NaN, overflow gives inf, as F16C does
float Bf16ToFp32(uint16_t h);
uint16_t Fp32ToBf16(float f);  // as ggml_compute_fp32_to_bf16 (NaN made quiet)

// ---- kernel sets ----

using DequantizeFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeFn = void (*)(const float* src, void* dst, int64_t n);
using VecDotFn = float (*)(const void* weights, const void* activations, int64_t n);
// y[c * ldy + r] = vec_dot(w + r * w_row_bytes, a + c * a_row_bytes, n) for r in
// [0, rows), c in [0, cols): `rows` weight rows times `cols` activation rows (already
// quantized to the vec_dot_type; any strides that keep the rows aligned), each result
// bit-identical to the same set's VecDotFn for that pair. Writes nothing else (nothing when
// rows or cols is 0). REQUIRES: ldy >= rows when cols > 1; y overlaps neither w nor a.
// The AVX2 set tiles Q4_0, Q5_0, Q8_0, Q4_K, Q5_K and Q6_K: a few weight rows times a few
// activation rows per pass over the blocks, each block loaded and unpacked once per tile,
// each pair's float operations exactly those of its vec_dot. The other types, and the
// scalar set, call vec_dot per pair (MatMulByVecDot below).
using MatMulFn = void (*)(const void* w, int64_t w_row_bytes, int64_t rows, const void* a,
                          int64_t a_row_bytes, int64_t cols, int64_t n, float* y, int64_t ldy);

inline constexpr int kGgmlTypeSlots = 31;  // ids 0..30

struct KernelSet {
  const char* name = "";
  // Indexed by the GgmlType id; nullptr where unsupported.
  std::array<DequantizeFn, kGgmlTypeSlots> dequantize{};  // by weight type
  std::array<QuantizeFn, kGgmlTypeSlots> quantize{};      // by vec_dot_type (F32 copies)
  std::array<VecDotFn, kGgmlTypeSlots> vec_dot{};         // by weight type
  std::array<MatMulFn, kGgmlTypeSlots> matmul{};          // by weight type
  // Activations for Q4_0/Q5_0/Q8_0 weights as llama.cpp's x86 build quantizes them:
  // d = amax / 127 (as F16), q = round-half-to-even(x * (127 / amax)). quantize[kQ8_0]
  // follows ggml's reference instead (x / d, half away from zero); the two differ on
  // ties and in the last bit of the scale, and the model is sensitive enough to show it
  // in its logits, so the engine uses this one for parity with llama.cpp.
  QuantizeFn quantize_q8_0_act = nullptr;
  // y[i] += a * x[i] for n F16 values x (attention's softmax-weighted sum of V rows): a
  // multiply then an add, never fused, so every set gives the same bits.
  void (*axpy_f16)(float a, const uint16_t* x, float* y, int64_t n) = nullptr;

  DequantizeFn Dequantize(GgmlType t) const { return Slot(dequantize, t); }
  QuantizeFn Quantize(GgmlType t) const { return Slot(quantize, t); }
  VecDotFn Dot(GgmlType t) const { return Slot(vec_dot, t); }
  MatMulFn MatMul(GgmlType t) const { return Slot(matmul, t); }

 private:
  template <typename F>
  static F Slot(const std::array<F, kGgmlTypeSlots>& a, GgmlType t) {
    const auto i = static_cast<uint32_t>(t);
    return i < a.size() ? a[i] : nullptr;
  }
};

// The MatMulFn that calls kDot once per pair (weight row outer, activation row inner):
// the scalar set's, and the AVX2 set's for types without a tiled kernel.
template <VecDotFn kDot>
void MatMulByVecDot(const void* w, int64_t w_row_bytes, int64_t rows, const void* a,
                    int64_t a_row_bytes, int64_t cols, int64_t n, float* y, int64_t ldy) {
  assert(cols <= 1 || ldy >= rows);
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      y[c * ldy + r] = kDot(wb + r * w_row_bytes, ab + c * a_row_bytes, n);
    }
  }
}

// The portable reference kernels.
const KernelSet& ScalarKernels();
// The AVX2/FMA/F16C kernels, or nullptr when not built for x86-64 or the CPU lacks them.
const KernelSet* Avx2Kernels();
// The set used by the functions below: AVX2 when available unless GANTRY_CPU=scalar.
const KernelSet& Kernels();

// ---- convenience wrappers over Kernels() ----

// dst[0..n) = the values of the row at `src`.
void DequantizeRow(GgmlType t, const void* src, float* dst, int64_t n);
// Quantizes activations to `vec_dot_type` (F32, F16, BF16, Q8_0, Q8_1 or Q8_K);
// dst holds RowBytes(vec_dot_type, n) bytes.
void QuantizeRow(GgmlType vec_dot_type, const float* src, void* dst, int64_t n);
void QuantizeRowQ8_0(const float* src, void* dst, int64_t n);
void QuantizeRowQ8_K(const float* src, void* dst, int64_t n);
// Dot of one weight row with activations quantized to Traits(weight_type)->vec_dot_type.
float VecDot(GgmlType weight_type, const void* weight_row, const void* act_quantized, int64_t n);

// y[r] = dot(row r of `weights`, x) for r in [0, rows); rows are RowBytes(t, cols)
// apart. Quantizes x once, then dots every row on the calling thread.
void MatVec(GgmlType t, const uint8_t* weights, int64_t rows, int64_t cols, const float* x,
            float* y, const KernelSet& kernels = Kernels());

}  // namespace gantry::engine
