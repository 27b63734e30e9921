#include "engine/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <utility>

#include "engine/mapped_file.h"
#include "engine/quote.h"

namespace gantry::engine {
namespace {

// Limits far above any real model, low enough that a hostile header cannot make us
// allocate more than a few hundred MB. Counts are also checked against the bytes left.
constexpr uint64_t kMaxTensors = uint64_t{1} << 20;
constexpr uint64_t kMaxKvs = uint64_t{1} << 20;
constexpr uint64_t kMaxKeyLen = 65535;
constexpr uint64_t kMaxTensorNameLen = 64;
constexpr uint64_t kMaxStringLen = uint64_t{16} << 20;
constexpr uint64_t kMaxArrayLen = uint64_t{8} << 20;
// A parsed value takes ~48 bytes, so this caps metadata at ~400 MB; real vocabularies
// (tokens + scores + types + merges) stay near 1M values.
constexpr uint64_t kMaxTotalValues = uint64_t{8} << 20;
constexpr int kMaxArrayDepth = 4;
constexpr uint64_t kMaxAlignment = uint64_t{1} << 20;
constexpr uint32_t kMaxDims = 4;
constexpr uint32_t kDefaultAlignment = 32;

using VT = GgufValue::Type;

// Bytes a value of type `t` takes at least in the file (for pre-reservation checks):
// fixed-size scalars exactly, a string its length prefix, an array its header.
std::optional<uint64_t> MinEncodedSize(VT t) {
  switch (t) {
    case VT::kU8:
    case VT::kI8:
    case VT::kBool:
      return 1;
    case VT::kU16:
    case VT::kI16:
      return 2;
    case VT::kU32:
    case VT::kI32:
    case VT::kF32:
      return 4;
    case VT::kU64:
    case VT::kI64:
    case VT::kF64:
    case VT::kString:
      return 8;
    case VT::kArray:
      return 12;
  }
  return std::nullopt;
}

bool IsInteger(VT t) {
  switch (t) {
    case VT::kU8:
    case VT::kI8:
    case VT::kU16:
    case VT::kI16:
    case VT::kU32:
    case VT::kI32:
    case VT::kU64:
    case VT::kI64:
      return true;
    default:
      return false;
  }
}

// REQUIRES: IsInteger(v.type). nullopt when an unsigned value exceeds int64.
std::optional<int64_t> AsInt(const GgufValue& v) {
  if (const auto* u = std::get_if<uint64_t>(&v.value)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&v.value)) return *i;
  return std::nullopt;
}

std::optional<double> AsDouble(const GgufValue& v) {
  if (const auto* d = std::get_if<double>(&v.value)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v.value)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&v.value)) return static_cast<double>(*i);
  return std::nullopt;
}

}  // namespace

std::string GgmlTypeName(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kQ4_0:
      return "Q4_0";
    case GgmlType::kQ4_1:
      return "Q4_1";
    case GgmlType::kQ5_0:
      return "Q5_0";
    case GgmlType::kQ5_1:
      return "Q5_1";
    case GgmlType::kQ8_0:
      return "Q8_0";
    case GgmlType::kQ8_1:
      return "Q8_1";
    case GgmlType::kQ2_K:
      return "Q2_K";
    case GgmlType::kQ3_K:
      return "Q3_K";
    case GgmlType::kQ4_K:
      return "Q4_K";
    case GgmlType::kQ5_K:
      return "Q5_K";
    case GgmlType::kQ6_K:
      return "Q6_K";
    case GgmlType::kQ8_K:
      return "Q8_K";
    case GgmlType::kBF16:
      return "BF16";
  }
  return "type " + std::to_string(static_cast<uint32_t>(t));
}

