#include "store/metadata_filter.h"

#include <gtest/gtest.h>

#include <string>

namespace gantry::store {
namespace {

using json = nlohmann::json;

MetadataFilter ParseOrDie(const std::string& text) {
  auto f = MetadataFilter::Parse(json::parse(text));
  EXPECT_TRUE(f.ok()) << text << ": " << f.status().ToString();
  return f.ok() ? *f : MetadataFilter{};
}

bool Match(const std::string& filter, const std::string& metadata, const std::string& source = "",
           const std::string& doc_id = "", const std::string& title = "") {
  return ParseOrDie(filter).Matches(json::parse(metadata), source, doc_id, title);
}

TEST(MetadataFilterParseTest, NullAndEmptyAreEmpty) {
  EXPECT_TRUE(ParseOrDie("null").empty());
  EXPECT_TRUE(ParseOrDie("{}").empty());
  EXPECT_TRUE(ParseOrDie("{}").Matches(json::object(), "", "", ""));
}

TEST(MetadataFilterParseTest, Shapes) {
  MetadataFilter eq = ParseOrDie(R"({"lang": "en"})");
  EXPECT_EQ(eq.op, MetadataFilter::Op::kEq);
  EXPECT_EQ(eq.key, "lang");
  EXPECT_EQ(eq.value, "en");

  MetadataFilter range = ParseOrDie(R"({"year": {"$gte": 2020, "$lt": 2025}})");
  EXPECT_EQ(range.op, MetadataFilter::Op::kAnd);
  ASSERT_EQ(range.children.size(), 2u);

  MetadataFilter two = ParseOrDie(R"({"a": 1, "b": 2})");
  EXPECT_EQ(two.op, MetadataFilter::Op::kAnd);
  EXPECT_EQ(two.children.size(), 2u);

  MetadataFilter either = ParseOrDie(R"({"$or": [{"a": 1}, {"b": {"$in": [1, 2]}}]})");
  EXPECT_EQ(either.op, MetadataFilter::Op::kOr);
  ASSERT_EQ(either.children.size(), 2u);
  EXPECT_EQ(either.children[1].op, MetadataFilter::Op::kIn);

  MetadataFilter prefix = ParseOrDie(R"({"source": {"$prefix": "docs/"}})");
  EXPECT_EQ(prefix.op, MetadataFilter::Op::kPrefix);
}

struct BadCase {
  const char* filter;
  const char* message;  // exact
};

TEST(MetadataFilterParseTest, ErrorsNameThePath) {
  const BadCase cases[] = {
      {R"({"year": {"$gtt": 1}})", "filter.year: unknown operator $gtt"},
      {R"([1, 2])", "filter: must be an object"},
      {R"("x")", "filter: must be an object"},
      {R"({"$not": {}})", "filter: unknown operator $not"},
      {R"({"$and": []})", "filter.$and: must be a non-empty array"},
      {R"({"$or": {"a": 1}})", "filter.$or: must be a non-empty array"},
      {R"({"$and": [{"a": 1}, 3]})", "filter.$and[1]: must be an object"},
      {R"({"$or": [{"a": {"$in": [1, null]}}]})",
       "filter.$or[0].a.$in[1]: must be a string, number or boolean"},
      {R"({"a": null})", "filter.a: expected a value or an operator object"},
      {R"({"a": [1, 2]})", "filter.a: expected a value or an operator object"},
      {R"({"a": {}})", "filter.a: empty operator object"},
      {R"({"a": {"b": 1}})",
       "filter.a: expected an operator, got \"b\" (nested fields are not supported)"},
      {R"({"a": {"$in": 3}})", "filter.a.$in: must be an array"},
      {R"({"a": {"$gt": true}})", "filter.a.$gt: must be a number or string"},
      {R"({"a": {"$eq": {"x": 1}}})", "filter.a.$eq: must be a string, number or boolean"},
      {R"({"a": {"$prefix": "x"}})", "filter.a: $prefix applies only to source"},
      {R"({"source": {"$prefix": 3}})", "filter.source.$prefix: must be a string"},
      {R"({"doc_id": 5})", "filter.doc_id: must be a string"},
      {R"({"title": {"$in": ["a", 1]}})", "filter.title.$in[1]: must be a string"},
      {R"({"source": {"$gt": 1}})", "filter.source.$gt: must be a string"},
      {R"({"": 1})", "filter: empty field name"},
  };
  for (const BadCase& c : cases) {
    auto f = MetadataFilter::Parse(json::parse(c.filter));
    ASSERT_FALSE(f.ok()) << c.filter;
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument) << c.filter;
    EXPECT_EQ(f.status().message(), c.message) << c.filter;
  }
}

TEST(MetadataFilterParseTest, DeepNestingIsRejectedNotCrashing) {
  json j = {{"a", 1}};
  for (int i = 0; i < 100; ++i) j = {{"$and", json::array({j})}};
  auto f = MetadataFilter::Parse(j);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("nested too deeply"), std::string::npos);
}

struct MatchCase {
  const char* filter;
  const char* metadata;
  bool want;
};

