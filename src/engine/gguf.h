// GGUF reader: a memory-mapped, bounds-checked view of a GGUF v2/v3 file.
//
// Every count, length, offset and size read from the file is checked against the
// file's size and against sane limits before use: a truncated or hostile file gives
// a kInvalidArgument naming what was wrong (and the file), never a crash or a huge
// allocation. Tensor data is not copied: TensorInfo::data points into the mapping,
// which lives as long as the GgufFile.
//
// What Open/Parse check (all kInvalidArgument, message "<file>: <what>"):
//  - magic "GGUF", version 2 or 3 (v1 and big-endian files are rejected by name);
//  - tensor and KV counts <= 1M each and small enough for the bytes left;
//  - strings: key <= 64 KiB, tensor name <= 64 bytes, any string <= 16 MiB;
//  - arrays: <= 8M elements, nesting depth <= 4, element bytes present in the
//    file before anything is reserved; all metadata together <= 8M values;
//  - value types known; bools are 0 or 1; keys and tensor names unique;
//  - general.alignment (default 32), when present: a u32 power of two <= 1 MiB;
//  - tensors: 1..4 dims, each >= 1, element count fits int64; a known ggml type
//    (else "unsupported tensor type N for tensor 'x'"); ne0 a multiple of the type's
//    block size; offset aligned; data inside the file; no two tensors overlapping.
// kNotFound when the file does not exist (see MappedFile for the other open errors).
//
// Thread safety: immutable after Open; share freely across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace gantry::engine {

class MappedFile;

// ggml tensor types (ids as in ggml.h). Only the ones the engine knows by name are
// listed; others are kept as their numeric id and rejected where they are used.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kBF16 = 30,
};

// "Q4_K", "F32", ... or "type 23" for an unknown id.
std::string GgmlTypeName(GgmlType t);

// How a type packs elements: `block_size` elements take `type_size` bytes.
struct GgmlTypeLayout {
  uint32_t block_size = 1;
  uint32_t type_size = 4;
};
// std::nullopt for a type the engine does not know.
std::optional<GgmlTypeLayout> GgmlLayout(GgmlType t);

// A metadata value. Arrays keep their element type; nested arrays are allowed.
// Storage: unsigned integers in uint64_t, signed in int64_t, F32/F64 in double.
struct GgufValue;
using GgufArray = std::vector<GgufValue>;
struct GgufValue {
  enum class Type : uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12,
  };
  Type type = Type::kU8;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> value;
  // For arrays: the element type (all elements share it).
  Type element_type = Type::kU8;
};

// "u8", "string", "array", ... or "type 13" for an unknown id.
std::string GgufValueTypeName(GgufValue::Type t);

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // ne0 first (ne0 = the contiguous row length)
  GgmlType type = GgmlType::kF32;
  uint64_t offset = 0;  // relative to the start of the tensor data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;           // checked: lies inside the file
  const uint8_t* data = nullptr;  // into the mapping; aligned to alignment() in the file
};

class GgufFile {
 public:
  // Maps and parses `path`. kNotFound if it does not exist; kInvalidArgument (naming the
  // file and the field) if it is not a valid GGUF file.
  static Result<std::shared_ptr<const GgufFile>> Open(const std::string& path);
  // Parses a GGUF image held in memory (tests, fuzzing). `bytes` must outlive the result.
  static Result<std::shared_ptr<const GgufFile>> Parse(std::span<const uint8_t> bytes,
                                                       std::string name = "<memory>");
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Offset of the tensor data section from the start of the file.
  uint64_t data_offset() const { return data_offset_; }

  // Metadata.
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const GgufValue* Find(std::string_view key) const;
  // Typed getters: kNotFound when absent, kInvalidArgument when of another type
  // (integers of any width convert when the value fits).
  Result<std::string> GetString(std::string_view key) const;
  Result<int64_t> GetInt(std::string_view key) const;
  Result<double> GetFloat(std::string_view key) const;  // F32/F64 (and integers)
  Result<bool> GetBool(std::string_view key) const;
  Result<std::vector<std::string>> GetStringArray(std::string_view key) const;
  Result<std::vector<float>> GetFloatArray(std::string_view key) const;
  Result<std::vector<int64_t>> GetIntArray(std::string_view key) const;

  // Tensors, in file order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // kNotFound naming the tensor when absent.
  Result<const TensorInfo*> Tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  friend struct GgufParser;

  Result<const GgufValue*> FindOr(std::string_view key) const;
  Status WrongType(std::string_view key, const GgufValue& v, std::string_view want) const;

  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  std::unique_ptr<MappedFile> mapping_;  // null when parsed from memory
};

}  // namespace gantry::engine
