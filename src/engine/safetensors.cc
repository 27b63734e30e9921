#include "engine/safetensors.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "engine/mapped_file.h"
#include "engine/quote.h"

namespace gantry::engine {
namespace {

using json = nlohmann::json;

// The reference implementation (huggingface/safetensors) caps the header at 100 MB.
constexpr uint64_t kMaxHeaderLen = 100'000'000;
constexpr int kMaxJsonDepth = 8;
constexpr size_t kMaxRank = 8;

std::optional<SafetensorsDtype> DtypeFromName(std::string_view s) {
  static constexpr std::pair<std::string_view, SafetensorsDtype> kNames[] = {
      {"F64", SafetensorsDtype::kF64}, {"F32", SafetensorsDtype::kF32},
      {"F16", SafetensorsDtype::kF16}, {"BF16", SafetensorsDtype::kBF16},
      {"I64", SafetensorsDtype::kI64}, {"I32", SafetensorsDtype::kI32},
      {"I16", SafetensorsDtype::kI16}, {"I8", SafetensorsDtype::kI8},
      {"U8", SafetensorsDtype::kU8},   {"BOOL", SafetensorsDtype::kBool},
  };
  for (const auto& [name, d] : kNames) {
    if (name == s) return d;
  }
  return std::nullopt;
}

}  // namespace

std::string_view SafetensorsDtypeName(SafetensorsDtype d) {
  switch (d) {
    case SafetensorsDtype::kF64:
      return "F64";
    case SafetensorsDtype::kF32:
      return "F32";
    case SafetensorsDtype::kF16:
      return "F16";
    case SafetensorsDtype::kBF16:
      return "BF16";
    case SafetensorsDtype::kI64:
      return "I64";
    case SafetensorsDtype::kI32:
      return "I32";
    case SafetensorsDtype::kI16:
      return "I16";
    case SafetensorsDtype::kI8:
      return "I8";
    case SafetensorsDtype::kU8:
      return "U8";
    case SafetensorsDtype::kBool:
      return "BOOL";
  }
  return "?";
}

size_t SafetensorsDtypeSize(SafetensorsDtype d) {
  switch (d) {
    case SafetensorsDtype::kF64:
    case SafetensorsDtype::kI64:
      return 8;
    case SafetensorsDtype::kF32:
    case SafetensorsDtype::kI32:
      return 4;
    case SafetensorsDtype::kF16:
    case SafetensorsDtype::kBF16:
    case SafetensorsDtype::kI16:
      return 2;
    case SafetensorsDtype::kI8:
    case SafetensorsDtype::kU8:
    case SafetensorsDtype::kBool:
      return 1;
  }
  return 1;
}

struct SafetensorsParser {
  std::span<const uint8_t> bytes;
  SafetensorsFile& out;

  Status Fail(std::string what) const { return InvalidArgument(out.path_ + ": " + what); }

  // nlohmann keeps the last of duplicate keys silently and does not bound nesting; the
  // parse callback sees every key with its depth, so both are caught here.
  Result<json> ParseHeader(std::string_view text) const {
    bool too_deep = false;
    std::optional<std::string> duplicate;
    std::set<std::string> top_keys;
    json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
      if (depth > kMaxJsonDepth) too_deep = true;
      if (event == json::parse_event_t::key && depth == 1 && parsed.is_string() && !duplicate) {
        if (!top_keys.insert(parsed.get<std::string>()).second) {
          duplicate = parsed.get<std::string>();
        }
      }
      return true;
    };
    json header;
    try {
      header = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
    } catch (const json::exception& e) {  // defensive: parse errors do not throw here
      return Fail(std::string("header is not valid JSON: ") + e.what());
    }
    if (too_deep) return Fail("header JSON is nested deeper than " + std::to_string(kMaxJsonDepth));
    if (header.is_discarded()) return Fail("header is not valid JSON");
    if (!header.is_object()) return Fail("header is not a JSON object");
    if (duplicate) return Fail("duplicate key " + QuoteForMessage(*duplicate) + " in header");
    return header;
  }

  Status ReadMetadata(const json& meta) {
    if (!meta.is_object()) return Fail("__metadata__ is not an object");
    for (const auto& [k, v] : meta.items()) {
      if (!v.is_string())
        return Fail("__metadata__ value " + QuoteForMessage(k) + " is not a string");
      out.metadata_.emplace(k, v.get<std::string>());
    }
    return OkStatus();
  }

