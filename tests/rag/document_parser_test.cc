#include "rag/document_parser.h"

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "rag/chunker.h"

namespace gantry::rag {
namespace {

std::string FixturePath(const std::string& name) {
  const char* root = std::getenv("GANTRY_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/rag/fixtures/" + name;
}

std::string ReadFixture(const std::string& name) {
  std::ifstream in(FixturePath(name), std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << FixturePath(name)
                         << " (set GANTRY_SOURCE_DIR to the source root)";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* KindName(BlockKind k) {
  switch (k) {
    case BlockKind::kHeading:
      return "heading";
    case BlockKind::kParagraph:
      return "paragraph";
    case BlockKind::kCode:
      return "code";
    case BlockKind::kTable:
      return "table";
    case BlockKind::kList:
      return "list";
  }
  return "?";
}

std::string Dump(const ParsedDocument& doc) {
  std::ostringstream os;
  os << "title=[" << doc.title << "] pages=" << doc.page_count << "\n";
  for (const Block& b : doc.blocks) {
    os << KindName(b.kind) << "(" << b.level << ") [" << b.byte_start << "," << b.byte_end << ") p"
       << b.page << ": " << b.text << "\n";
  }
  return os.str();
}

ParsedDocument Parse(const std::string& fixture, const std::string& format) {
  auto doc = ParseDocument(ReadFixture(fixture), format);
  EXPECT_TRUE(doc.ok()) << fixture << ": " << doc.status().ToString();
  return doc.ok() ? *doc : ParsedDocument{};
}

std::vector<const Block*> OfKind(const ParsedDocument& doc, BlockKind kind) {
  std::vector<const Block*> out;
  for (const Block& b : doc.blocks) {
    if (b.kind == kind) out.push_back(&b);
  }
  return out;
}

std::string AllText(const ParsedDocument& doc) {
  std::string all;
  for (const Block& b : doc.blocks) all += b.text + "\n";
  return all;
}

// Spans never go backwards and stay inside the source.
void ExpectSaneSpans(const ParsedDocument& doc, int64_t source_size) {
  int64_t last_start = 0;
  for (const Block& b : doc.blocks) {
    EXPECT_LE(0, b.byte_start) << Dump(doc);
    EXPECT_LE(b.byte_start, b.byte_end) << Dump(doc);
    EXPECT_LE(b.byte_end, source_size) << Dump(doc);
    EXPECT_LE(last_start, b.byte_start) << Dump(doc);
    last_start = b.byte_start;
  }
}

TEST(DocumentParserFormatTest, FromPath) {
  EXPECT_EQ(FormatFromPath("a/b/readme.md"), "md");
  EXPECT_EQ(FormatFromPath("GUIDE.MARKDOWN"), "md");
  EXPECT_EQ(FormatFromPath("index.htm"), "html");
  EXPECT_EQ(FormatFromPath("https://x.org/docs/page.html?v=2#top"), "html");
  EXPECT_EQ(FormatFromPath("report.PDF"), "pdf");
  EXPECT_EQ(FormatFromPath("notes.txt"), "txt");
  EXPECT_EQ(FormatFromPath("data.json"), "json");
  EXPECT_EQ(FormatFromPath("data.ndjson"), "jsonl");
  EXPECT_EQ(FormatFromPath("data.jsonl"), "jsonl");
  EXPECT_EQ(FormatFromPath("archive.tar.gz"), "");
  EXPECT_EQ(FormatFromPath("Makefile"), "");
  EXPECT_EQ(FormatFromPath(".md"), "");
  EXPECT_EQ(FormatFromPath("dir.md/file"), "");
}

TEST(DocumentParserFormatTest, FromContentType) {
  EXPECT_EQ(FormatFromContentType("text/markdown; charset=utf-8"), "md");
  EXPECT_EQ(FormatFromContentType("TEXT/HTML"), "html");
  EXPECT_EQ(FormatFromContentType("application/pdf"), "pdf");
  EXPECT_EQ(FormatFromContentType("text/plain"), "txt");
  EXPECT_EQ(FormatFromContentType("application/json"), "json");
  EXPECT_EQ(FormatFromContentType("application/x-ndjson"), "jsonl");
  EXPECT_EQ(FormatFromContentType("image/png"), "");
}

TEST(DocumentParserTest, RejectsUnsupportedFormat) {
  auto r = ParseDocument("hello", "docx");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("unsupported format"), std::string::npos);
}

TEST(DocumentParserTest, TextParagraphsSplitOnBlankLines) {
  const std::string src = ReadFixture("notes.txt");
  ParsedDocument doc = Parse("notes.txt", "txt");
  ASSERT_EQ(doc.blocks.size(), 2u) << Dump(doc);
  EXPECT_EQ(doc.format, "txt");
  EXPECT_EQ(doc.blocks[0].text, "First paragraph line one.\nLine two of the first paragraph.");
  EXPECT_EQ(doc.blocks[1].text, "Second paragraph after blank lines.");
  EXPECT_EQ(src.substr(static_cast<size_t>(doc.blocks[1].byte_start),
                       static_cast<size_t>(doc.blocks[1].byte_end - doc.blocks[1].byte_start)),
            "Second paragraph after blank lines.");
  ExpectSaneSpans(doc, static_cast<int64_t>(src.size()));
}

TEST(DocumentParserTest, Utf16TextWithBomIsDecoded) {
  ParsedDocument doc = Parse("utf16le.txt", "txt");
  ASSERT_EQ(doc.blocks.size(), 2u) << Dump(doc);
  EXPECT_EQ(doc.blocks[0].text, "Plain text notes.\nSecond line of the first paragraph.");
  EXPECT_EQ(doc.blocks[1].text, "Caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x94 second paragraph.");
}

TEST(DocumentParserTest, BinaryFileIsRejected) {
  for (const char* format : {"txt", "md", "html", "json"}) {
    auto r = ParseDocument(ReadFixture("binary.bin"), format);
    ASSERT_FALSE(r.ok()) << format;
    EXPECT_EQ(r.status().message(), "binary file (contains NUL bytes); not a text document");
  }
}

TEST(DocumentParserTest, InvalidUtf8NamesTheByte) {
  auto r = ParseDocument(ReadFixture("latin1.txt"), "txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "invalid UTF-8 at byte 3; convert the file to UTF-8");
}

TEST(DocumentParserTest, OversizeInputIsRejectedNotTruncated) {
  ParseOptions options;
  options.max_bytes = 10;
  for (const char* format : {"txt", "pdf"}) {
    auto r = ParseDocument(std::string(11, 'a'), format, options);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "file is 11 bytes, over the limit of 10");
  }
  EXPECT_TRUE(ParseDocument(std::string(10, 'a'), "txt", options).ok());
}

TEST(DocumentParserTest, EmptyDocumentIsAnError) {
  auto r = ParseDocument(" \n\n \t", "txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseDocument("", "md").ok());
  EXPECT_FALSE(ParseDocument("<html><script>x()</script></html>", "html").ok());
}

TEST(DocumentParserMarkdownTest, StructureOfGuide) {
  const std::string src = ReadFixture("guide.md");
  ParsedDocument doc = Parse("guide.md", "md");
  SCOPED_TRACE(Dump(doc));
  EXPECT_EQ(doc.format, "md");
  EXPECT_EQ(doc.title, "Gantry Guide");

  const auto headings = OfKind(doc, BlockKind::kHeading);
  ASSERT_EQ(headings.size(), 6u);
  EXPECT_EQ(headings[0]->text, "Gantry Guide");
  EXPECT_EQ(headings[0]->level, 1);
  EXPECT_EQ(headings[1]->text, "Install");
  EXPECT_EQ(headings[1]->level, 2);
  EXPECT_EQ(headings[2]->text, "Linux");
  EXPECT_EQ(headings[2]->level, 3);
  EXPECT_EQ(headings[5]->text, "Setext Heading");
  EXPECT_EQ(headings[5]->level, 2);

  const auto code = OfKind(doc, BlockKind::kCode);
  ASSERT_EQ(code.size(), 1u);
  EXPECT_EQ(code[0]->text, "sudo apt-get install ./gantry.deb\ngantry --version");

  const auto tables = OfKind(doc, BlockKind::kTable);
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0]->text,
            "Setting | Default | Meaning\nport | 8080 | HTTP port\n"
            "data_dir | /var/lib/gantry | where the database lives");

  const auto lists = OfKind(doc, BlockKind::kList);
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(lists[0]->text,
            "1. Open the disk image.\n2. Drag Gantry into Applications.\n3. Start it from the "
            "menu bar.");
  EXPECT_EQ(lists[1]->text,
            "- the data directory\n- the model alias\n  - a nested note about aliases\n"
            "- the API keys");

  const std::string all = AllText(doc);
  // Paragraphs are joined across soft breaks; quotes and raw HTML become text.
  EXPECT_NE(all.find("It runs on one machine and scales out when"), std::string::npos);
  EXPECT_NE(all.find("Quoted advice: back up the data directory"), std::string::npos);
  EXPECT_NE(all.find("Raw HTML in Markdown is kept as text."), std::string::npos);
  EXPECT_NE(all.find("Final paragraph with a link and inline code."), std::string::npos);
  EXPECT_EQ(all.find("<div"), std::string::npos);
  EXPECT_EQ(all.find("```"), std::string::npos);

  ExpectSaneSpans(doc, static_cast<int64_t>(src.size()));
  // Spans point at the source: the heading's span holds its markup.
  EXPECT_EQ(src.substr(static_cast<size_t>(headings[1]->byte_start),
                       static_cast<size_t>(headings[1]->byte_end - headings[1]->byte_start)),
            "## Install");
  EXPECT_EQ(src.substr(static_cast<size_t>(code[0]->byte_start), 7), "```bash");
  EXPECT_EQ(src.substr(static_cast<size_t>(tables[0]->byte_start), 9), "| Setting");
}

TEST(DocumentParserMarkdownTest, Utf8BomShiftsSpans) {
  auto doc = ParseDocument("\xEF\xBB\xBF# Title\n\nBody.", "md");
  ASSERT_TRUE(doc.ok());
  ASSERT_EQ(doc->blocks.size(), 2u);
  EXPECT_EQ(doc->blocks[0].byte_start, 3);
  EXPECT_EQ(doc->blocks[0].byte_end, 10);
  EXPECT_EQ(doc->title, "Title");
}

TEST(DocumentParserMarkdownTest, NoH1MeansNoTitle) {
  auto doc = ParseDocument("## Only level two\n\ntext", "md");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->title, "");
}

TEST(DocumentParserHtmlTest, DropsBoilerplateAndKeepsStructure) {
  const std::string src = ReadFixture("page.html");
  ParsedDocument doc = Parse("page.html", "html");
  SCOPED_TRACE(Dump(doc));
  EXPECT_EQ(doc.format, "html");
  EXPECT_EQ(doc.title, "Gantry & Friends \xE2\x80\x94 Docs");

  const std::string all = AllText(doc);
  for (const char* dropped :
       {"SiteHeader", "NavDocs", "tracking", "font-family", "Hidden paragraph", "AriaHidden",
        "Email", "Subscribe", "Enable JavaScript", "Template text", "SvgText", "IframeText",
        "AsideText", "FooterText"}) {
    EXPECT_EQ(all.find(dropped), std::string::npos) << dropped;
  }

  const auto headings = OfKind(doc, BlockKind::kHeading);
  ASSERT_EQ(headings.size(), 2u);
  EXPECT_EQ(headings[0]->text, "Getting started");
  EXPECT_EQ(headings[0]->level, 1);
  EXPECT_EQ(headings[1]->text, "Install");
  EXPECT_EQ(headings[1]->level, 2);

  const auto paragraphs = OfKind(doc, BlockKind::kParagraph);
  ASSERT_GE(paragraphs.size(), 3u);
  EXPECT_EQ(paragraphs[0]->text,
            "Gantry is a gateway for language models.\nIt runs on one machine.");
  EXPECT_EQ(paragraphs[1]->text, "Download the release, then unpack it.");
  EXPECT_EQ(paragraphs[2]->text, "Loose text in a divwith spans");

  const auto code = OfKind(doc, BlockKind::kCode);
  ASSERT_EQ(code.size(), 1u);
  EXPECT_EQ(code[0]->text, "tar xf gantry.tar.gz\n  cd gantry\n./gantry serve");

  const auto lists = OfKind(doc, BlockKind::kList);
  ASSERT_EQ(lists.size(), 1u);
  EXPECT_EQ(lists[0]->text, "- First item\n- Second item\n  1. Nested one");

  const auto tables = OfKind(doc, BlockKind::kTable);
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0]->text, "Setting | Default\nport | 8080\ndata_dir | /var/lib/gantry");

