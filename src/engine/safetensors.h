// Safetensors reader: a memory-mapped, bounds-checked view of a .safetensors file.
//
// Layout: u64 little-endian header length N, N bytes of JSON, then the data buffer.
// The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data buffer) plus an optional "__metadata__" object of
// string values. Tensor data is not copied: SafetensorsTensor::data points into the
// mapping, which lives as long as the SafetensorsFile. The data is not necessarily
// aligned for its dtype (the header length is arbitrary): read it with memcpy.
//
// Shapes are row-major, outermost first (PyTorch order) — the reverse of GGUF's dims.
//
// What Open/Parse check (all kInvalidArgument, message "<file>: <what>"):
//  - the header length fits the file and is <= 100 MB; the header is a JSON object
//    nested at most 8 deep;
//  - each tensor has a known dtype (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL),
//    a shape of <= 8 non-negative dims whose element count does not overflow, and
//    data_offsets with begin <= end <= buffer size and end - begin == the byte size;
//  - no two tensors overlap; __metadata__ values are strings.
// kNotFound when the file does not exist (see MappedFile for the other open errors).
//
// Thread safety: immutable after Open; share freely across threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gantry::engine {

class MappedFile;

enum class SafetensorsDtype { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16", ... as spelled in the header.
std::string_view SafetensorsDtypeName(SafetensorsDtype d);
// Bytes per element.
size_t SafetensorsDtypeSize(SafetensorsDtype d);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<uint64_t> shape;  // outermost first; empty for a scalar
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint64_t offset = 0;            // relative to the data buffer
  const uint8_t* data = nullptr;  // into the mapping; unaligned
};

class SafetensorsFile final {
 public:
  // Maps and parses `path`. kNotFound if it does not exist; kInvalidArgument naming the
  // file and the problem if it is not a valid safetensors file.
  static Result<std::shared_ptr<const SafetensorsFile>> Open(const std::string& path);
  // Parses an image held in memory (tests, fuzzing). `bytes` must outlive the result.
  static Result<std::shared_ptr<const SafetensorsFile>> Parse(std::span<const uint8_t> bytes,
                                                              std::string name = "<memory>");
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  // The "__metadata__" object (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Tensors in data-offset order.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  // kNotFound naming the tensor when absent.
  Result<const SafetensorsTensor*> Tensor(std::string_view name) const;

 private:
  SafetensorsFile() = default;
  friend struct SafetensorsParser;

  std::string path_;
  std::map<std::string, std::string> metadata_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  std::unique_ptr<MappedFile> mapping_;  // null when parsed from memory
};

}  // namespace gantry::engine