TEST(MetadataFilterMatchTest, Table) {
  const MatchCase cases[] = {
      // equality by kind
      {R"({"lang": "en"})", R"({"lang": "en"})", true},
      {R"({"lang": "en"})", R"({"lang": "de"})", false},
      {R"({"lang": "en"})", R"({})", false},
      {R"({"n": 1})", R"({"n": 1.0})", true},
      {R"({"n": 1})", R"({"n": "1"})", false},
      {R"({"n": 1})", R"({"n": true})", false},
      {R"({"ok": true})", R"({"ok": true})", true},
      {R"({"ok": true})", R"({"ok": 1})", false},
      {R"({"ok": false})", R"({"ok": false})", true},
      {R"({"tags": "a"})", R"({"tags": ["a", "b"]})", false},  // $eq is scalar-only
      {R"({"n": {"$eq": 2}})", R"({"n": 2})", true},
      // $ne includes missing fields
      {R"({"lang": {"$ne": "en"}})", R"({"lang": "de"})", true},
      {R"({"lang": {"$ne": "en"}})", R"({"lang": "en"})", false},
      {R"({"lang": {"$ne": "en"}})", R"({})", true},
      {R"({"n": {"$ne": 1}})", R"({"n": "1"})", true},
      // ranges
      {R"({"year": {"$gte": 2020, "$lt": 2025}})", R"({"year": 2020})", true},
      {R"({"year": {"$gte": 2020, "$lt": 2025}})", R"({"year": 2025})", false},
      {R"({"year": {"$gt": 2020}})", R"({"year": 2020.5})", true},
      {R"({"year": {"$lte": 2020}})", R"({"year": 2020})", true},
      {R"({"year": {"$lt": 2020}})", R"({"year": "1999"})", false},  // kinds differ
      {R"({"year": {"$gt": 1}})", R"({})", false},
      {R"({"name": {"$gt": "b"}})", R"({"name": "c"})", true},
      {R"({"name": {"$gt": "b"}})", R"({"name": "B"})", false},
      {R"({"ok": {"$gt": 0}})", R"({"ok": true})", false},
      {R"({"n": {"$gt": 0}})", R"({"n": [5]})", false},
      // $in / $nin, also inside arrays
      {R"({"tags": {"$in": ["a", "x"]}})", R"({"tags": "a"})", true},
      {R"({"tags": {"$in": ["a", "x"]}})", R"({"tags": ["b", "a"]})", true},
      {R"({"tags": {"$in": ["a", "x"]}})", R"({"tags": ["b", "c"]})", false},
      {R"({"tags": {"$in": ["a"]}})", R"({})", false},
      {R"({"tags": {"$in": []}})", R"({"tags": "a"})", false},
      {R"({"n": {"$in": [1, 2]}})", R"({"n": 2.0})", true},
      {R"({"n": {"$in": [1, 2]}})", R"({"n": [3, 1]})", true},
      {R"({"n": {"$in": [true]}})", R"({"n": [false, true]})", true},
      {R"({"n": {"$in": [1]}})", R"({"n": true})", false},
      {R"({"tags": {"$nin": ["a"]}})", R"({"tags": "b"})", true},
      {R"({"tags": {"$nin": ["a"]}})", R"({"tags": ["b", "a"]})", false},
      {R"({"tags": {"$nin": ["a"]}})", R"({})", true},
      {R"({"tags": {"$nin": []}})", R"({"tags": "a"})", true},
      // combinators
      {R"({"$and": [{"a": 1}, {"b": 2}]})", R"({"a": 1, "b": 2})", true},
      {R"({"$and": [{"a": 1}, {"b": 2}]})", R"({"a": 1, "b": 3})", false},
      {R"({"$or": [{"a": 1}, {"b": 2}]})", R"({"a": 0, "b": 2})", true},
      {R"({"$or": [{"a": 1}, {"b": 2}]})", R"({"a": 0})", false},
      {R"({"a": 1, "$or": [{"b": 1}, {"c": 1}]})", R"({"a": 1, "c": 1})", true},
      {R"({"$or": [{"$and": [{"a": 1}, {"b": 1}]}, {"c": {"$nin": [1]}}]})", R"({"c": 1})", false},
      // metadata that is not an object has no fields
      {R"({"a": 1})", R"([1])", false},
      {R"({"a": {"$ne": 1}})", R"("x")", true},
  };
  for (const MatchCase& c : cases) {
    EXPECT_EQ(Match(c.filter, c.metadata), c.want) << c.filter << " on " << c.metadata;
  }
}

TEST(MetadataFilterMatchTest, ReservedKeysUseDocumentFields) {
  // The metadata's own "source" is ignored in favour of the document's.
  const std::string md = R"({"source": "metadata/x", "doc_id": "m", "title": "M"})";
  EXPECT_TRUE(Match(R"({"source": "docs/a.md"})", md, "docs/a.md", "a", "A"));
  EXPECT_FALSE(Match(R"({"source": "metadata/x"})", md, "docs/a.md", "a", "A"));
  EXPECT_TRUE(Match(R"({"source": {"$prefix": "docs/"}})", md, "docs/a.md", "a", "A"));
  EXPECT_FALSE(Match(R"({"source": {"$prefix": "docs/"}})", md, "src/docs/a.md", "a", "A"));
  EXPECT_TRUE(Match(R"({"source": {"$prefix": ""}})", md, "x", "a", "A"));
  EXPECT_TRUE(Match(R"({"doc_id": {"$in": ["a", "b"]}})", md, "s", "a", "A"));
  EXPECT_FALSE(Match(R"({"doc_id": {"$nin": ["a", "b"]}})", md, "s", "a", "A"));
  EXPECT_TRUE(Match(R"({"title": {"$ne": "B"}})", md, "s", "a", "A"));
  EXPECT_TRUE(Match(R"({"title": {"$lt": "B"}})", md, "s", "a", "A"));
}

}  // namespace
}  // namespace gantry::store