  ExpectSaneSpans(doc, static_cast<int64_t>(src.size()));
  EXPECT_EQ(src.substr(static_cast<size_t>(headings[0]->byte_start), 7), "Getting");
}

TEST(DocumentParserHtmlTest, TitleFallsBackToFirstH1) {
  auto doc = ParseDocument("<body><h2>Two</h2><h1>The One</h1><p>x</p></body>", "html");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->title, "The One");
}

TEST(DocumentParserPdfTest, ExtractsPagesAndTitle) {
  ParsedDocument doc = Parse("sample.pdf", "pdf");
  SCOPED_TRACE(Dump(doc));
  EXPECT_EQ(doc.format, "pdf");
  EXPECT_EQ(doc.title, "Gantry PDF Guide");
  EXPECT_EQ(doc.page_count, 3);
  ASSERT_FALSE(doc.blocks.empty());
  EXPECT_EQ(doc.blocks.front().page, 1);
  EXPECT_EQ(doc.blocks.back().page, 3);
  int last_page = 0;
  for (const Block& b : doc.blocks) {
    EXPECT_GE(b.page, last_page);
    last_page = b.page;
  }
  const std::string all = AllText(doc);
  EXPECT_NE(all.find("Chapter one explains installation on Linux."), std::string::npos);
  EXPECT_NE(all.find("Copy the database file while the server is stopped."), std::string::npos);
  ExpectSaneSpans(doc, INT64_MAX);
}

