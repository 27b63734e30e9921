#include "rag/answer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace gantry::rag {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

// ------------------------------------------------------------ CheckCitations

std::string Check(std::string_view text, int n, CitationReport* report = nullptr) {
  CitationReport local;
  return CheckCitations(text, n, report ? report : &local);
}

TEST(CheckCitations, KeepsValidCitations) {
  CitationReport r;
  EXPECT_EQ(Check("Paris is the capital [1]. Lyon is big [2].", 2, &r),
            "Paris is the capital [1]. Lyon is big [2].");
  EXPECT_THAT(r.cited, ElementsAre(1, 2));
  EXPECT_TRUE(r.invalid.empty());
}

TEST(CheckCitations, RemovesAndReportsInvalidCitations) {
  CitationReport r;
  EXPECT_EQ(Check("Paris is the capital [1]. Also [9].", 1, &r), "Paris is the capital [1]. Also.");
  EXPECT_THAT(r.cited, ElementsAre(1));
  EXPECT_THAT(r.invalid, ElementsAre(9));
  // Source 0 does not exist either (sources are 1-based).
  CitationReport r0;
  EXPECT_EQ(Check("See [0] now", 3, &r0), "See now");
  EXPECT_THAT(r0.invalid, ElementsAre(0));
}

TEST(CheckCitations, FiltersGroups) {
  CitationReport r;
  EXPECT_EQ(Check("Fact [1, 9].", 2, &r), "Fact [1].");
  EXPECT_THAT(r.cited, ElementsAre(1));
  EXPECT_THAT(r.invalid, ElementsAre(9));
  EXPECT_EQ(Check("Fact [2,1 , 7].", 2), "Fact [2, 1].");
  EXPECT_EQ(Check("Fact [8, 9].", 2), "Fact.");
}

TEST(CheckCitations, ReportsFirstCitationOrderWithoutDuplicates) {
  CitationReport r;
  Check("a [2] b [1] c [2] d [7] e [7] f [1, 5]", 3, &r);
  EXPECT_THAT(r.cited, ElementsAre(2, 1));
  EXPECT_THAT(r.invalid, ElementsAre(7, 5));
}

TEST(CheckCitations, LeavesNonCitationsAlone) {
  CitationReport r;
  for (const char* text : {"an array [x] here", "empty [ ] brackets", "[] too", "a [1 unclosed",
                           "list [1; 2]", "math [-1]", "five digits [12345]", "trailing ["}) {
    EXPECT_EQ(Check(text, 3, &r), text);
  }
  EXPECT_TRUE(r.cited.empty());
  EXPECT_TRUE(r.invalid.empty());
}

TEST(CheckCitations, LeavesNoDoubleSpace) {
  EXPECT_EQ(Check("One [9] two.", 1), "One two.");
  EXPECT_EQ(Check("One [9], two.", 1), "One, two.");
  EXPECT_EQ(Check("One [9][8] two.", 1), "One two.");
  EXPECT_EQ(Check("One [9] [8] two.", 1), "One two.");
  EXPECT_EQ(Check("One [1] [9] two.", 1), "One [1] two.");
  for (const char* text : {"One [9] two.", "x [9]. y [8], z [7] w"}) {
    EXPECT_EQ(Check(text, 1).find("  "), std::string::npos) << text;
  }
}

TEST(CheckCitations, OverlongGroupsAreText) {
  // Longer than a stream may hold back (24 bytes): not a citation.
  const std::string long_group = "[1, 2, 1, 2, 1, 2, 1, 2, 9]";
  EXPECT_EQ(Check(long_group, 2), long_group);
  EXPECT_EQ(Check("[1, 2, 1, 2, 1, 2, 9]", 2), "[1, 2, 1, 2, 1, 2]");
}

TEST(CheckCitations, NoSourcesRemovesEveryCitation) {
  CitationReport r;
  EXPECT_EQ(Check("A [1]. B [2].", 0, &r), "A. B.");
  EXPECT_THAT(r.invalid, ElementsAre(1, 2));
}

// ------------------------------------------------------------ CitationFilter

// The texts the stream tests run over: citations valid and invalid, groups,
// non-citations, brackets at both ends.
const std::vector<std::string>& StreamTexts() {
  static const std::vector<std::string> texts = {
      "Paris is the capital [1]. Also [7].",
      "Paris [1, 7] and [2,3] or [9].",
      "See [12] and [x] and [ ] and [] here [1]",
      "[2] first, then [9], last [1, 2]",
      "a [9][1] b [1][9]. c [9] [8] d",
      "array[0] = [3]; x [1 unclosed [1]",
      "ends with an open bracket [",
      "ends with a partial citation [1, ",
      "unicode é [1] ü [5] — done.",
      "[[1]] [[9]]",
      "no citations at all",
      "long [1, 2, 1, 2, 1, 2, 1, 2, 9] group [1, 2, 1, 2, 1, 2, 9] ok",
      "x [9] ",
      "two  [9]  spaces [2]  ",
      "[9]",
  };
  return texts;
}

