#include "engine/gguf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/gguf_writer.h"

namespace gantry::engine {
namespace {

using testing::ByteWriter;
using testing::GgufWriter;
using VT = GgufValue::Type;

// The result points into `image`, so a temporary is refused at compile time.
std::shared_ptr<const GgufFile> MustParse(std::vector<uint8_t>&&) = delete;
std::shared_ptr<const GgufFile> MustParse(const std::vector<uint8_t>& image) {
  auto r = GgufFile::Parse(image, "test.gguf");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : nullptr;
}

// A valid image using every value type, nested arrays and a few tensor types.
GgufWriter RichWriter() {
  GgufWriter w;
  w.KvString("general.architecture", "llama")
      .KvU8("t.u8", 200)
      .KvI8("t.i8", -100)
      .KvU16("t.u16", 60000)
      .KvI16("t.i16", -30000)
      .KvU32("t.u32", 4000000000u)
      .KvI32("t.i32", -2000000000)
      .KvU64("t.u64", 1ull << 60)
      .KvI64("t.i64", -(1ll << 60))
      .KvF32("t.f32", 1.5f)
      .KvF64("t.f64", -2.25)
      .KvBool("t.bool", true)
      .KvStringArray("t.strings", {"a", "", "hello"})
      .KvF32Array("t.floats", {0.5f, -1.0f})
      .KvI32Array("t.ints", {1, -2, 3});
  // [[1, 2], [3]] as an array of arrays of u16.
  ByteWriter nested;
  nested.U32(static_cast<uint32_t>(VT::kArray)).U64(2);
  nested.U32(static_cast<uint32_t>(VT::kU16)).U64(2).U16(1).U16(2);
  nested.U32(static_cast<uint32_t>(VT::kU16)).U64(1).U16(3);
  w.KvRaw("t.nested", static_cast<uint32_t>(VT::kArray), nested);
  std::vector<uint8_t> data(8 * 2 * 4);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  w.AddTensorRaw("w.f32", {8, 2}, static_cast<uint32_t>(GgmlType::kF32), data);
  w.AddTensor("w.q8", {64, 3}, GgmlType::kQ8_0);
  w.AddTensor("w.q4k", {256}, GgmlType::kQ4_K);
  w.AddTensor("w.bf16", {3, 1, 1, 5}, GgmlType::kBF16);
  return w;
}

TEST(GgufTest, ReadsEveryScalarType) {
  const std::vector<uint8_t> image = RichWriter().Build();
  auto f = MustParse(image);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->path(), "test.gguf");
  EXPECT_EQ(*f->GetString("general.architecture"), "llama");
  EXPECT_EQ(*f->GetInt("t.u8"), 200);
  EXPECT_EQ(*f->GetInt("t.i8"), -100);
  EXPECT_EQ(*f->GetInt("t.u16"), 60000);
  EXPECT_EQ(*f->GetInt("t.i16"), -30000);
  EXPECT_EQ(*f->GetInt("t.u32"), 4000000000ll);
  EXPECT_EQ(*f->GetInt("t.i32"), -2000000000);
  EXPECT_EQ(*f->GetInt("t.u64"), 1ll << 60);
  EXPECT_EQ(*f->GetInt("t.i64"), -(1ll << 60));
  EXPECT_EQ(*f->GetFloat("t.f32"), 1.5);
  EXPECT_EQ(*f->GetFloat("t.f64"), -2.25);
  EXPECT_EQ(*f->GetFloat("t.i8"), -100.0);  // integers convert to float
  EXPECT_TRUE(*f->GetBool("t.bool"));
  EXPECT_EQ(f->Find("t.u8")->type, VT::kU8);
  EXPECT_EQ(f->Find("t.i64")->type, VT::kI64);
  EXPECT_EQ(f->Find("missing"), nullptr);
  EXPECT_EQ(f->metadata().size(), 16u);
}

TEST(GgufTest, ReadsArraysIncludingNested) {
  const std::vector<uint8_t> image = RichWriter().Build();
  auto f = MustParse(image);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*f->GetStringArray("t.strings"), (std::vector<std::string>{"a", "", "hello"}));
  EXPECT_EQ(*f->GetFloatArray("t.floats"), (std::vector<float>{0.5f, -1.0f}));
  EXPECT_EQ(*f->GetIntArray("t.ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(*f->GetFloatArray("t.ints"), (std::vector<float>{1, -2, 3}));
  const GgufValue* n = f->Find("t.nested");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->type, VT::kArray);
  EXPECT_EQ(n->element_type, VT::kArray);
  const auto& outer = std::get<GgufArray>(n->value);
  ASSERT_EQ(outer.size(), 2u);
  EXPECT_EQ(outer[0].element_type, VT::kU16);
  const auto& first = std::get<GgufArray>(outer[0].value);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(std::get<uint64_t>(first[1].value), 2u);
  EXPECT_EQ(std::get<GgufArray>(outer[1].value).size(), 1u);
}

TEST(GgufTest, TypedGettersReportMissingAndWrongType) {
  const std::vector<uint8_t> image = RichWriter().Build();
  auto f = MustParse(image);
  ASSERT_NE(f, nullptr);
  auto missing = f->GetInt("nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "test.gguf: no metadata key 'nope'");
  auto wrong = f->GetString("t.u32");
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong.status().message(), "test.gguf: key 't.u32' is u32, expected string");
  EXPECT_EQ(f->GetInt("t.f32").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetBool("t.u8").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetStringArray("t.ints").status().message(),
            "test.gguf: key 't.ints' is array of i32, expected array of string");
  EXPECT_EQ(f->GetIntArray("t.floats").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetFloatArray("t.strings").status().code(), StatusCode::kInvalidArgument);

  GgufWriter w;
  w.KvU64("big", std::numeric_limits<uint64_t>::max());
  const std::vector<uint8_t> g_image = w.Build();
  auto g = MustParse(g_image);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->GetInt("big").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*g->GetFloat("big"), 18446744073709551615.0);
}

