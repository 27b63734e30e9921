// Run-time CPU feature detection for choosing kernels.
//
// The engine is built for baseline x86-64 (or any other target); files named *_avx2.cc
// are compiled with -mavx2 -mfma -mf16c and may only be called when UseAvx2() is true.
// The environment variable GANTRY_CPU overrides the choice: "scalar" forces the
// portable kernels (to compare results or rule out a SIMD bug); "auto" or unset picks
// the best the CPU supports; any other value is treated as "auto". Asking for AVX2 on a
// CPU without it still gives the scalar kernels.
//
// Thread safety: all functions are thread-safe; the result is computed once per process.
#pragma once

#include <string_view>

namespace gantry::engine {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;  // reported only; no AVX-512 kernels yet
};

// What the CPU (and OS, for the AVX state) supports. All false off x86-64.
const CpuFeatures& DetectCpuFeatures();

enum class CpuLevel { kScalar, kAvx2 };

// The level the kernels use: kAvx2 when the CPU has AVX2, FMA and F16C and GANTRY_CPU is
// not "scalar".
CpuLevel SelectedCpuLevel();
// Pure helper behind SelectedCpuLevel, for tests: `env` is GANTRY_CPU (nullptr if unset).
CpuLevel ChooseCpuLevel(const CpuFeatures& features, const char* env);

std::string_view CpuLevelName(CpuLevel level);  // "scalar", "avx2"

}  // namespace gantry::engine
