#include "engine/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace gantry::engine {
namespace {

// u64 header length, the header text, then `data`.
std::vector<uint8_t> Image(const std::string& header, const std::vector<uint8_t>& data = {}) {
  std::vector<uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> Iota(size_t n) {
  std::vector<uint8_t> d(n);
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(i);
  return d;
}

// Three tensors, deliberately listed out of offset order, plus metadata.
std::vector<uint8_t> ValidImage() {
  const std::string header = R"({
    "b": {"dtype": "F16", "shape": [2, 3], "data_offsets": [24, 36]},
    "__metadata__": {"format": "pt"},
    "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
    "c": {"dtype": "BF16", "shape": [4], "data_offsets": [36, 44]},
    "s": {"dtype": "I64", "shape": [], "data_offsets": [44, 52]},
    "e": {"dtype": "U8", "shape": [0, 5], "data_offsets": [52, 52]}
  })";
  return Image(header, Iota(52));
}

TEST(SafetensorsTest, ReadsTensorsAndMetadata) {
  const std::vector<uint8_t> image = ValidImage();
  auto r = SafetensorsFile::Parse(image, "m.safetensors");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& f = **r;
  EXPECT_EQ(f.path(), "m.safetensors");
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(f.tensors().size(), 5u);
  EXPECT_EQ(f.tensors()[0].name, "a");  // data-offset order
  EXPECT_EQ(f.tensors()[1].name, "b");

  auto a = f.Tensor("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->dtype, SafetensorsDtype::kF32);
  EXPECT_EQ((*a)->shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ((*a)->n_elements, 6u);
  EXPECT_EQ((*a)->n_bytes, 24u);
  EXPECT_EQ((*a)->data, image.data() + 8 + (image.size() - 8 - 52));
  auto b = f.Tensor("b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->dtype, SafetensorsDtype::kF16);
  EXPECT_EQ((*b)->offset, 24u);
  EXPECT_EQ((*b)->data[0], 24);
  EXPECT_EQ((*f.Tensor("c"))->dtype, SafetensorsDtype::kBF16);
  auto s = f.Tensor("s");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE((*s)->shape.empty());
  EXPECT_EQ((*s)->n_elements, 1u);
  EXPECT_EQ((*f.Tensor("e"))->n_bytes, 0u);

  auto none = f.Tensor("zz");
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(none.status().message(), "m.safetensors: no tensor named 'zz'");
}

TEST(SafetensorsTest, DtypeNamesAndSizes) {
  EXPECT_EQ(SafetensorsDtypeName(SafetensorsDtype::kBF16), "BF16");
  EXPECT_EQ(SafetensorsDtypeSize(SafetensorsDtype::kF64), 8u);
  EXPECT_EQ(SafetensorsDtypeSize(SafetensorsDtype::kF16), 2u);
  EXPECT_EQ(SafetensorsDtypeSize(SafetensorsDtype::kBool), 1u);
}

TEST(SafetensorsTest, OpensFileAndReportsMissing) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("st_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "model.safetensors").string();
  const std::vector<uint8_t> image = ValidImage();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(image.data()),
             static_cast<std::streamsize>(image.size()));
  auto r = SafetensorsFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*(*r)->Tensor("c"))->data[0], 36);
  auto missing = SafetensorsFile::Open((dir / "absent.safetensors").string());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

struct HostileCase {
  std::string name;
  std::vector<uint8_t> image;
  std::string want;
};

std::vector<uint8_t> OneTensor(const std::string& entry, size_t data_size = 16) {
  return Image(R"({"t": )" + entry + "}", Iota(data_size));
}

TEST(SafetensorsHostileTest, EachCaseIsInvalidArgumentNamingTheProblem) {
  std::vector<uint8_t> huge_len = Image("{}");
  huge_len[7] = 0x7f;
  const HostileCase cases[] = {
      {"empty", {}, "too small for a safetensors header (0 bytes)"},
      {"empty object", Image("{}", {}), ""},  // valid: no tensors
      {"header length", huge_len, "header length 9151314442816847874 exceeds the limit"},
      {"header vs file",
       [] {
         auto i = Image("{}");
         i[0] = 200;
         return i;
       }(),
       "header length 200 exceeds the file size 10"},
      {"not json", Image("{nope"), "header is not valid JSON"},
      {"not object", Image("[1, 2]"), "header is not a JSON object"},
      {"too deep", Image(R"({"__metadata__": {"a": [[[[[[[[[1]]]]]]]]]}})"),
       "nested deeper than 8"},
      {"duplicate", Image(R"({"t": 1, "t": 2})"), "duplicate key 't' in header"},
      {"entry type", OneTensor("5"), "tensor 't': entry is not an object"},
      {"no dtype", OneTensor(R"({"shape": [1], "data_offsets": [0, 4]})"),
       "tensor 't': missing dtype"},
      {"dtype", OneTensor(R"({"dtype": "F8_E5M2", "shape": [1], "data_offsets": [0, 1]})"),
       "tensor 't': unsupported dtype 'F8_E5M2'"},
      {"no shape", OneTensor(R"({"dtype": "F32", "data_offsets": [0, 4]})"), "missing shape"},
      {"negative dim", OneTensor(R"({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]})"),
       "shape entry is not a non-negative integer"},
      {"float dim", OneTensor(R"({"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]})"),
       "shape entry is not a non-negative integer"},
      {"rank",
       OneTensor(R"({"dtype": "F32", "shape": [1,1,1,1,1,1,1,1,1], "data_offsets": [0, 4]})"),
       "shape has 9 dims (limit 8)"},
      {"elements overflow",
       OneTensor(R"({"dtype": "U8", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]})"),
       "element count overflows"},
      {"bytes overflow",
       OneTensor(R"({"dtype": "F64", "shape": [4294967296, 536870912], "data_offsets": [0, 4]})"),
       "byte size overflows"},
      {"offsets shape", OneTensor(R"({"dtype": "F32", "shape": [1], "data_offsets": [0]})"),
       "data_offsets is not [begin, end]"},
      {"offsets negative", OneTensor(R"({"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]})"),
       "data_offsets is not [begin, end]"},
      {"begin after end", OneTensor(R"({"dtype": "F32", "shape": [1], "data_offsets": [8, 4]})"),
       "tensor 't': data_offsets [8, 4) has begin after end"},
      {"past end", OneTensor(R"({"dtype": "F32", "shape": [4], "data_offsets": [4, 20]})"),
       "tensor 't': data_offsets [4, 20) past end of data buffer (size 16)"},
      {"huge end",
       OneTensor(R"({"dtype": "F32", "shape": [4], "data_offsets": [0, 18446744073709551615]})"),
       "past end of data buffer"},
      {"size mismatch", OneTensor(R"({"dtype": "F32", "shape": [3], "data_offsets": [0, 16]})"),
       "tensor 't': data_offsets [0, 16) hold 16 bytes, but F32 shape needs 12"},
      {"overlap",
       Image(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
             Iota(16)),
       "tensor 'b' overlaps tensor 'a'"},
      {"metadata type", Image(R"({"__metadata__": [1]})"), "__metadata__ is not an object"},
      {"metadata value", Image(R"({"__metadata__": {"k": 1}})"),
       "__metadata__ value 'k' is not a string"},
  };
  for (const HostileCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = SafetensorsFile::Parse(c.image, "m.safetensors");
    if (c.want.empty()) {
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      continue;
    }
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want), std::string::npos)
        << "message: " << r.status().message();
    EXPECT_EQ(r.status().message().rfind("m.safetensors: ", 0), 0u);
  }
}