TEST(DocumentParserPdfTest, DamagedFilesGiveClearErrors) {
  struct Case {
    const char* fixture;
    const char* message_part;
  };
  for (const Case& c : {Case{"truncated.pdf", "PDF"}, Case{"garbage.pdf", "PDF"},
                        Case{"encrypted.pdf", "encrypted"},
                        Case{"blank.pdf", "PDF has no extractable text (scanned images need OCR)"},
                        Case{"guide.md", "not a PDF"}}) {
    auto r = ParseDocument(ReadFixture(c.fixture), "pdf");
    ASSERT_FALSE(r.ok()) << c.fixture;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.fixture;
    EXPECT_NE(r.status().message().find(c.message_part), std::string::npos)
        << c.fixture << ": " << r.status().message();
  }
}

TEST(DocumentParserJsonTest, ObjectsBecomeSections) {
  const std::string src = ReadFixture("sample.json");
  ParsedDocument doc = Parse("sample.json", "json");
  SCOPED_TRACE(Dump(doc));
  EXPECT_EQ(doc.format, "json");
  EXPECT_EQ(doc.title, "Gantry FAQ");
  std::vector<std::string> texts;
  for (const Block& b : doc.blocks) texts.push_back(std::string(KindName(b.kind)) + ":" + b.text);
  const std::vector<std::string> want = {
      "paragraph:title: Gantry FAQ",
      "paragraph:version: 3\npublic: true",
      "heading:items[0]",
      "paragraph:question: What is Gantry?",
      "paragraph:answer: A gateway for language models.",
      "paragraph:votes: 12",
      "heading:items[1]",
      "paragraph:question: Does it need a GPU?",
      "paragraph:answer: No. It runs on a CPU.",
      "heading:items[1].tags",
      "paragraph:cpu",
      "paragraph:install",
  };
  EXPECT_EQ(texts, want);
  ExpectSaneSpans(doc, static_cast<int64_t>(src.size()));
  const Block& answer = doc.blocks[4];
  EXPECT_EQ(src.substr(static_cast<size_t>(answer.byte_start),
                       static_cast<size_t>(answer.byte_end - answer.byte_start)),
            "\"A gateway for language models.\"");
}