std::string Stream(const std::vector<std::string_view>& pieces, int n, CitationReport* report) {
  CitationFilter f(n);
  std::string out;
  for (auto p : pieces) out += f.Push(p);
  out += f.Finish();
  *report = f.report();
  return out;
}

TEST(CitationFilter, WholeTextMatchesCheckCitations) {
  for (const auto& text : StreamTexts()) {
    CitationReport want, got;
    const std::string expect = CheckCitations(text, 2, &want);
    EXPECT_EQ(Stream({text}, 2, &got), expect) << text;
    EXPECT_EQ(got.cited, want.cited) << text;
    EXPECT_EQ(got.invalid, want.invalid) << text;
  }
}

TEST(CitationFilter, EveryTwoWaySplitMatchesCheckCitations) {
  for (const auto& text : StreamTexts()) {
    CitationReport want;
    const std::string expect = CheckCitations(text, 2, &want);
    const std::string_view t = text;
    for (size_t i = 0; i <= t.size(); ++i) {
      CitationReport got;
      ASSERT_EQ(Stream({t.substr(0, i), t.substr(i)}, 2, &got), expect)
          << "text '" << text << "' split at " << i;
      ASSERT_EQ(got.cited, want.cited) << text << " / " << i;
      ASSERT_EQ(got.invalid, want.invalid) << text << " / " << i;
    }
  }
}

TEST(CitationFilter, EveryThreeWaySplitMatchesCheckCitations) {
  for (const auto& text : StreamTexts()) {
    CitationReport want;
    const std::string expect = CheckCitations(text, 2, &want);
    const std::string_view t = text;
    for (size_t i = 0; i <= t.size(); ++i) {
      for (size_t j = i; j <= t.size(); ++j) {
        CitationReport got;
        const std::string out = Stream({t.substr(0, i), t.substr(i, j - i), t.substr(j)}, 2, &got);
        ASSERT_EQ(out, expect) << "text '" << text << "' split at " << i << ", " << j;
        ASSERT_EQ(got.cited, want.cited) << text << " / " << i << ", " << j;
        ASSERT_EQ(got.invalid, want.invalid) << text << " / " << i << ", " << j;
      }
    }
  }
}

TEST(CitationFilter, CharacterByCharacterMatchesCheckCitations) {
  for (const auto& text : StreamTexts()) {
    CitationReport want;
    const std::string expect = CheckCitations(text, 2, &want);
    std::vector<std::string_view> pieces;
    for (size_t i = 0; i < text.size(); ++i) pieces.push_back(std::string_view(text).substr(i, 1));
    CitationReport got;
    EXPECT_EQ(Stream(pieces, 2, &got), expect) << text;
    EXPECT_EQ(got.invalid, want.invalid) << text;
  }
}

TEST(CitationFilter, HoldsBackOnlyAPossibleCitation) {
  CitationFilter f(1);
  // Plain text is released at once (at most a trailing space is held).
  EXPECT_THAT(f.Push("Paris is"), HasSubstr("Paris is"));
  std::string out = f.Push(" the capital [");
  EXPECT_THAT(out, HasSubstr("the capital"));
  EXPECT_EQ(out.find('['), std::string::npos);
  out += f.Push("1");
  EXPECT_EQ(out.find('['), std::string::npos);
  out += f.Push("]. More");
  out += f.Finish();
  EXPECT_EQ(out, " the capital [1]. More");
  EXPECT_THAT(f.report().cited, ElementsAre(1));
}

TEST(CitationFilter, FinishReleasesAnOpenBracket) {
  CitationFilter f(3);
  std::string out = f.Push("the end [");
  EXPECT_EQ(out.find('['), std::string::npos);
  out += f.Finish();
  EXPECT_EQ(out, "the end [");
  EXPECT_TRUE(f.report().cited.empty());
  EXPECT_TRUE(f.report().invalid.empty());
}

TEST(CitationFilter, ReleasesTextThatCannotBeACitation) {
  CitationFilter f(3);
  std::string out = f.Push("x [a");
  EXPECT_EQ(out, "x [a");
  out = f.Push(" [2");
  EXPECT_EQ(out.find('['), std::string::npos);
  out += f.Push("b]");
  EXPECT_EQ(out, " [2b]");
  EXPECT_EQ(f.Finish(), "");
}