std::optional<GgmlTypeLayout> GgmlLayout(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return GgmlTypeLayout{1, 4};
    case GgmlType::kF16:
      return GgmlTypeLayout{1, 2};
    case GgmlType::kBF16:
      return GgmlTypeLayout{1, 2};
    case GgmlType::kQ4_0:
      return GgmlTypeLayout{32, 18};
    case GgmlType::kQ4_1:
      return GgmlTypeLayout{32, 20};
    case GgmlType::kQ5_0:
      return GgmlTypeLayout{32, 22};
    case GgmlType::kQ5_1:
      return GgmlTypeLayout{32, 24};
    case GgmlType::kQ8_0:
      return GgmlTypeLayout{32, 34};
    case GgmlType::kQ8_1:
      return GgmlTypeLayout{32, 36};
    case GgmlType::kQ2_K:
      return GgmlTypeLayout{256, 84};
    case GgmlType::kQ3_K:
      return GgmlTypeLayout{256, 110};
    case GgmlType::kQ4_K:
      return GgmlTypeLayout{256, 144};
    case GgmlType::kQ5_K:
      return GgmlTypeLayout{256, 176};
    case GgmlType::kQ6_K:
      return GgmlTypeLayout{256, 210};
    case GgmlType::kQ8_K:
      return GgmlTypeLayout{256, 292};
  }
  return std::nullopt;
}

std::string GgufValueTypeName(GgufValue::Type t) {
  switch (t) {
    case VT::kU8:
      return "u8";
    case VT::kI8:
      return "i8";
    case VT::kU16:
      return "u16";
    case VT::kI16:
      return "i16";
    case VT::kU32:
      return "u32";
    case VT::kI32:
      return "i32";
    case VT::kF32:
      return "f32";
    case VT::kBool:
      return "bool";
    case VT::kString:
      return "string";
    case VT::kArray:
      return "array";
    case VT::kU64:
      return "u64";
    case VT::kI64:
      return "i64";
    case VT::kF64:
      return "f64";
  }
  return "type " + std::to_string(static_cast<uint32_t>(t));
}

// Reads one image front to back into a GgufFile. Every read goes through Need(), which
// is the single place that compares against the bytes left.
struct GgufParser {
  std::span<const uint8_t> bytes;
  GgufFile& out;
  size_t pos = 0;
  uint64_t values_left = kMaxTotalValues;

  Status Fail(std::string what) const { return InvalidArgument(out.path_ + ": " + what); }

  uint64_t Left() const { return bytes.size() - pos; }

  Status Need(uint64_t n, std::string_view what) const {
    if (n > Left()) {
      return Fail("truncated at offset " + std::to_string(pos) + " reading " + std::string(what) +
                  " (need " + std::to_string(n) + " bytes, " + std::to_string(Left()) + " left)");
    }
    return OkStatus();
  }

  // Little-endian, independent of the host's byte order. REQUIRES: Need(n) passed.
  uint64_t TakeLe(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t{bytes[pos + i]} << (8 * i);
    pos += n;
    return v;
  }

  Result<uint64_t> ReadU(int n, std::string_view what) {
    RETURN_IF_ERROR(Need(n, what));
    return TakeLe(n);
  }

  Result<std::string> ReadString(std::string_view what, uint64_t max_len) {
    ASSIGN_OR_RETURN(uint64_t len, ReadU(8, what));
    if (len > max_len) {
      return Fail(std::string(what) + " length " + std::to_string(len) + " exceeds the limit of " +
                  std::to_string(max_len) + " bytes (offset " + std::to_string(pos - 8) + ")");
    }
    RETURN_IF_ERROR(Need(len, what));
    std::string s(reinterpret_cast<const char*>(bytes.data() + pos), len);
    pos += len;
    return s;
  }

