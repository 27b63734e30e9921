#include "server/multipart.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gantry::server {
namespace {

using ::testing::HasSubstr;
using namespace std::string_literals;

TEST(MultipartBoundary, ExtractsPlainAndQuotedBoundaries) {
  auto plain = MultipartBoundary("multipart/form-data; boundary=----WebKitFormBoundaryX3");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(*plain, "----WebKitFormBoundaryX3");

  auto quoted = MultipartBoundary("multipart/form-data; charset=utf-8; boundary=\"a b:c=d\"");
  ASSERT_TRUE(quoted.ok()) << quoted.status().ToString();
  EXPECT_EQ(*quoted, "a b:c=d");

  auto cased = MultipartBoundary("Multipart/Form-Data ;  BOUNDARY=xyz  ");
  ASSERT_TRUE(cased.ok()) << cased.status().ToString();
  EXPECT_EQ(*cased, "xyz");
}

TEST(MultipartBoundary, RejectsOtherTypesAndMissingBoundaries) {
  for (const char* ct : {"application/json", "multipart/mixed; boundary=x", "text/plain",
                         "multipart/form-data-x; boundary=x", ""}) {
    auto b = MultipartBoundary(ct);
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument) << ct;
    EXPECT_THAT(b.status().message(), HasSubstr("multipart/form-data")) << ct;
  }
  for (const char* ct : {"multipart/form-data", "multipart/form-data; charset=utf-8",
                         "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\""}) {
    auto b = MultipartBoundary(ct);
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument) << ct;
    EXPECT_THAT(b.status().message(), HasSubstr("boundary")) << ct;
  }
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=" + std::string(201, 'b')).ok());
}

constexpr char kBoundary[] = "XyZ123";

std::string Body() {
  return "preamble is ignored\r\n"
         "--XyZ123\r\n"
         "Content-Disposition: form-data; name=\"metadata\"\r\n"
         "\r\n"
         "{\"lang\": \"en\"}\r\n"
         "--XyZ123\r\n"
         "content-disposition: form-data; name=\"file\"; filename=\"notes.md\"\r\n"
         "Content-Type: text/markdown\r\n"
         "\r\n"
         "# Title\r\n\r\nBody text.\r\n"
         "--XyZ123--\r\n"
         "epilogue is ignored";
}

TEST(ParseMultipart, ParsesFieldsAndFiles) {
  auto parts = ParseMultipart(Body(), kBoundary);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  const FormPart& meta = (*parts)[0];
  EXPECT_EQ(meta.name, "metadata");
  EXPECT_FALSE(meta.filename.has_value());
  EXPECT_EQ(meta.content_type, "");
  EXPECT_EQ(meta.body, "{\"lang\": \"en\"}");
  const FormPart& file = (*parts)[1];
  EXPECT_EQ(file.name, "file");
  ASSERT_TRUE(file.filename.has_value());
  EXPECT_EQ(*file.filename, "notes.md");
  EXPECT_EQ(file.content_type, "text/markdown");
  EXPECT_EQ(file.body, "# Title\r\n\r\nBody text.");
}

TEST(ParseMultipart, FilenameWithEscapedQuoteAndSemicolon) {
  const std::string body =
      "--b\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"my \\\"best\\\" notes.txt\"\r\n"
      "\r\n"
      "x\r\n"
      "--b\r\n"
      "Content-Disposition: form-data; name=\"f2\"; filename=\"a;b.txt\"\r\n"
      "\r\n"
      "y\r\n"
      "--b--";
  auto parts = ParseMultipart(body, "b");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "file");
  ASSERT_TRUE((*parts)[0].filename.has_value());
  EXPECT_EQ(*(*parts)[0].filename, "my \"best\" notes.txt");
  EXPECT_EQ((*parts)[0].body, "x");
  EXPECT_EQ((*parts)[1].name, "f2");
  ASSERT_TRUE((*parts)[1].filename.has_value());
  EXPECT_EQ(*(*parts)[1].filename, "a;b.txt");
}

TEST(ParseMultipart, EmptyPartsAndPartsWithoutHeaders) {
  const std::string body =
      "--b\r\n"
      "Content-Disposition: form-data; name=\"empty\"\r\n"
      "\r\n"
      "\r\n"
      "--b\r\n"
      "\r\n"
      "no headers\r\n"
      "--b\r\n"
      "Content-Disposition: form-data; name=\"empty_file\"; filename=\"\"\r\n"
      "\r\n"
      "\r\n"
      "--b--\r\n";
  auto parts = ParseMultipart(body, "b");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].name, "empty");
  EXPECT_EQ((*parts)[0].body, "");
  EXPECT_EQ((*parts)[1].name, "");
  EXPECT_EQ((*parts)[1].body, "no headers");
  EXPECT_EQ((*parts)[2].name, "empty_file");
  ASSERT_TRUE((*parts)[2].filename.has_value());
  EXPECT_EQ(*(*parts)[2].filename, "");
  EXPECT_EQ((*parts)[2].body, "");

  auto none = ParseMultipart("--b--\r\n", "b");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
}

TEST(ParseMultipart, BinaryContentIsKeptIntact) {
  std::string payload;
  for (int i = 0; i < 256; ++i) payload += static_cast<char>(i);
  // CRLFs, a blank line, a dash run and a near-boundary inside the content.
  payload += "\r\n\r\n--\r\n--X\r\n-b\r\n--\0b\r"s;
  const std::string body =
      "--b\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n"
      "Content-Type: application/octet-stream\r\n"
      "\r\n" +
      payload + "\r\n--b--\r\n";
  auto parts = ParseMultipart(body, "b");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].body.size(), payload.size());
  EXPECT_EQ((*parts)[0].body, payload);
}

TEST(ParseMultipart, ErrorsNameTheProblem) {
  auto no_boundary = ParseMultipart("just some text", "b");
  EXPECT_EQ(no_boundary.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(no_boundary.status().message(), HasSubstr("boundary"));

  const std::string full = Body();
  // Cut inside the second part's content: its closing boundary is missing.
  auto truncated = ParseMultipart(full.substr(0, full.find("Body text.")), kBoundary);
  EXPECT_EQ(truncated.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(truncated.status().message(), HasSubstr("part 2"));
  EXPECT_THAT(truncated.status().message(), HasSubstr("truncated"));

  // Cut inside the headers.
  auto headers = ParseMultipart(full.substr(0, full.find("Content-Type")), kBoundary);
  EXPECT_EQ(headers.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(headers.status().message(), HasSubstr("part 2"));
  EXPECT_THAT(headers.status().message(), HasSubstr("headers"));

  // Cut right after a delimiter.
  auto after_delim = ParseMultipart("--b", "b");
  EXPECT_EQ(after_delim.status().code(), StatusCode::kInvalidArgument);

  // Every prefix of a valid body fails cleanly (never crashes or succeeds with
  // a part cut short) until the closing delimiter is complete.
  const size_t closing = full.find("--XyZ123--") + std::string("--XyZ123--").size();
  for (size_t n = 0; n < closing; ++n) {
    auto r = ParseMultipart(std::string_view(full).substr(0, n), kBoundary);
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes";
  }
  EXPECT_TRUE(ParseMultipart(std::string_view(full).substr(0, closing), kBoundary).ok());
}

TEST(ParseMultipart, GarbageAfterADelimiterIsAnError) {
  auto r = ParseMultipart("--bXX\r\n\r\nbody\r\n--b--", "b");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("CRLF"));
}

}  // namespace
}  // namespace gantry::server
