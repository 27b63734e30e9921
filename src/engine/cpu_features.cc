#include "engine/cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace gantry::engine {

namespace {

CpuFeatures Detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's checks include the OS's XSAVE support for the AVX registers.
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = __builtin_cpu_supports("f16c");
  f.avx512f = __builtin_cpu_supports("avx512f");
#endif
  return f;
}

}  // namespace

const CpuFeatures& DetectCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

CpuLevel ChooseCpuLevel(const CpuFeatures& features, const char* env) {
  if (env != nullptr && std::strcmp(env, "scalar") == 0) return CpuLevel::kScalar;
  if (features.avx2 && features.fma && features.f16c) return CpuLevel::kAvx2;
  return CpuLevel::kScalar;
}

CpuLevel SelectedCpuLevel() {
  static const CpuLevel level = ChooseCpuLevel(DetectCpuFeatures(), std::getenv("GANTRY_CPU"));
  return level;
}

std::string_view CpuLevelName(CpuLevel level) {
  switch (level) {
    case CpuLevel::kScalar:
      return "scalar";
    case CpuLevel::kAvx2:
      return "avx2";
  }
  return "unknown";
}

}  // namespace gantry::engine
