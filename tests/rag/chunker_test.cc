#include "rag/chunker.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "rag/document_parser.h"

namespace gantry::rag {
namespace {

// One token per whitespace-separated word: easy to reason about in tests.
int CountWords(std::string_view s) {
  int n = 0;
  bool in_word = false;
  for (char c : s) {
    const bool space = c == ' ' || c == '\n' || c == '\t';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

Block Heading(int level, std::string text, int64_t start) {
  Block b;
  b.kind = BlockKind::kHeading;
  b.level = level;
  b.byte_start = start;
  b.byte_end = start + static_cast<int64_t>(text.size());
  b.text = std::move(text);
  return b;
}

Block Content(BlockKind kind, std::string text, int64_t start, int page = 0) {
  Block b;
  b.kind = kind;
  b.byte_start = start;
  b.byte_end = start + static_cast<int64_t>(text.size());
  b.text = std::move(text);
  b.page = page;
  return b;
}

// Sentences "S<i> w w w ... end." of `words` words each.
std::string Sentences(int count, int words, const std::string& tag = "S") {
  std::string out;
  for (int i = 0; i < count; ++i) {
    if (!out.empty()) out += " ";
    out += tag + std::to_string(i);
    for (int w = 2; w < words; ++w) out += " w";
    out += " end.";
  }
  return out;
}

ChunkingOptions Options(int max_tokens, int overlap, bool prefix = true) {
  ChunkingOptions o;
  o.max_tokens = max_tokens;
  o.overlap_tokens = overlap;
  o.prefix_headings = prefix;
  EXPECT_TRUE(o.Validate().ok());
  return o;
}

void ExpectInvariants(const std::vector<TextChunk>& chunks, const ChunkingOptions& o,
                      const TokenCounter& count, int64_t source_size) {
  int64_t last_start = 0, last_end = 0;
  for (const TextChunk& c : chunks) {
    EXPECT_EQ(c.token_count, count(c.text)) << c.text;
    EXPECT_LE(c.token_count, o.max_tokens) << c.text;
    EXPECT_FALSE(c.text.empty());
    EXPECT_LE(0, c.byte_start);
    EXPECT_LE(c.byte_start, c.byte_end);
    EXPECT_LE(c.byte_end, source_size);
    EXPECT_LE(last_start, c.byte_start) << c.text;
    EXPECT_LE(last_end, c.byte_end) << c.text;
    last_start = c.byte_start;
    last_end = c.byte_end;
  }
}

TEST(ChunkingOptionsTest, Validate) {
  ChunkingOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.max_tokens = 15;
  EXPECT_FALSE(o.Validate().ok());
  o.max_tokens = 100;
  o.overlap_tokens = 50;
  EXPECT_FALSE(o.Validate().ok());
  o.overlap_tokens = 49;
  EXPECT_TRUE(o.Validate().ok());
  o.overlap_tokens = -1;
  EXPECT_FALSE(o.Validate().ok());
}

TEST(ChunkerTokenCounterTest, CloseToWordPieceOnEnglish) {
  // Reference counts: bert-base-uncased / all-MiniLM-L6-v2 WordPiece, without
  // [CLS]/[SEP].
  const struct {
    const char* text;
    int wordpieces;
  } kCases[] = {
      {"The quick brown fox jumps over the lazy dog. It was the best of times, it was the "
       "worst of times.",
       24},
      {"An application team that wants one endpoint for many models, with the official openai "
       "SDKs pointed at it, and gets caching, fallbacks, budgets and tracing for free.",
       37},
      {"Gantry is a production generative-AI platform in one C++20 binary: an "
       "OpenAI-compatible gateway with its own local inference engine, retrieval-augmented "
       "generation (RAG), guardrails, evaluation and observability, multi-tenant from the "
       "first line.",
       58},
      {"Install the package with the system package manager, then run gantry --version to "
       "check the installation succeeded.",
       22},
      {"System of record: documents, chunks, embeddings, tenants, keys (hashed), usage "
       "ledger, traces, eval runs, audit log. SQLite (WAL, one writer) by default; "
       "PostgreSQL when configured.",
       52},
  };
  const TokenCounter count = ApproximateTokenCounter();
  for (const auto& c : kCases) {
    const int n = count(c.text);
    EXPECT_GE(n, c.wordpieces * 3 / 4) << c.text;
    EXPECT_LE(n, c.wordpieces * 5 / 4) << c.text;
  }
  EXPECT_EQ(count(""), 0);
  EXPECT_EQ(count("   \n"), 0);
  EXPECT_EQ(count("hello"), 1);
  EXPECT_EQ(count("a, b."), 4);
  // CJK ideographs are one piece each.
  EXPECT_EQ(count("\xE6\x88\x91\xE7\x88\xB1\xE4\xBD\xA0"), 3);
}

TEST(ChunkerTest, HeadingsStartChunksAndGivePaths) {
  ParsedDocument doc;
  doc.blocks = {Heading(1, "Guide", 0),
                Content(BlockKind::kParagraph, "Intro text here.", 10),
                Heading(2, "Install", 30),
                Heading(3, "Linux", 40),
                Content(BlockKind::kParagraph, "Use apt.", 50),
                Heading(3, "macOS", 60),
                Content(BlockKind::kParagraph, "Use the installer.", 70),
                Heading(2, "Configure", 90),
                Content(BlockKind::kParagraph, "Edit the file.", 100)};
  const ChunkingOptions o = Options(50, 8);
  const TokenCounter count = CountWords;
  const auto chunks = ChunkDocument(doc, o, count);
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[0].heading_path, (std::vector<std::string>{"Guide"}));
  EXPECT_EQ(chunks[0].text, "Guide\n\nIntro text here.");
  EXPECT_EQ(chunks[1].heading_path, (std::vector<std::string>{"Guide", "Install", "Linux"}));
  EXPECT_EQ(chunks[1].text, "Guide > Install > Linux\n\nUse apt.");
  EXPECT_EQ(chunks[2].heading_path, (std::vector<std::string>{"Guide", "Install", "macOS"}));
  EXPECT_EQ(chunks[3].heading_path, (std::vector<std::string>{"Guide", "Configure"}));
  EXPECT_EQ(chunks[3].text, "Guide > Configure\n\nEdit the file.");
  EXPECT_EQ(chunks[1].byte_start, 50);
  EXPECT_EQ(chunks[1].byte_end, 58);
  ExpectInvariants(chunks, o, count, 200);
}

TEST(ChunkerTest, WithoutPrefixHeadingsAreInTheText) {
  ParsedDocument doc;
  doc.blocks = {Heading(1, "Guide", 0), Heading(2, "Install", 10),
                Content(BlockKind::kParagraph, "Use apt.", 20)};
  const auto chunks = ChunkDocument(doc, Options(50, 0, false), CountWords);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "Guide\n\nInstall\n\nUse apt.");
  EXPECT_EQ(chunks[0].heading_path, (std::vector<std::string>{"Guide", "Install"}));
  EXPECT_EQ(chunks[0].byte_start, 0);
}

TEST(ChunkerTest, SmallBlocksArePackedTogether) {
  ParsedDocument doc;
  doc.blocks = {Content(BlockKind::kParagraph, "One two.", 0),
                Content(BlockKind::kParagraph, "Three four.", 10),
                Content(BlockKind::kParagraph, "Five six.", 25)};
  const auto chunks = ChunkDocument(doc, Options(50, 8), CountWords);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "One two.\n\nThree four.\n\nFive six.");
  EXPECT_TRUE(chunks[0].heading_path.empty());
  EXPECT_EQ(chunks[0].byte_start, 0);
  EXPECT_EQ(chunks[0].byte_end, 34);
}

TEST(ChunkerTest, TablesAndCodeThatFitStayWhole) {
  std::string table;
  for (int i = 0; i < 8; ++i) table += "k" + std::to_string(i) + " | v" + std::to_string(i) + "\n";
  table.pop_back();
  std::string code;
  for (int i = 0; i < 6; ++i) code += "  call(" + std::to_string(i) + ");\n";
  code.pop_back();
  ParsedDocument doc;
  doc.blocks = {Heading(1, "T", 0), Content(BlockKind::kParagraph, Sentences(3, 6), 2),
                Content(BlockKind::kTable, table, 100), Content(BlockKind::kCode, code, 300),
                Content(BlockKind::kParagraph, Sentences(2, 6, "Z"), 500)};
  const ChunkingOptions o = Options(30, 4);
  const auto chunks = ChunkDocument(doc, o, CountWords);
  int table_chunks = 0, code_chunks = 0;
  for (const TextChunk& c : chunks) {
    if (c.text.find("k0 |") != std::string::npos) {
      ++table_chunks;
      EXPECT_NE(c.text.find(table), std::string::npos) << c.text;
    }
    if (c.text.find("call(0)") != std::string::npos) {
      ++code_chunks;
      EXPECT_NE(c.text.find(code), std::string::npos) << c.text;
    }
  }
  EXPECT_EQ(table_chunks, 1);
  EXPECT_EQ(code_chunks, 1);
  ExpectInvariants(chunks, o, CountWords, 1000);
}

TEST(ChunkerTest, OversizeBlocksSplitOnSentencesAndLines) {
  const std::string para = Sentences(12, 8);  // 96 words
  std::string code;
  for (int i = 0; i < 40; ++i) code += "line" + std::to_string(i) + " a b\n";
  code.pop_back();
  ParsedDocument doc;
  doc.blocks = {Content(BlockKind::kParagraph, para, 0),
                Content(BlockKind::kCode, code, static_cast<int64_t>(para.size()) + 2)};
  const ChunkingOptions o = Options(30, 0);
  const auto chunks = ChunkDocument(doc, o, CountWords);
  ASSERT_GE(chunks.size(), 4u);
  for (const TextChunk& c : chunks) {
    if (c.text.find("line") == std::string::npos) {
      // Prose chunks hold whole sentences only.
      EXPECT_EQ(c.text.substr(0, 1), "S") << c.text;
      EXPECT_EQ(c.text.substr(c.text.size() - 4), "end.") << c.text;
    } else if (c.text.find("end.") == std::string::npos) {
      EXPECT_EQ(c.text.substr(0, 4), "line") << c.text;
      EXPECT_EQ(c.text.back(), 'b') << c.text;
    }
  }
  ExpectInvariants(chunks, o, CountWords, static_cast<int64_t>(para.size() + code.size() + 2));
}

TEST(ChunkerTest, HugeWordIsSplit) {
  ParsedDocument doc;
  doc.blocks = {Content(BlockKind::kParagraph, "start " + std::string(5000, 'x') + " end", 0)};
  const TokenCounter count = ApproximateTokenCounter();
  const ChunkingOptions o = Options(32, 4);
  const auto chunks = ChunkDocument(doc, o, count);
  ASSERT_GT(chunks.size(), 1u);
  ExpectInvariants(chunks, o, count, 5010);
}

TEST(ChunkerTest, OverlapWithinSectionNotAcrossSections) {
  ParsedDocument doc;
  doc.blocks = {Heading(1, "A", 0), Content(BlockKind::kParagraph, Sentences(10, 5, "A"), 2),
                Heading(1, "B", 300), Content(BlockKind::kParagraph, Sentences(10, 5, "B"), 302)};
  const ChunkingOptions o = Options(22, 6);
  const auto chunks = ChunkDocument(doc, o, CountWords);
  ASSERT_GE(chunks.size(), 4u);
  bool crossed = false;
  for (size_t i = 1; i < chunks.size(); ++i) {
    const TextChunk& prev = chunks[i - 1];
    const TextChunk& cur = chunks[i];
    // The first sentence of this chunk's body.
    const std::string body = cur.text.substr(cur.text.find("\n\n") + 2);
    const std::string first = body.substr(0, body.find('.') + 1);
    if (prev.heading_path == cur.heading_path) {
      EXPECT_NE(prev.text.find(first), std::string::npos) << "no overlap between\n"
                                                          << prev.text << "\n---\n"
                                                          << cur.text;
      EXPECT_LT(CountWords(first), 6 + 1);
    } else {
      crossed = true;
      EXPECT_EQ(prev.text.find(first), std::string::npos) << cur.text;
      EXPECT_EQ(first.substr(0, 2), "B0");
    }
  }
  EXPECT_TRUE(crossed);
  ExpectInvariants(chunks, o, CountWords, 600);
}

TEST(ChunkerTest, PagesAreTracked) {
  ParsedDocument doc;
  doc.blocks = {Content(BlockKind::kParagraph, Sentences(3, 5), 0, 1),
                Content(BlockKind::kParagraph, Sentences(3, 5), 100, 2),
                Content(BlockKind::kParagraph, Sentences(3, 5), 200, 3)};
  const auto chunks = ChunkDocument(doc, Options(40, 0), CountWords);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].page_start, 1);
  EXPECT_EQ(chunks[0].page_end, 2);
  EXPECT_EQ(chunks[1].page_start, 3);
  EXPECT_EQ(chunks[1].page_end, 3);
}

