#include "rag/text_normalize.h"

#include <string>

#include <gtest/gtest.h>

namespace gantry::rag {
namespace {

TEST(TextNormalizeDecodeTest, PassesUtf8AndDropsBom) {
  auto r = DecodeToUtf8("caf\xC3\xA9");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "caf\xC3\xA9");
  r = DecodeToUtf8("\xEF\xBB\xBFhi");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "hi");
  r = DecodeToUtf8("");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "");
}

TEST(TextNormalizeDecodeTest, ConvertsUtf16WithBom) {
  // "Aé😀" in UTF-16LE and UTF-16BE (the emoji as a surrogate pair).
  const std::string le(
      "\xFF\xFE"
      "A\0\xE9\0\x3D\xD8\x00\xDE",
      10);
  auto r = DecodeToUtf8(le);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "A\xC3\xA9\xF0\x9F\x98\x80");
  const std::string be("\xFE\xFF\0A\0\xE9\xD8\x3D\xDE\x00", 10);
  r = DecodeToUtf8(be);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "A\xC3\xA9\xF0\x9F\x98\x80");
}

TEST(TextNormalizeDecodeTest, RejectsBrokenUtf16) {
  EXPECT_FALSE(DecodeToUtf8(std::string("\xFF\xFE"
                                        "A\0B",
                                        5))
                   .ok());  // odd length
  EXPECT_FALSE(DecodeToUtf8(std::string("\xFF\xFE\x3D\xD8"
                                        "A\0",
                                        6))
                   .ok());  // lone surrogate
}

TEST(TextNormalizeDecodeTest, NamesOffsetOfInvalidUtf8) {
  auto r = DecodeToUtf8(
      "abc\xFF"
      "def");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "invalid UTF-8 at byte 3; convert the file to UTF-8");
  EXPECT_FALSE(DecodeToUtf8("\xC0\xAF").ok());          // overlong
  EXPECT_FALSE(DecodeToUtf8("\xED\xA0\x80").ok());      // surrogate
  EXPECT_FALSE(DecodeToUtf8("\xF4\x90\x80\x80").ok());  // past U+10FFFF
  EXPECT_FALSE(DecodeToUtf8("ok\xE2\x82").ok());        // truncated
  // Latin-1 text is not UTF-8.
  r = DecodeToUtf8("na\xEFve");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("byte 2"), std::string::npos);
}

TEST(NormalizeTextTest, ComposesToNfc) {
  // "e" + combining acute -> U+00E9.
  EXPECT_EQ(NormalizeText("cafe\xCC\x81"), "caf\xC3\xA9");
  EXPECT_EQ(NormalizeText("cafe\xCC\x81", false), "caf\xC3\xA9");
}

TEST(NormalizeTextTest, StripsControlAndInvisibleCharacters) {
  EXPECT_EQ(NormalizeText(std::string("a\0b\x07"
                                      "c\x1B",
                                      6)),
            "abc");
  // Zero-width space, ZWNJ, ZWJ, word joiner, BOM, soft hyphen.
  EXPECT_EQ(NormalizeText("a\xE2\x80\x8B"
                          "b\xE2\x80\x8C"
                          "c\xE2\x80\x8D"
                          "d\xE2\x81\xA0"
                          "e\xEF\xBB\xBF"
                          "f\xC2\xAD"
                          "g"),
            "abcdefg");
  EXPECT_EQ(NormalizeText("x\xC2\x85y", false), "x\ny");  // NEL is a line end
  EXPECT_EQ(NormalizeText("a\tb\nc", false), "a\tb\nc");
}

TEST(NormalizeTextTest, TurnsUnicodeSpacesIntoSpaces) {
  EXPECT_EQ(NormalizeText("a\xC2\xA0"
                          "b\xE2\x80\x83"
                          "c\xE2\x80\xAF"
                          "d\xE3\x80\x80"
                          "e",
                          false),
            "a b c d e");
  EXPECT_EQ(NormalizeText("a\xC2\xA0\xC2\xA0 b"), "a b");
}

TEST(NormalizeTextTest, CollapsesProse) {
  EXPECT_EQ(NormalizeText("  Hello \t  world  \n\n\n\n  next   line \n"),
            "Hello world\n\nnext line");
  EXPECT_EQ(NormalizeText("one\r\ntwo\rthree"), "one\ntwo\nthree");
  EXPECT_EQ(NormalizeText(" \n \t\n"), "");
}

TEST(NormalizeTextTest, KeepsCodeWhitespace) {
  const std::string code = "def f():\n    return  1\n\n\n\tx = 2\n";
  EXPECT_EQ(NormalizeText(code, false), code);
}

}  // namespace
}  // namespace gantry::rag