TEST(GgufTest, ReadsTensorInfosAndData) {
  const std::vector<uint8_t> image = RichWriter().Build();
  auto f = MustParse(image);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->tensors().size(), 4u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->data_offset() % 32, 0u);

  const TensorInfo& a = f->tensors()[0];
  EXPECT_EQ(a.name, "w.f32");
  EXPECT_EQ(a.dims, (std::vector<uint64_t>{8, 2}));
  EXPECT_EQ(a.type, GgmlType::kF32);
  EXPECT_EQ(a.offset, 0u);
  EXPECT_EQ(a.n_elements, 16u);
  EXPECT_EQ(a.n_bytes, 64u);
  ASSERT_NE(a.data, nullptr);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(a.data[i], i);

  auto q8 = f->Tensor("w.q8");
  ASSERT_TRUE(q8.ok());
  EXPECT_EQ((*q8)->n_bytes, 3u * 2 * 34);
  EXPECT_EQ((*q8)->offset, 64u);
  EXPECT_EQ((*q8)->data, a.data + 64);
  auto q4k = f->Tensor("w.q4k");
  ASSERT_TRUE(q4k.ok());
  EXPECT_EQ((*q4k)->n_bytes, 144u);
  EXPECT_EQ((*q4k)->offset % 32, 0u);
  auto bf = f->Tensor("w.bf16");
  ASSERT_TRUE(bf.ok());
  EXPECT_EQ((*bf)->dims.size(), 4u);
  EXPECT_EQ((*bf)->n_elements, 15u);
  EXPECT_EQ((*bf)->n_bytes, 30u);

  auto none = f->Tensor("nope");
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(none.status().message(), "test.gguf: no tensor named 'nope'");
}