TEST(ChunkerTest, HeadingOnlyDocumentKeepsItsHeadings) {
  ParsedDocument doc;
  doc.blocks = {Heading(1, "Lonely title", 0)};
  const auto chunks = ChunkDocument(doc, Options(50, 0), CountWords);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "Lonely title");
}

TEST(ChunkerTest, ParsedGuideIsDeterministicAndWithinLimits) {
  const char* root = std::getenv("GANTRY_SOURCE_DIR");
  std::ifstream in(std::string(root ? root : ".") + "/tests/rag/fixtures/guide.md",
                   std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string src = ss.str();
  auto doc = ParseDocument(src, "md");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  const TokenCounter count = ApproximateTokenCounter();
  for (int max_tokens : {16, 24, 40, 200}) {
    const ChunkingOptions o = Options(max_tokens, max_tokens / 4);
    const auto a = ChunkDocument(*doc, o, count);
    const auto b = ChunkDocument(*doc, o, count);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].text, b[i].text);
      EXPECT_EQ(a[i].byte_start, b[i].byte_start);
    }
    ExpectInvariants(a, o, count, static_cast<int64_t>(src.size()));
    // Every chunk under "Configure" carries that path.
    for (const TextChunk& c : a) {
      if (c.text.find("data_dir") != std::string::npos) {
        ASSERT_GE(c.heading_path.size(), 2u);
        EXPECT_EQ(c.heading_path[1], "Configure");
      }
    }
    if (max_tokens == 200) {
      bool table_whole = false;
      for (const TextChunk& c : a) {
        if (c.text.find("Setting | Default | Meaning\nport | 8080 | HTTP port\ndata_dir") !=
            std::string::npos) {
          table_whole = true;
        }
      }
      EXPECT_TRUE(table_whole);
    }
  }
}

}  // namespace
}  // namespace gantry::rag