  Result<GgufValue> ReadValue(VT type, int depth, const std::string& ctx) {
    if (values_left == 0) {
      return Fail(ctx + ": more than " + std::to_string(kMaxTotalValues) + " metadata values");
    }
    --values_left;
    GgufValue v;
    v.type = type;
    const std::string what = ctx + " value";
    switch (type) {
      case VT::kU8:
      case VT::kU16:
      case VT::kU32:
      case VT::kU64: {
        const int n = static_cast<int>(*MinEncodedSize(type));
        ASSIGN_OR_RETURN(v.value, ReadU(n, what));
        return v;
      }
      case VT::kI8:
      case VT::kI16:
      case VT::kI32:
      case VT::kI64: {
        const int n = static_cast<int>(*MinEncodedSize(type));
        ASSIGN_OR_RETURN(uint64_t raw, ReadU(n, what));
        const int shift = 64 - 8 * n;  // sign-extend from n bytes
        v.value = static_cast<int64_t>(raw << shift) >> shift;
        return v;
      }
      case VT::kF32: {
        ASSIGN_OR_RETURN(uint64_t raw, ReadU(4, what));
        v.value = static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(raw)));
        return v;
      }
      case VT::kF64: {
        ASSIGN_OR_RETURN(uint64_t raw, ReadU(8, what));
        v.value = std::bit_cast<double>(raw);
        return v;
      }
      case VT::kBool: {
        ASSIGN_OR_RETURN(uint64_t raw, ReadU(1, what));
        if (raw > 1) return Fail(ctx + ": bool value " + std::to_string(raw) + " is not 0 or 1");
        v.value = raw == 1;
        return v;
      }
      case VT::kString: {
        ASSIGN_OR_RETURN(v.value, ReadString(what, kMaxStringLen));
        return v;
      }
      case VT::kArray:
        return ReadArray(std::move(v), depth, ctx);
    }
    return Fail(ctx + ": unknown value type " + std::to_string(static_cast<uint32_t>(type)));
  }

  Result<GgufValue> ReadArray(GgufValue v, int depth, const std::string& ctx) {
    if (depth >= kMaxArrayDepth) {
      return Fail(ctx + ": arrays nested deeper than " + std::to_string(kMaxArrayDepth));
    }
    ASSIGN_OR_RETURN(uint64_t et, ReadU(4, ctx + " array element type"));
    v.element_type = static_cast<VT>(et);
    const std::optional<uint64_t> min_size = MinEncodedSize(v.element_type);
    if (!min_size) return Fail(ctx + ": unknown array element type " + std::to_string(et));
    ASSIGN_OR_RETURN(uint64_t count, ReadU(8, ctx + " array length"));
    if (count > kMaxArrayLen) {
      return Fail(ctx + ": array length " + std::to_string(count) + " exceeds the limit of " +
                  std::to_string(kMaxArrayLen));
    }
    if (count > Left() / *min_size) {
      return Fail(ctx + ": array of " + std::to_string(count) + " " +
                  GgufValueTypeName(v.element_type) + " elements needs at least " +
                  std::to_string(count * *min_size) + " bytes, " + std::to_string(Left()) +
                  " left in file");
    }
    if (count > values_left) {
      return Fail(ctx + ": more than " + std::to_string(kMaxTotalValues) + " metadata values");
    }
    GgufArray arr;
    arr.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      ASSIGN_OR_RETURN(GgufValue e,
                       ReadValue(v.element_type, depth + 1, ctx + "[" + std::to_string(i) + "]"));
      arr.push_back(std::move(e));
    }
    v.value = std::move(arr);
    return v;
  }

  Status ReadHeader(uint64_t& n_tensors, uint64_t& n_kvs) {
    if (bytes.size() < 4 || std::memcmp(bytes.data(), "GGUF", 4) != 0) {
      return Fail("not a GGUF file (bad magic)");
    }
    pos = 4;
    ASSIGN_OR_RETURN(uint64_t version, ReadU(4, "version"));
    if (version == 1) {
      return Fail("GGUF version 1 is not supported (it used 32-bit counts); re-convert the model");
    }
    if (version != 2 && version != 3) {
      // A big-endian file has its version byte-swapped (3 reads as 0x03000000).
      if ((version & 0xffff) == 0 && (version >> 24) >= 1 && (version >> 24) <= 3) {
        return Fail("big-endian GGUF files are not supported");
      }
      return Fail("unsupported GGUF version " + std::to_string(version) + " (expected 2 or 3)");
    }
    out.version_ = static_cast<uint32_t>(version);
    ASSIGN_OR_RETURN(n_tensors, ReadU(8, "tensor count"));
    ASSIGN_OR_RETURN(n_kvs, ReadU(8, "metadata count"));
    // Minimum encodings: a KV is key length + type + 1 byte; a tensor info is name length
    // + n_dims + one dim + type + offset.
    if (n_tensors > kMaxTensors || n_tensors > Left() / 32) {
      return Fail("tensor count " + std::to_string(n_tensors) + " is implausible for a file of " +
                  std::to_string(bytes.size()) + " bytes (limit " + std::to_string(kMaxTensors) +
                  ")");
    }
    if (n_kvs > kMaxKvs || n_kvs > Left() / 13) {
      return Fail("metadata count " + std::to_string(n_kvs) + " is implausible for a file of " +
                  std::to_string(bytes.size()) + " bytes (limit " + std::to_string(kMaxKvs) + ")");
    }
    return OkStatus();
  }

  Status ReadMetadata(uint64_t n_kvs) {
    for (uint64_t i = 0; i < n_kvs; ++i) {
      ASSIGN_OR_RETURN(std::string key,
                       ReadString("metadata key #" + std::to_string(i), kMaxKeyLen));
      const std::string ctx = "key " + QuoteForMessage(key);
      if (out.metadata_.count(key) != 0) return Fail("duplicate " + ctx);
      ASSIGN_OR_RETURN(uint64_t type, ReadU(4, ctx + " value type"));
      if (!MinEncodedSize(static_cast<VT>(type))) {
        return Fail(ctx + ": unknown value type " + std::to_string(type));
      }
      ASSIGN_OR_RETURN(GgufValue v, ReadValue(static_cast<VT>(type), 0, ctx));
      out.metadata_.emplace(std::move(key), std::move(v));
    }
    if (auto it = out.metadata_.find("general.alignment"); it != out.metadata_.end()) {
      const GgufValue& a = it->second;
      if (a.type != VT::kU32) {
        return Fail("general.alignment is " + GgufValueTypeName(a.type) + ", expected u32");
      }
      const uint64_t align = std::get<uint64_t>(a.value);
      if (align == 0 || !std::has_single_bit(align) || align > kMaxAlignment) {
        return Fail("general.alignment " + std::to_string(align) +
                    " is not a power of two in [1, " + std::to_string(kMaxAlignment) + "]");
      }
      out.alignment_ = align;
    } else {
      out.alignment_ = kDefaultAlignment;
    }
    return OkStatus();
  }

  Status ReadTensorInfo(uint64_t i) {
    TensorInfo t;
    ASSIGN_OR_RETURN(t.name,
                     ReadString("tensor #" + std::to_string(i) + " name", kMaxTensorNameLen));
    const std::string ctx = "tensor " + QuoteForMessage(t.name);
    if (out.tensor_index_.count(t.name) != 0) return Fail("duplicate " + ctx);
    ASSIGN_OR_RETURN(uint64_t n_dims, ReadU(4, ctx + " n_dims"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return Fail(ctx + ": n_dims " + std::to_string(n_dims) + " is not in [1, " +
                  std::to_string(kMaxDims) + "]");
    }
    uint64_t n_elements = 1;
    for (uint64_t d = 0; d < n_dims; ++d) {
      ASSIGN_OR_RETURN(uint64_t ne, ReadU(8, ctx + " dims"));
      if (ne == 0) return Fail(ctx + ": dimension " + std::to_string(d) + " is 0");
      // ggml indexes with int64_t: the element count must fit it.
      if (__builtin_mul_overflow(n_elements, ne, &n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Fail(ctx + ": element count overflows (dimension " + std::to_string(d) + " = " +
                    std::to_string(ne) + ")");
      }
      t.dims.push_back(ne);
    }
    t.n_elements = n_elements;
    ASSIGN_OR_RETURN(uint64_t type, ReadU(4, ctx + " type"));
    t.type = static_cast<GgmlType>(type);
    ASSIGN_OR_RETURN(t.offset, ReadU(8, ctx + " offset"));
    out.tensor_index_.emplace(t.name, out.tensors_.size());
    out.tensors_.push_back(std::move(t));
    return OkStatus();
  }

  // Sizes, alignment and bounds of every tensor, once the data section start is known.
  Status PlaceTensor(TensorInfo& t) {
    const std::string ctx = "tensor " + QuoteForMessage(t.name);
    const std::optional<GgmlTypeLayout> layout = GgmlLayout(t.type);
    if (!layout) {
      return Fail("unsupported tensor type " + std::to_string(static_cast<uint32_t>(t.type)) +
                  " for " + ctx);
    }
    if (t.dims[0] % layout->block_size != 0) {
      return Fail(ctx + ": ne0 " + std::to_string(t.dims[0]) + " is not a multiple of the " +
                  GgmlTypeName(t.type) + " block size " + std::to_string(layout->block_size));
    }
    // n_elements <= INT64_MAX, so n_blocks * type_size only overflows for huge counts.
    const uint64_t n_blocks = t.n_elements / layout->block_size;
    if (__builtin_mul_overflow(n_blocks, uint64_t{layout->type_size}, &t.n_bytes)) {
      return Fail(ctx + ": byte size overflows");
    }
    if (t.offset % out.alignment_ != 0) {
      return Fail(ctx + ": data offset " + std::to_string(t.offset) +
                  " is not a multiple of the alignment " + std::to_string(out.alignment_));
    }
    uint64_t rel_end = 0;
    uint64_t begin = 0;
    uint64_t end = 0;
    if (__builtin_add_overflow(t.offset, t.n_bytes, &rel_end) ||
        __builtin_add_overflow(out.data_offset_, t.offset, &begin) ||
        __builtin_add_overflow(begin, t.n_bytes, &end) || end > bytes.size()) {
      const std::string range =
          rel_end >= t.offset
              ? "[" + std::to_string(t.offset) + ", " + std::to_string(rel_end) + ")"
              : "at offset " + std::to_string(t.offset) + " (+" + std::to_string(t.n_bytes) +
                    " bytes)";
      return Fail(ctx + ": data " + range + " past end of file (size " +
                  std::to_string(bytes.size()) + ", data section at " +
                  std::to_string(out.data_offset_) + ")");
    }
    t.data = bytes.data() + begin;
    return OkStatus();
  }

  Status CheckNoOverlap() const {
    std::vector<const TensorInfo*> by_offset;
    by_offset.reserve(out.tensors_.size());
    for (const TensorInfo& t : out.tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const TensorInfo& prev = *by_offset[i - 1];
      const TensorInfo& cur = *by_offset[i];
      if (cur.offset < prev.offset + prev.n_bytes) {  // no overflow: both checked in file
        return Fail("tensor " + QuoteForMessage(cur.name) + " at offset " +
                    std::to_string(cur.offset) + " overlaps tensor " + QuoteForMessage(prev.name) +
                    " [" + std::to_string(prev.offset) + ", " +
                    std::to_string(prev.offset + prev.n_bytes) + ")");
      }
    }
    return OkStatus();
  }

  static Result<std::shared_ptr<const GgufFile>> Make(std::span<const uint8_t> bytes,
                                                      std::string name,
                                                      std::unique_ptr<MappedFile> mapping);

  Status Run() {
    uint64_t n_tensors = 0;
    uint64_t n_kvs = 0;
    RETURN_IF_ERROR(ReadHeader(n_tensors, n_kvs));
    RETURN_IF_ERROR(ReadMetadata(n_kvs));
    out.tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) RETURN_IF_ERROR(ReadTensorInfo(i));
    // pos <= size and alignment <= 1 MiB, so this cannot overflow.
    out.data_offset_ = (pos + out.alignment_ - 1) / out.alignment_ * out.alignment_;
    for (TensorInfo& t : out.tensors_) RETURN_IF_ERROR(PlaceTensor(t));
    return CheckNoOverlap();
  }
};