TEST(GgufTest, HonoursGeneralAlignment) {
  GgufWriter w;
  w.SetAlignment(256).KvString("general.name", "x");  // makes the header not a multiple
  w.AddTensor("a", {3}, GgmlType::kF32).AddTensor("b", {5}, GgmlType::kF16);
  const std::vector<uint8_t> image = w.Build();
  auto f = MustParse(image);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->alignment(), 256u);
  EXPECT_EQ(f->data_offset(), 256u);
  EXPECT_EQ(f->tensors()[1].offset, 256u);
  EXPECT_EQ(f->tensors()[1].data - f->tensors()[0].data, 256);
}

TEST(GgufTest, AcceptsVersion2AndEmptyFiles) {
  GgufWriter w;
  w.SetVersion(2).KvU32("k", 1);
  const std::vector<uint8_t> image = w.Build();
  auto f = MustParse(image);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 2u);
  EXPECT_TRUE(f->tensors().empty());
  const std::vector<uint8_t> empty_image = GgufWriter().Build();
  auto empty = MustParse(empty_image);
  ASSERT_NE(empty, nullptr);
  EXPECT_TRUE(empty->metadata().empty());
}

TEST(GgufTest, TypeNamesAndLayouts) {
  EXPECT_EQ(GgmlTypeName(GgmlType::kQ4_K), "Q4_K");
  EXPECT_EQ(GgmlTypeName(GgmlType::kBF16), "BF16");
  EXPECT_EQ(GgmlTypeName(static_cast<GgmlType>(23)), "type 23");
  EXPECT_EQ(GgufValueTypeName(VT::kString), "string");
  struct Row {
    GgmlType t;
    uint32_t block, size;
  };
  const Row rows[] = {
      {GgmlType::kF32, 1, 4},      {GgmlType::kF16, 1, 2},      {GgmlType::kBF16, 1, 2},
      {GgmlType::kQ4_0, 32, 18},   {GgmlType::kQ4_1, 32, 20},   {GgmlType::kQ5_0, 32, 22},
      {GgmlType::kQ5_1, 32, 24},   {GgmlType::kQ8_0, 32, 34},   {GgmlType::kQ8_1, 32, 36},
      {GgmlType::kQ2_K, 256, 84},  {GgmlType::kQ3_K, 256, 110}, {GgmlType::kQ4_K, 256, 144},
      {GgmlType::kQ5_K, 256, 176}, {GgmlType::kQ6_K, 256, 210}, {GgmlType::kQ8_K, 256, 292},
  };
  for (const Row& r : rows) {
    auto l = GgmlLayout(r.t);
    ASSERT_TRUE(l.has_value()) << GgmlTypeName(r.t);
    EXPECT_EQ(l->block_size, r.block) << GgmlTypeName(r.t);
    EXPECT_EQ(l->type_size, r.size) << GgmlTypeName(r.t);
  }
  EXPECT_FALSE(GgmlLayout(static_cast<GgmlType>(20)).has_value());
}

class GgufFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("gguf_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(GgufFileTest, OpensMappedFile) {
  const std::string path = Write("model.gguf", RichWriter().Build());
  auto r = GgufFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto f = *r;
  EXPECT_EQ(f->path(), path);
  auto t = f->Tensor("w.f32");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->data[63], 63);
}

TEST_F(GgufFileTest, MissingFileIsNotFound) {
  auto r = GgufFile::Open((dir_ / "absent.gguf").string());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("absent.gguf"), std::string::npos);
}

TEST_F(GgufFileTest, DirectoryAndEmptyFileAreInvalid) {
  EXPECT_EQ(GgufFile::Open(dir_.string()).status().code(), StatusCode::kInvalidArgument);
  auto r = GgufFile::Open(Write("empty.gguf", {}));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("empty.gguf: not a GGUF file"), std::string::npos);
}

TEST_F(GgufFileTest, TruncatedDataNamesTensorAndFile) {
  std::vector<uint8_t> image = RichWriter().Build();
  image.pop_back();
  const std::string path = Write("model.gguf", image);
  auto r = GgufFile::Open(path);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(path + ": tensor 'w.bf16': data [448, 478) past end of file"),
            std::string::npos)
      << r.status().message();
}