  Status ReadTensor(const std::string& name, const json& j, uint64_t buffer_size) {
    const std::string ctx = "tensor " + QuoteForMessage(name);
    if (!j.is_object()) return Fail(ctx + ": entry is not an object");
    SafetensorsTensor t;
    t.name = name;

    auto dtype_it = j.find("dtype");
    if (dtype_it == j.end() || !dtype_it->is_string()) return Fail(ctx + ": missing dtype");
    const std::string& dtype = dtype_it->get_ref<const std::string&>();
    const std::optional<SafetensorsDtype> d = DtypeFromName(dtype);
    if (!d) return Fail(ctx + ": unsupported dtype " + QuoteForMessage(dtype));
    t.dtype = *d;

    auto shape_it = j.find("shape");
    if (shape_it == j.end() || !shape_it->is_array()) return Fail(ctx + ": missing shape");
    if (shape_it->size() > kMaxRank) {
      return Fail(ctx + ": shape has " + std::to_string(shape_it->size()) + " dims (limit " +
                  std::to_string(kMaxRank) + ")");
    }
    t.n_elements = 1;
    for (const json& dim : *shape_it) {
      if (!dim.is_number_unsigned())
        return Fail(ctx + ": shape entry is not a non-negative integer");
      const uint64_t n = dim.get<uint64_t>();
      if (__builtin_mul_overflow(t.n_elements, n, &t.n_elements)) {
        return Fail(ctx + ": element count overflows");
      }
      t.shape.push_back(n);
    }
    if (__builtin_mul_overflow(t.n_elements, uint64_t{SafetensorsDtypeSize(t.dtype)}, &t.n_bytes)) {
      return Fail(ctx + ": byte size overflows");
    }

    auto off_it = j.find("data_offsets");
    if (off_it == j.end() || !off_it->is_array() || off_it->size() != 2 ||
        !(*off_it)[0].is_number_unsigned() || !(*off_it)[1].is_number_unsigned()) {
      return Fail(ctx + ": data_offsets is not [begin, end]");
    }
    const uint64_t begin = (*off_it)[0].get<uint64_t>();
    const uint64_t end = (*off_it)[1].get<uint64_t>();
    const std::string range = "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
    if (begin > end) return Fail(ctx + ": data_offsets " + range + " has begin after end");
    if (end > buffer_size) {
      return Fail(ctx + ": data_offsets " + range + " past end of data buffer (size " +
                  std::to_string(buffer_size) + ")");
    }
    if (end - begin != t.n_bytes) {
      return Fail(ctx + ": data_offsets " + range + " hold " + std::to_string(end - begin) +
                  " bytes, but " + std::string(SafetensorsDtypeName(t.dtype)) + " shape needs " +
                  std::to_string(t.n_bytes));
    }
    t.offset = begin;
    out.tensors_.push_back(std::move(t));
    return OkStatus();
  }

  Status Run() {
    if (bytes.size() < 8) {
      return Fail("too small for a safetensors header (" + std::to_string(bytes.size()) +
                  " bytes)");
    }
    uint64_t header_len = 0;
    for (int i = 0; i < 8; ++i) header_len |= uint64_t{bytes[i]} << (8 * i);
    if (header_len > kMaxHeaderLen || header_len > bytes.size() - 8) {
      return Fail("header length " + std::to_string(header_len) + " exceeds " +
                  (header_len > kMaxHeaderLen ? "the limit of " + std::to_string(kMaxHeaderLen)
                                              : "the file size " + std::to_string(bytes.size())));
    }
    const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
    ASSIGN_OR_RETURN(json header, ParseHeader(text));
    const uint64_t data_start = 8 + header_len;
    const uint64_t buffer_size = bytes.size() - data_start;
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        RETURN_IF_ERROR(ReadMetadata(entry));
      } else {
        RETURN_IF_ERROR(ReadTensor(name, entry, buffer_size));
      }
    }
    std::sort(out.tensors_.begin(), out.tensors_.end(), [](const auto& a, const auto& b) {
      return a.offset != b.offset ? a.offset < b.offset : a.name < b.name;
    });
    uint64_t covered_end = 0;  // end of the non-empty tensors so far
    const SafetensorsTensor* last = nullptr;
    for (size_t i = 0; i < out.tensors_.size(); ++i) {
      SafetensorsTensor& t = out.tensors_[i];
      if (t.n_bytes > 0) {
        if (last != nullptr && t.offset < covered_end) {
          return Fail("tensor " + QuoteForMessage(t.name) + " overlaps tensor " +
                      QuoteForMessage(last->name));
        }
        covered_end = t.offset + t.n_bytes;
        last = &t;
      }
      t.data = bytes.data() + data_start + t.offset;
      out.tensor_index_.emplace(t.name, i);
    }
    return OkStatus();
  }

  static Result<std::shared_ptr<const SafetensorsFile>> Make(std::span<const uint8_t> bytes,
                                                             std::string name,
                                                             std::unique_ptr<MappedFile> mapping) {
    std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
    file->path_ = std::move(name);
    file->mapping_ = std::move(mapping);
    SafetensorsParser parser{bytes, *file};
    RETURN_IF_ERROR(parser.Run());
    return std::shared_ptr<const SafetensorsFile>(std::move(file));
  }
};

SafetensorsFile::~SafetensorsFile() = default;

Result<std::shared_ptr<const SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapping, MappedFile::Open(path));
  const std::span<const uint8_t> bytes = mapping->bytes();
  return SafetensorsParser::Make(bytes, path, std::move(mapping));
}

Result<std::shared_ptr<const SafetensorsFile>> SafetensorsFile::Parse(
    std::span<const uint8_t> bytes, std::string name) {
  return SafetensorsParser::Make(bytes, std::move(name), nullptr);
}

Result<const SafetensorsTensor*> SafetensorsFile::Tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  if (it == tensor_index_.end())
    return NotFound(path_ + ": no tensor named " + QuoteForMessage(name));
  return &tensors_[it->second];
}

}  // namespace gantry::engine
