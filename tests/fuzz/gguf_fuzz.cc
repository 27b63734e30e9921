// libFuzzer target: GgufFile::Parse and SafetensorsFile::Parse on arbitrary bytes must
// return a Status, never crash, hang or allocate without bound. See README.md.
#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/gguf.h"
#include "engine/safetensors.h"

namespace {

// Reads every tensor byte so ASan flags any data pointer that escaped the input.
template <typename File>
void TouchTensors(const File& file) {
  static volatile uint64_t sink = 0;
  uint64_t sum = 0;
  for (const auto& t : file.tensors()) {
    for (uint64_t i = 0; i < t.n_bytes; ++i) sum += t.data[i];
  }
  sink = sink + sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  // An odd first byte other than 'G' selects safetensors, so one corpus covers both.
  if (size > 0 && (data[0] & 1) == 1 && data[0] != 'G') {
    auto st = gantry::engine::SafetensorsFile::Parse(bytes, "fuzz.safetensors");
    if (st.ok()) TouchTensors(**st);
    return 0;
  }
  auto r = gantry::engine::GgufFile::Parse(bytes, "fuzz.gguf");
  if (r.ok()) TouchTensors(**r);
  return 0;
}