TEST(DocumentParserJsonTest, SyntaxErrorHasLineAndColumn) {
  auto r = ParseDocument(ReadFixture("broken.json"), "json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("invalid JSON at line 3, column"), std::string::npos)
      << r.status().message();
  r = ParseDocument(std::string(1000, '[') + std::string(1000, ']'), "json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper"), std::string::npos);
}

TEST(DocumentParserJsonTest, JsonLinesHeadEachRecord) {
  const std::string src = ReadFixture("sample.jsonl");
  ParsedDocument doc = Parse("sample.jsonl", "jsonl");
  SCOPED_TRACE(Dump(doc));
  std::vector<std::string> texts;
  for (const Block& b : doc.blocks) {
    texts.push_back(std::string(KindName(b.kind)) + std::to_string(b.level) + ":" + b.text);
  }
  const std::vector<std::string> want = {
      "heading1:line 1",
      "paragraph0:id: 1",
      "paragraph0:text: First record about installation.",
      "heading1:line 3",
      "paragraph0:id: 2",
      "paragraph0:text: Second record about backups.",
      "heading2:meta",
      "paragraph0:author: Ana",
  };
  EXPECT_EQ(texts, want);
  ExpectSaneSpans(doc, static_cast<int64_t>(src.size()));

  auto r = ParseDocument(ReadFixture("broken.jsonl"), "jsonl");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("invalid JSON at line 2, column"), std::string::npos)
      << r.status().message();
}