// ---- Hostile and truncated images ----------------------------------------------------

std::vector<uint8_t> Header(uint32_t version, uint64_t n_tensors, uint64_t n_kvs) {
  return ByteWriter().Raw("GGUF").U32(version).U64(n_tensors).U64(n_kvs).Take();
}

std::vector<uint8_t> WithKv(uint32_t type, const ByteWriter& value, std::string key = "k") {
  GgufWriter w;
  w.KvRaw(key, type, value);
  return w.Build();
}

std::vector<uint8_t> WithTensor(std::vector<uint64_t> dims, uint32_t type,
                                std::optional<uint64_t> offset = {}) {
  GgufWriter w;
  w.AddTensorRaw("x", std::move(dims), type, {}, offset);
  return w.Build();
}

std::vector<uint8_t> Nested(int depth) {
  ByteWriter b;
  for (int i = 0; i < depth - 1; ++i) b.U32(static_cast<uint32_t>(VT::kArray)).U64(1);
  b.U32(static_cast<uint32_t>(VT::kU8)).U64(1).U8(7);
  return WithKv(static_cast<uint32_t>(VT::kArray), b);
}

TEST(GgufTest, AcceptsArraysNestedFourDeep) {
  const std::vector<uint8_t> image = Nested(4);
  auto r = GgufFile::Parse(image);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufValue* v = (*r)->Find("k");
  for (int i = 0; i < 3; ++i) v = &std::get<GgufArray>(v->value)[0];
  EXPECT_EQ(std::get<uint64_t>(std::get<GgufArray>(v->value)[0].value), 7u);
}

constexpr uint32_t kF32 = 0;
constexpr uint32_t kQ4K = 12;

struct HostileCase {
  std::string name;
  std::function<std::vector<uint8_t>()> image;
  std::string want;  // substring of the message
};