// ------------------------------------------------------------ SelectSources

SearchHit Hit(int64_t id, std::string text, std::optional<double> dense,
              std::optional<double> lexical) {
  SearchHit h;
  h.chunk.chunk.id = id;
  h.chunk.chunk.text = std::move(text);
  h.chunk.doc_id = "doc" + std::to_string(id);
  h.chunk.title = "Title " + std::to_string(id);
  h.dense = dense;
  h.lexical = lexical;
  h.score = 1.0 / static_cast<double>(id);
  return h;
}

// One token per space-separated word.
int Words(std::string_view s) {
  std::istringstream in{std::string(s)};
  int n = 0;
  std::string w;
  while (in >> w) ++n;
  return n;
}

TEST(SelectSources, AppliesTheRelevanceFloor) {
  RagOptions o;
  o.min_similarity = 0.3;
  std::vector<SearchHit> hits = {
      Hit(1, "dense above", 0.8, std::nullopt),
      Hit(2, "dense below", 0.1, std::nullopt),
      Hit(3, "dense below but lexical", 0.2, 4.0),  // the dense similarity decides
      Hit(4, "lexical only", std::nullopt, 2.5),
      Hit(5, "nothing known", std::nullopt, std::nullopt),
      Hit(6, "exactly at the floor", 0.3, std::nullopt),
  };
  auto sources = SelectSources(hits, o, Words);
  ASSERT_EQ(sources.size(), 3u);
  EXPECT_EQ(sources[0].hit.chunk.chunk.id, 1);
  EXPECT_EQ(sources[1].hit.chunk.chunk.id, 4);
  EXPECT_EQ(sources[2].hit.chunk.chunk.id, 6);
  for (size_t i = 0; i < sources.size(); ++i) EXPECT_EQ(sources[i].number, int(i) + 1);
}

TEST(SelectSources, NothingRelevantGivesNoSources) {
  RagOptions o;
  o.min_similarity = 0.5;
  EXPECT_TRUE(SelectSources({Hit(1, "a", 0.49, std::nullopt)}, o, Words).empty());
  EXPECT_TRUE(SelectSources({}, o, Words).empty());
}

TEST(SelectSources, StaysWithinTheTokenBudget) {
  RagOptions o;
  o.min_similarity = 0;
  o.max_context_tokens = 30;  // each hit costs words + 8
  std::vector<SearchHit> hits = {
      Hit(1, "one two three four", 0.9, std::nullopt),       // 12
      Hit(2, "one two three four five", 0.8, std::nullopt),  // 13 -> 25
      Hit(3, "one two three four five six", 0.7, std::nullopt),
      Hit(4, "x", 0.6, std::nullopt),  // would fit, but selection stops at the first miss
  };
  auto sources = SelectSources(hits, o, Words);
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[0].hit.chunk.chunk.id, 1);
  EXPECT_EQ(sources[1].hit.chunk.chunk.id, 2);
}

TEST(SelectSources, AnOversizedFirstHitDoesNotBlockSmallerOnes) {
  RagOptions o;
  o.min_similarity = 0;
  o.max_context_tokens = 20;
  std::vector<SearchHit> hits = {
      Hit(1, std::string(200, 'a') + " b c d e f g h i j k l m n o p q r s t u v", 0.9,
          std::nullopt),
      Hit(2, "small one", 0.8, std::nullopt),
  };
  auto sources = SelectSources(hits, o, Words);
  ASSERT_EQ(sources.size(), 1u);
  EXPECT_EQ(sources[0].hit.chunk.chunk.id, 2);
  EXPECT_EQ(sources[0].number, 1);
}

// ------------------------------------------------------------ RagOptions

TEST(RagOptions, ParsesTheDocumentedShape) {
  auto o = RagOptions::Parse(Json::parse(R"({
      "collections": ["docs", "faq"], "k": 7, "mode": "dense",
      "filter": {"lang": "en"}, "mmr": true, "mmr_lambda": 0.3,
      "min_similarity": 0.4, "max_context_tokens": 900, "candidates": 50})"));
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_THAT(o->collections, ElementsAre("docs", "faq"));
  EXPECT_EQ(o->search.k, 7);
  EXPECT_EQ(o->search.mode, SearchMode::kDense);
  EXPECT_FALSE(o->search.filter.empty());
  EXPECT_TRUE(o->search.mmr);
  EXPECT_DOUBLE_EQ(o->search.mmr_lambda, 0.3);
  EXPECT_DOUBLE_EQ(o->min_similarity, 0.4);
  EXPECT_EQ(o->max_context_tokens, 900);
  EXPECT_EQ(o->search.candidates, 50);
  EXPECT_TRUE(o->search.query.empty());
}