GgufFile::~GgufFile() = default;

Result<std::shared_ptr<const GgufFile>> GgufParser::Make(std::span<const uint8_t> bytes,
                                                         std::string name,
                                                         std::unique_ptr<MappedFile> mapping) {
  std::shared_ptr<GgufFile> file(new GgufFile());
  file->path_ = std::move(name);
  file->mapping_ = std::move(mapping);
  GgufParser parser{bytes, *file};
  RETURN_IF_ERROR(parser.Run());
  return std::shared_ptr<const GgufFile>(std::move(file));
}

Result<std::shared_ptr<const GgufFile>> GgufFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapping, MappedFile::Open(path));
  const std::span<const uint8_t> bytes = mapping->bytes();
  return GgufParser::Make(bytes, path, std::move(mapping));
}

Result<std::shared_ptr<const GgufFile>> GgufFile::Parse(std::span<const uint8_t> bytes,
                                                        std::string name) {
  return GgufParser::Make(bytes, std::move(name), nullptr);
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = metadata_.find(std::string(key));
  return it == metadata_.end() ? nullptr : &it->second;
}

Result<const GgufValue*> GgufFile::FindOr(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return NotFound(path_ + ": no metadata key " + QuoteForMessage(key));
  return v;
}

Status GgufFile::WrongType(std::string_view key, const GgufValue& v, std::string_view want) const {
  std::string have = GgufValueTypeName(v.type);
  if (v.type == VT::kArray) have += " of " + GgufValueTypeName(v.element_type);
  return InvalidArgument(path_ + ": key " + QuoteForMessage(key) + " is " + have + ", expected " +
                         std::string(want));
}

