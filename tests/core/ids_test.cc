#include "core/ids.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace gantry {
namespace {

TEST(IdsTest, NewIdHasPrefixAnd24HexDigits) {
  const std::string id = NewId("req_");
  ASSERT_EQ(id.size(), 4u + 24u);
  EXPECT_EQ(id.substr(0, 4), "req_");
  EXPECT_THAT(id.substr(4), ::testing::MatchesRegex("[0-9a-f]{24}"));
  EXPECT_EQ(NewId("").size(), 24u);
}

TEST(IdsTest, NewIdIsUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 2000; ++i) ids.insert(NewId("x"));
  EXPECT_EQ(ids.size(), 2000u);
}

TEST(IdsTest, Sha256KnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex(std::string_view("a\0b", 3)).size(), 64u);
  EXPECT_NE(Sha256Hex(std::string_view("a\0b", 3)), Sha256Hex("a"));
}

TEST(IdsTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("Secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("secret2", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(IdsTest, Base64KnownVectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*Base64Decode("Zm9vYg=="), "foob");
  EXPECT_EQ(*Base64Decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(*Base64Decode(""), "");
}

TEST(IdsTest, Base64RoundTripsAllBytes) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 37) {
    const std::string in = all.substr(0, n);
    auto out = Base64Decode(Base64Encode(in));
    ASSERT_TRUE(out.ok()) << n;
    EXPECT_EQ(*out, in) << n;
  }
  for (size_t n = 0; n < 6; ++n) {
    const std::string in(n, '\xff');
    EXPECT_EQ(*Base64Decode(Base64Encode(in)), in) << n;
  }
}

TEST(IdsTest, Base64RejectsInvalidInput) {
  EXPECT_EQ(Base64Decode("abc").status().code(), StatusCode::kInvalidArgument);  // length
  EXPECT_EQ(Base64Decode("Zg=").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Base64Decode("@@@@").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Base64Decode("Zm9v!mFy").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gantry