// Random truncations and byte mutations of every fixture: the parsers must
// return (a document or an error), never crash or hang. Runs under ASan in the
// sanitizer build.
TEST(DocumentParserFuzzTest, MutatedFixturesNeverCrash) {
  const std::vector<std::pair<std::string, std::string>> fixtures = {
      {"guide.md", "md"},      {"page.html", "html"},     {"sample.pdf", "pdf"},
      {"sample.json", "json"}, {"sample.jsonl", "jsonl"}, {"notes.txt", "txt"},
      {"utf16le.txt", "txt"},  {"encrypted.pdf", "pdf"},
  };
  std::mt19937 rng(20240601);
  int parsed = 0;
  ChunkingOptions chunking;
  chunking.max_tokens = 24;
  chunking.overlap_tokens = 6;
  const TokenCounter count = ApproximateTokenCounter();
  for (const auto& [name, format] : fixtures) {
    const std::string original = ReadFixture(name);
    ASSERT_FALSE(original.empty());
    for (int iter = 0; iter < 40; ++iter) {
      std::string data = original;
      switch (iter % 4) {
        case 0:  // truncate
          data.resize(rng() % data.size());
          break;
        case 1:  // flip a few bytes
          for (int k = 0; k < 4; ++k) data[rng() % data.size()] = static_cast<char>(rng());
          break;
        case 2: {  // cut out a slice
          const size_t a = rng() % data.size();
          const size_t n = rng() % (data.size() - a);
          data.erase(a, n);
          break;
        }
        default: {  // duplicate a slice
          const size_t a = rng() % data.size();
          const size_t n = rng() % (data.size() - a);
          data.insert(rng() % data.size(), data.substr(a, n));
          break;
        }
      }
      for (const std::string& fmt : {format, std::string("txt"), std::string("pdf")}) {
        auto r = ParseDocument(data, fmt);
        if (!r.ok()) continue;
        ++parsed;
        // Whatever parses must also chunk within limits.
        for (const TextChunk& c : ChunkDocument(*r, chunking, count)) {
          ASSERT_LE(c.token_count, chunking.max_tokens) << name;
        }
      }
    }
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace gantry::rag