Result<std::string> GgufFile::GetString(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOr(key));
  if (v->type != VT::kString) return WrongType(key, *v, "string");
  return std::get<std::string>(v->value);
}

Result<int64_t> GgufFile::GetInt(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOr(key));
  if (!IsInteger(v->type)) return WrongType(key, *v, "integer");
  const std::optional<int64_t> i = AsInt(*v);
  if (!i) return InvalidArgument(path_ + ": key " + QuoteForMessage(key) + " does not fit int64");
  return *i;
}

Result<double> GgufFile::GetFloat(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOr(key));
  if (v->type != VT::kF32 && v->type != VT::kF64 && !IsInteger(v->type)) {
    return WrongType(key, *v, "float");
  }
  return *AsDouble(*v);
}

Result<bool> GgufFile::GetBool(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOr(key));
  if (v->type != VT::kBool) return WrongType(key, *v, "bool");
  return std::get<bool>(v->value);
}

Result<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOr(key));
  if (v->type != VT::kArray || v->element_type != VT::kString) {
    return WrongType(key, *v, "array of string");
  }
  const auto& arr = std::get<GgufArray>(v->value);
  std::vector<std::string> out;
  out.reserve(arr.size());
  for (const GgufValue& e : arr) out.push_back(std::get<std::string>(e.value));
  return out;
}