const std::vector<HostileCase>& HostileCases() {
  static const std::vector<HostileCase> cases = {
      {"empty", [] { return std::vector<uint8_t>{}; }, "test.gguf: not a GGUF file (bad magic)"},
      {"bad magic", [] { return ByteWriter().Raw("GGUX").U32(3).U64(0).U64(0).Take(); },
       "bad magic"},
      {"version 1", [] { return Header(1, 0, 0); }, "GGUF version 1 is not supported"},
      {"version 4", [] { return Header(4, 0, 0); }, "unsupported GGUF version 4"},
      {"big-endian", [] { return Header(0x03000000, 0, 0); }, "big-endian"},
      {"truncated header", [] { return ByteWriter().Raw("GGUF").U32(3).U32(0).Take(); },
       "truncated at offset 8 reading tensor count (need 8 bytes, 4 left)"},
      {"tensor count", [] { return Header(3, 1ull << 40, 0); }, "tensor count 1099511627776"},
      {"kv count", [] { return Header(3, 0, 1ull << 62); }, "metadata count 4611686018427387904"},
      {"kv count vs bytes", [] { return Header(3, 0, 5); }, "metadata count 5 is implausible"},
      {"key length",
       [] {
         auto h = Header(3, 0, 1);
         ByteWriter b;
         b.Raw(h).U64(1ull << 40).U32(0).U64(0);
         return b.Take();
       },
       "metadata key #0 length 1099511627776 exceeds the limit"},
      {"key truncated",
       [] {
         ByteWriter b;
         b.Raw(Header(3, 0, 1)).U64(100).Raw("abcde");
         return b.Take();
       },
       "truncated at offset 32 reading metadata key #0"},
      {"string length", [] { return WithKv(8, ByteWriter().U64(1ull << 50)); },
       "key 'k' value length 1125899906842624 exceeds the limit"},
      {"string truncated", [] { return WithKv(8, ByteWriter().U64(1000).Raw("abc")); },
       "truncated at offset 45 reading key 'k' value (need 1000 bytes"},
      {"array length", [] { return WithKv(9, ByteWriter().U32(4).U64(1ull << 60)); },
       "key 'k': array length 1152921504606846976 exceeds the limit"},
      {"array vs bytes", [] { return WithKv(9, ByteWriter().U32(4).U64(1000).U32(1).U32(2)); },
       "key 'k': array of 1000 u32 elements needs at least 4000 bytes, 15 left in file"},
      {"string array vs bytes", [] { return WithKv(9, ByteWriter().U32(8).U64(100000)); },
       "array of 100000 string elements needs at least 800000 bytes"},
      {"value type", [] { return WithKv(13, ByteWriter().U32(0)); },
       "key 'k': unknown value type 13"},
      {"element type", [] { return WithKv(9, ByteWriter().U32(99).U64(0)); },
       "key 'k': unknown array element type 99"},
      {"nesting", [] { return Nested(5); }, "key 'k'[0][0][0][0]: arrays nested deeper than 4"},
      {"bool", [] { return WithKv(7, ByteWriter().U8(2)); }, "key 'k': bool value 2 is not 0 or 1"},
      {"control chars in key", [] { return WithKv(7, ByteWriter().U8(2), "a\nb"); }, "key 'a?b'"},
      {"duplicate key",
       [] {
         GgufWriter w;
         w.KvU32("a", 1).KvU8("a", 2);
         return w.Build();
       },
       "duplicate key 'a'"},
      {"alignment 0", [] { return GgufWriter().SetAlignment(0).Build(); },
       "general.alignment 0 is not a power of two"},
      {"alignment 48", [] { return GgufWriter().SetAlignment(48).Build(); },
       "general.alignment 48 is not a power of two"},
      {"alignment type",
       [] {
         GgufWriter w;
         w.KvU64("general.alignment", 32);
         return w.Build();
       },
       "general.alignment is u64, expected u32"},
      {"tensor name length",
       [] {
         GgufWriter w;
         w.AddTensor(std::string(65, 'n'), {4}, GgmlType::kF32);
         return w.Build();
       },
       "tensor #0 name length 65 exceeds the limit of 64 bytes"},
      {"duplicate tensor",
       [] {
         GgufWriter w;
         w.AddTensor("t", {4}, GgmlType::kF32).AddTensor("t", {4}, GgmlType::kF32);
         return w.Build();
       },
       "duplicate tensor 't'"},
      {"n_dims 0", [] { return WithTensor({}, kF32); }, "tensor 'x': n_dims 0 is not in [1, 4]"},
      {"n_dims 5",
       [] {
         return WithTensor({1, 1, 1, 1, 1}, kF32);
       },
       "n_dims 5 is not in [1, 4]"},
      {"zero dim",
       [] {
         return WithTensor({4, 0}, kF32);
       },
       "tensor 'x': dimension 1 is 0"},
      {"dims overflow",
       [] {
         return WithTensor({1ull << 32, 1ull << 32}, kF32);
       },
       "tensor 'x': element count overflows (dimension 1 = 4294967296)"},
      {"dims over int64", [] { return WithTensor({1ull << 63}, kF32); },
       "element count overflows (dimension 0"},
      {"bytes overflow",
       [] {
         return WithTensor({1ull << 61, 2}, kF32);
       },
       "tensor 'x': byte size overflows"},
      {"unknown type", [] { return WithTensor({4}, 23); },
       "unsupported tensor type 23 for tensor 'x'"},
      {"block multiple", [] { return WithTensor({640}, kQ4K); },
       "tensor 'x': ne0 640 is not a multiple of the Q4_K block size 256"},
      {"misaligned", [] { return WithTensor({4}, kF32, 8); },
       "tensor 'x': data offset 8 is not a multiple of the alignment 32"},
      {"past end", [] { return WithTensor({4}, kF32, 64); },
       "tensor 'x': data [64, 80) past end of file (size "},
      {"offset overflow", [] { return WithTensor({4}, kF32, ~uint64_t{31}); }, "past end of file"},
      {"offset+size overflow", [] { return WithTensor({8}, kF32, ~uint64_t{31}); },
       "tensor 'x': data at offset 18446744073709551584 (+32 bytes) past end of file"},
      {"overlap",
       [] {
         GgufWriter w;
         w.AddTensorRaw("a", {16}, kF32, std::vector<uint8_t>(64), 0);
         w.AddTensorRaw("b", {8}, kF32, std::vector<uint8_t>(32), 32);
         return w.Build();
       },
       "tensor 'b' at offset 32 overlaps tensor 'a' [0, 64)"},
      {"tensor count lies",
       [] {
         GgufWriter w;
         w.AddTensor("a", {8}, GgmlType::kF32).OverrideTensorCount(2);
         return w.Build();  // the second info is read from zero padding
       },
       "tensor '': n_dims 0 is not in [1, 4]"},
      {"kv count lies",
       [] {
         GgufWriter w;
         w.KvU32("a", 1).KvU32("b", 2).OverrideKvCount(3);
         return w.Build();
       },
       "truncated at offset 58 reading metadata key #2 (need 8 bytes, 6 left)"},
  };
  return cases;
}