TEST(RagOptions, DefaultsAndASingleCollectionName) {
  auto o = RagOptions::Parse(Json{{"collections", "docs"}});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_THAT(o->collections, ElementsAre("docs"));
  const RagOptions d;
  EXPECT_EQ(o->search.k, d.search.k);
  EXPECT_EQ(o->search.mode, SearchMode::kHybrid);
  EXPECT_TRUE(o->search.filter.empty());
  EXPECT_FALSE(o->search.mmr);
  EXPECT_DOUBLE_EQ(o->min_similarity, 0.25);
  EXPECT_EQ(o->max_context_tokens, 1500);
  // null fields mean "default".
  auto n = RagOptions::Parse(Json::parse(R"({"collections": "d", "k": null, "mode": null})"));
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->search.k, d.search.k);
}

void ExpectRejected(const std::string& json, const std::string& names) {
  auto o = RagOptions::Parse(Json::parse(json));
  EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument) << json;
  EXPECT_THAT(o.status().message(), HasSubstr(names)) << json;
}

TEST(RagOptions, RejectsUnknownFieldsAndBadTypes) {
  ExpectRejected(R"({"collections": ["d"], "topk": 3})", "topk");
  ExpectRejected(R"({"k": 3})", "rag.collections");
  ExpectRejected(R"({"collections": []})", "rag.collections");
  ExpectRejected(R"({"collections": 5})", "rag.collections");
  ExpectRejected(R"({"collections": ["d", 3]})", "rag.collections");
  ExpectRejected(R"({"collections": "d", "k": "5"})", "rag.k");
  ExpectRejected(R"({"collections": "d", "k": 0})", "rag.k");
  ExpectRejected(R"({"collections": "d", "k": 101})", "rag.k");
  ExpectRejected(R"({"collections": "d", "k": 2.5})", "rag.k");
  ExpectRejected(R"({"collections": "d", "mode": 1})", "rag.mode");
  ExpectRejected(R"({"collections": "d", "mode": "fuzzy"})", "fuzzy");
  ExpectRejected(R"({"collections": "d", "mmr": "yes"})", "rag.mmr");
  ExpectRejected(R"({"collections": "d", "mmr_lambda": 2})", "rag.mmr_lambda");
  ExpectRejected(R"({"collections": "d", "min_similarity": "high"})", "rag.min_similarity");
  ExpectRejected(R"({"collections": "d", "max_context_tokens": 10})", "rag.max_context_tokens");
  ExpectRejected(R"({"collections": "d", "candidates": -1})", "rag.candidates");
  ExpectRejected(R"({"collections": "d", "filter": {"year": {"$gtt": 1}}})", "$gtt");
  ExpectRejected(R"(["d"])", "rag");
}

TEST(RagOptions, RangeMessagesAreReadable) {
  auto o = RagOptions::Parse(Json{{"collections", "d"}, {"k", 0}});
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("rag.k must be in"));
  EXPECT_THAT(o.status().message(), HasSubstr("100"));
  EXPECT_THAT(o.status().message(), ::testing::Not(HasSubstr("000000")));
}

// ------------------------------------------------------------ messages

providers::ChatMessage Msg(std::string role, Json content) {
  providers::ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

std::vector<Source> TwoSources() {
  std::vector<Source> s;
  s.push_back({1, Hit(11, "Paris is the capital of France.", 0.9, std::nullopt)});
  s.push_back({2, Hit(12, "Lyon is in France.", 0.8, std::nullopt)});
  s[1].hit.chunk.title = "";
  s[1].hit.chunk.source = "docs/lyon.txt";
  return s;
}

TEST(GroundingPrompt, NumbersTheSources) {
  const std::string p = GroundingPrompt(TwoSources());
  EXPECT_THAT(p, HasSubstr("[1] Title 11\nParis is the capital of France."));
  EXPECT_THAT(p, HasSubstr("[2] docs/lyon.txt\nLyon is in France."));  // no title: the source
  EXPECT_THAT(p, HasSubstr("only the numbered sources"));
  EXPECT_LT(p.find("[1] Title 11"), p.find("[2] docs/lyon.txt"));
}

TEST(GroundMessages, InsertsAfterLeadingSystemMessages) {
  std::vector<providers::ChatMessage> in = {
      Msg("system", "be brief"), Msg("developer", "dev"),      Msg("user", "q1"),
      Msg("assistant", "a1"),    Msg("system", "late system"), Msg("user", "q2")};
  auto out = GroundMessages(in, TwoSources());
  ASSERT_EQ(out.size(), in.size() + 1);
  EXPECT_EQ(out[0].content, "be brief");
  EXPECT_EQ(out[1].content, "dev");
  EXPECT_EQ(out[2].role, "system");
  EXPECT_EQ(out[2].content, GroundingPrompt(TwoSources()));
  for (size_t i = 3; i < out.size(); ++i) EXPECT_EQ(out[i].content, in[i - 1].content);
}

TEST(GroundMessages, WithoutSystemMessagesGoesFirst) {
  auto out = GroundMessages({Msg("user", "q")}, TwoSources());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].role, "system");
  EXPECT_THAT(out[0].content.get<std::string>(), HasSubstr("[1] Title 11"));
  EXPECT_EQ(out[1].content, "q");

  auto only_system = GroundMessages({Msg("system", "s")}, TwoSources());
  ASSERT_EQ(only_system.size(), 2u);
  EXPECT_EQ(only_system[0].content, "s");
  EXPECT_THAT(only_system[1].content.get<std::string>(), HasSubstr("[2]"));
}