Result<std::vector<float>> GgufFile::GetFloatArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOr(key));
  const VT et = v->element_type;
  if (v->type != VT::kArray || (et != VT::kF32 && et != VT::kF64 && !IsInteger(et))) {
    return WrongType(key, *v, "array of float");
  }
  const auto& arr = std::get<GgufArray>(v->value);
  std::vector<float> out;
  out.reserve(arr.size());
  for (const GgufValue& e : arr) out.push_back(static_cast<float>(*AsDouble(e)));
  return out;
}

Result<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, FindOr(key));
  if (v->type != VT::kArray || !IsInteger(v->element_type)) {
    return WrongType(key, *v, "array of integer");
  }
  const auto& arr = std::get<GgufArray>(v->value);
  std::vector<int64_t> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::optional<int64_t> x = AsInt(arr[i]);
    if (!x) {
      return InvalidArgument(path_ + ": key " + QuoteForMessage(key) + "[" + std::to_string(i) +
                             "] does not fit int64");
    }
    out.push_back(*x);
  }
  return out;
}

Result<const TensorInfo*> GgufFile::Tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  if (it == tensor_index_.end())
    return NotFound(path_ + ": no tensor named " + QuoteForMessage(name));
  return &tensors_[it->second];
}

}  // namespace gantry::engine