TEST(GgufHostileTest, EachCaseIsInvalidArgumentNamingTheProblem) {
  for (const HostileCase& c : HostileCases()) {
    SCOPED_TRACE(c.name);
    const std::vector<uint8_t> image = c.image();
    auto r = GgufFile::Parse(image, "test.gguf");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want), std::string::npos)
        << "message: " << r.status().message();
    EXPECT_EQ(r.status().message().rfind("test.gguf: ", 0), 0u) << r.status().message();
  }
}

// Parses `image`; on success touches every byte of metadata and tensor data so the
// sanitizers see any pointer that escaped the image.
void ParseAndTouch(const std::vector<uint8_t>& image) {
  auto r = GgufFile::Parse(image, "m.gguf");
  if (!r.ok()) {
    ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    return;
  }
  uint64_t sum = 0;
  for (const auto& [key, v] : (*r)->metadata()) sum += key.size() + static_cast<int>(v.type);
  for (const TensorInfo& t : (*r)->tensors()) {
    ASSERT_GE(t.data, image.data());
    ASSERT_LE(t.data + t.n_bytes, image.data() + image.size());
    for (uint64_t i = 0; i < t.n_bytes; ++i) sum += t.data[i];
  }
  (void)(*r)->GetStringArray("t.strings");
  (void)(*r)->GetIntArray("t.ints");
  static volatile uint64_t sink = 0;
  sink = sink + sum;
}

TEST(GgufMutationTest, EveryTruncationFailsCleanly) {
  const std::vector<uint8_t> image = RichWriter().Build();
  for (size_t n = 0; n < image.size(); ++n) {
    std::vector<uint8_t> cut(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = GgufFile::Parse(cut, "m.gguf");
    // The last tensor's data runs to the end, so every strict prefix is invalid.
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  }
}

TEST(GgufMutationTest, RandomByteFlipsNeverCrash) {
  const std::vector<uint8_t> image = RichWriter().Build();
  std::mt19937_64 rng(20240601);  // fixed seed: failures reproduce
  int parsed = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::vector<uint8_t> m = image;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t at = rng() % m.size();
      // Mostly bit flips; sometimes a byte that makes lengths/counts large.
      m[at] = (rng() % 4 == 0) ? static_cast<uint8_t>(0xff) : m[at] ^ (1u << (rng() % 8));
    }
    ParseAndTouch(m);
    if (::testing::Test::HasFatalFailure()) {
      FAIL() << "iteration " << iter;
    }
    parsed += GgufFile::Parse(m).ok() ? 1 : 0;
  }
  // Some flips land in tensor data or values and must still parse.
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace gantry::engine
