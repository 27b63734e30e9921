// Test-only GGUF writer: builds small GGUF images in memory, valid or deliberately
// broken, so engine tests need no downloaded model.
//
// Example:
//   GgufWriter w;
//   w.KvString("general.architecture", "llama").KvU32("llama.block_count", 2);
//   w.AddTensor("tok_embd.weight", {8, 4}, GgmlType::kF32);  // zero-filled data
//   std::vector<uint8_t> image = w.Build();
//
// Tensor data is laid out in AddTensor order, each tensor at the next multiple of the
// alignment (general.alignment if set with SetAlignment, else 32). Overrides let a test
// write wrong counts, offsets or versions; ByteWriter builds any raw value by hand.
//
// Thread safety: none; one writer per test.
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/gguf.h"

namespace gantry::engine::testing {

// Appends little-endian encodings to a byte vector.
class ByteWriter {
 public:
  ByteWriter& U8(uint8_t v) { return Le(v, 1); }
  ByteWriter& U16(uint16_t v) { return Le(v, 2); }
  ByteWriter& U32(uint32_t v) { return Le(v, 4); }
  ByteWriter& U64(uint64_t v) { return Le(v, 8); }
  ByteWriter& I8(int8_t v) { return Le(static_cast<uint8_t>(v), 1); }
  ByteWriter& I16(int16_t v) { return Le(static_cast<uint16_t>(v), 2); }
  ByteWriter& I32(int32_t v) { return Le(static_cast<uint32_t>(v), 4); }
  ByteWriter& I64(int64_t v) { return Le(static_cast<uint64_t>(v), 8); }
  ByteWriter& F32(float v) { return Le(std::bit_cast<uint32_t>(v), 4); }
  ByteWriter& F64(double v) { return Le(std::bit_cast<uint64_t>(v), 8); }
  // A GGUF string: u64 length, then the bytes (no NUL).
  ByteWriter& Str(std::string_view s) {
    U64(s.size());
    return Raw(s);
  }
  ByteWriter& Raw(std::string_view s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  ByteWriter& Raw(const std::vector<uint8_t>& b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }
  ByteWriter& PadTo(uint64_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t> Take() { return std::move(bytes_); }

 private:
  ByteWriter& Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  std::vector<uint8_t> bytes_;
};

class GgufWriter {
 public:
  using VT = GgufValue::Type;
  struct TensorSpec {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type = 0;
    std::vector<uint8_t> data;
    std::optional<uint64_t> offset;  // override the computed offset
  };

  GgufWriter& SetVersion(uint32_t v) {
    version_ = v;
    return *this;
  }
  // Writes general.alignment (u32) and lays the data out with it (a hostile 0 is
  // written but the layout keeps the previous alignment).
  GgufWriter& SetAlignment(uint32_t a) {
    if (a != 0) alignment_ = a;
    return KvU32("general.alignment", a);
  }
  GgufWriter& OverrideTensorCount(uint64_t n) {
    tensor_count_ = n;
    return *this;
  }
  GgufWriter& OverrideKvCount(uint64_t n) {
    kv_count_ = n;
    return *this;
  }

  // A KV whose value bytes (after the type tag) the caller encoded.
  GgufWriter& KvRaw(std::string_view key, uint32_t type, const ByteWriter& value) {
    kvs_.Str(key).U32(type).Raw(value.bytes());
    ++n_kvs_;
    return *this;
  }
  GgufWriter& KvU8(std::string_view k, uint8_t v) { return Kv(k, VT::kU8, ByteWriter().U8(v)); }
  GgufWriter& KvI8(std::string_view k, int8_t v) { return Kv(k, VT::kI8, ByteWriter().I8(v)); }
  GgufWriter& KvU16(std::string_view k, uint16_t v) { return Kv(k, VT::kU16, ByteWriter().U16(v)); }
  GgufWriter& KvI16(std::string_view k, int16_t v) { return Kv(k, VT::kI16, ByteWriter().I16(v)); }
  GgufWriter& KvU32(std::string_view k, uint32_t v) { return Kv(k, VT::kU32, ByteWriter().U32(v)); }
  GgufWriter& KvI32(std::string_view k, int32_t v) { return Kv(k, VT::kI32, ByteWriter().I32(v)); }
  GgufWriter& KvU64(std::string_view k, uint64_t v) { return Kv(k, VT::kU64, ByteWriter().U64(v)); }
  GgufWriter& KvI64(std::string_view k, int64_t v) { return Kv(k, VT::kI64, ByteWriter().I64(v)); }
  GgufWriter& KvF32(std::string_view k, float v) { return Kv(k, VT::kF32, ByteWriter().F32(v)); }
  GgufWriter& KvF64(std::string_view k, double v) { return Kv(k, VT::kF64, ByteWriter().F64(v)); }
  GgufWriter& KvBool(std::string_view k, bool v) {
    return Kv(k, VT::kBool, ByteWriter().U8(v ? 1 : 0));
  }
  GgufWriter& KvString(std::string_view k, std::string_view v) {
    return Kv(k, VT::kString, ByteWriter().Str(v));
  }
  GgufWriter& KvStringArray(std::string_view k, const std::vector<std::string>& v) {
    ByteWriter b;
    b.U32(static_cast<uint32_t>(VT::kString)).U64(v.size());
    for (const auto& s : v) b.Str(s);
    return Kv(k, VT::kArray, b);
  }
  GgufWriter& KvF32Array(std::string_view k, const std::vector<float>& v) {
    ByteWriter b;
    b.U32(static_cast<uint32_t>(VT::kF32)).U64(v.size());
    for (float f : v) b.F32(f);
    return Kv(k, VT::kArray, b);
  }
  GgufWriter& KvI32Array(std::string_view k, const std::vector<int32_t>& v) {
    ByteWriter b;
    b.U32(static_cast<uint32_t>(VT::kI32)).U64(v.size());
    for (int32_t i : v) b.I32(i);
    return Kv(k, VT::kArray, b);
  }

  // Zero-filled data of the size the type implies (0 bytes for an unknown type).
  GgufWriter& AddTensor(std::string name, std::vector<uint64_t> dims, GgmlType type) {
    return AddTensorRaw(std::move(name), dims, static_cast<uint32_t>(type),
                        std::vector<uint8_t>(BytesFor(dims, type), 0));
  }
  GgufWriter& AddTensorRaw(std::string name, std::vector<uint64_t> dims, uint32_t type,
                           std::vector<uint8_t> data, std::optional<uint64_t> offset = {}) {
    tensors_.push_back({std::move(name), std::move(dims), type, std::move(data), offset});
    return *this;
  }

  std::vector<uint8_t> Build() const {
    ByteWriter out;
    out.Raw("GGUF").U32(version_);
    out.U64(tensor_count_.value_or(tensors_.size())).U64(kv_count_.value_or(n_kvs_));
    out.Raw(kvs_.bytes());
    uint64_t next = 0;
    std::vector<uint64_t> offsets;
    for (const TensorSpec& t : tensors_) {
      next = (next + alignment_ - 1) / alignment_ * alignment_;
      offsets.push_back(t.offset.value_or(next));
      next += t.data.size();
      out.Str(t.name).U32(static_cast<uint32_t>(t.dims.size()));
      for (uint64_t d : t.dims) out.U64(d);
      out.U32(t.type).U64(offsets.back());
    }
    out.PadTo(alignment_);
    const size_t data_start = out.bytes().size();
    std::vector<uint8_t> image = out.Take();
    for (size_t i = 0; i < tensors_.size(); ++i) {
      if (tensors_[i].data.empty()) continue;  // hostile offsets must not resize the image
      const size_t at = data_start + offsets[i];
      if (image.size() < at + tensors_[i].data.size()) {
        image.resize(at + tensors_[i].data.size(), 0);
      }
      std::copy(tensors_[i].data.begin(), tensors_[i].data.end(), image.begin() + at);
    }
    return image;
  }

  static uint64_t BytesFor(const std::vector<uint64_t>& dims, GgmlType type) {
    const auto layout = GgmlLayout(type);
    if (!layout) return 0;
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    return n / layout->block_size * layout->type_size;
  }

 private:
  GgufWriter& Kv(std::string_view key, VT type, const ByteWriter& value) {
    return KvRaw(key, static_cast<uint32_t>(type), value);
  }

  uint32_t version_ = 3;
  uint64_t alignment_ = 32;
  std::optional<uint64_t> tensor_count_;
  std::optional<uint64_t> kv_count_;
  ByteWriter kvs_;
  uint64_t n_kvs_ = 0;
  std::vector<TensorSpec> tensors_;
};

}  // namespace gantry::engine::testing