TEST(RetrievalQuery, UsesTheLastUserMessage) {
  auto q =
      RetrievalQuery({Msg("system", "s"), Msg("user", "first question"), Msg("assistant", "answer"),
                      Msg("user", "second question"), Msg("assistant", "pending")});
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(*q, "second question");

  // Content parts: the text parts joined.
  auto parts = RetrievalQuery({Msg("user", Json::parse(R"([{"type": "text", "text": "where is "},
      {"type": "image_url", "image_url": {"url": "http://x/y.png"}},
      {"type": "text", "text": "Paris"}])"))});
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  EXPECT_THAT(*parts, HasSubstr("where is"));
  EXPECT_THAT(*parts, HasSubstr("Paris"));
  EXPECT_THAT(*parts, ::testing::Not(HasSubstr("png")));
}

TEST(RetrievalQuery, NeedsAUserMessageWithText) {
  EXPECT_EQ(RetrievalQuery({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RetrievalQuery({Msg("system", "s"), Msg("assistant", "a")}).status().code(),
            StatusCode::kInvalidArgument);
  // The last user message is the question; an empty one is not replaced by an older one.
  EXPECT_EQ(RetrievalQuery({Msg("user", "old"), Msg("user", "")}).status().code(),
            StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------ report

TEST(RagReportJson, DescribesSourcesAndCitations) {
  auto sources = TwoSources();
  sources[0].hit.collection = "docs";
  sources[0].hit.chunk.chunk.byte_start = 10;
  sources[0].hit.chunk.chunk.byte_end = 40;
  sources[0].hit.chunk.version = 3;
  sources[1].hit.chunk.chunk.page_start = 2;
  sources[1].hit.chunk.chunk.page_end = 3;
  sources[1].hit.chunk.chunk.text = std::string(299, 'x') + "é and more";  // cut before é
  CitationReport report;
  report.cited = {2};
  report.invalid = {7};
  Json j = RagReportJson(sources, report, true);
  EXPECT_EQ(j["grounded"], true);
  EXPECT_EQ(j["citations"], Json::array({2}));
  EXPECT_EQ(j["invalid_citations"], Json::array({7}));
  ASSERT_EQ(j["sources"].size(), 2u);
  const Json& s1 = j["sources"][0];
  EXPECT_EQ(s1["number"], 1);
  EXPECT_EQ(s1["chunk_id"], 11);
  EXPECT_EQ(s1["doc_id"], "doc11");
  EXPECT_EQ(s1["collection"], "docs");
  EXPECT_EQ(s1["title"], "Title 11");
  EXPECT_EQ(s1["version"], 3);
  EXPECT_EQ(s1["cited"], false);
  EXPECT_EQ(s1["span"], (Json{{"byte_start", 10}, {"byte_end", 40}}));
  EXPECT_EQ(s1["snippet"], "Paris is the capital of France.");
  const Json& s2 = j["sources"][1];
  EXPECT_EQ(s2["cited"], true);
  EXPECT_EQ(s2["span"]["page_start"], 2);
  EXPECT_EQ(s2["span"]["page_end"], 3);
  EXPECT_EQ(s2["snippet"], std::string(299, 'x') + "…");

  Json none = RagReportJson({}, {}, false);
  EXPECT_EQ(none["grounded"], false);
  EXPECT_TRUE(none["sources"].empty());
  EXPECT_TRUE(none["citations"].empty());
}

}  // namespace
}  // namespace gantry::rag