void ParseAndTouch(const std::vector<uint8_t>& image) {
  auto r = SafetensorsFile::Parse(image);
  if (!r.ok()) {
    ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    return;
  }
  uint64_t sum = 0;
  for (const SafetensorsTensor& t : (*r)->tensors()) {
    ASSERT_GE(t.data, image.data());
    ASSERT_LE(t.data + t.n_bytes, image.data() + image.size());
    for (uint64_t i = 0; i < t.n_bytes; ++i) sum += t.data[i];
  }
  static volatile uint64_t sink = 0;
  sink = sink + sum;
}

TEST(SafetensorsMutationTest, TruncationsAndByteFlipsNeverCrash) {
  const std::vector<uint8_t> image = ValidImage();
  for (size_t n = 0; n < image.size(); ++n) {
    std::vector<uint8_t> cut(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = SafetensorsFile::Parse(cut);
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  std::mt19937_64 rng(7);  // fixed seed: failures reproduce
  // Replacements biased toward JSON syntax and digits, so mutations reach deep checks.
  static constexpr char kInteresting[] = "{}[]\",:-0123456789e. \\\x00\xff";
  const std::string interesting(kInteresting, sizeof(kInteresting) - 1);
  for (int iter = 0; iter < 4000; ++iter) {
    std::vector<uint8_t> m = image;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng() % m.size();
      m[at] = (rng() % 2) ? static_cast<uint8_t>(interesting[rng() % interesting.size()])
                          : static_cast<uint8_t>(m[at] ^ (1u << (rng() % 8)));
    }
    ParseAndTouch(m);
    if (::testing::Test::HasFatalFailure()) FAIL() << "iteration " << iter;
  }
}

}  // namespace
}  // namespace gantry::engine
