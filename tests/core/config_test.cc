#include "core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

namespace gantry {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

constexpr char kFile[] = "test.yaml";

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::shared_ptr<const ConfigDoc> MustParse(const std::string& text,
                                           std::map<std::string, std::string> env = {}) {
  auto doc = ConfigDoc::Parse(text, kFile, FakeEnv(std::move(env)));
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  return doc.ok() ? *doc : nullptr;
}

ConfigNode Section(const std::shared_ptr<const ConfigDoc>& doc, const char* name) {
  auto n = doc->Root().Map(name);
  EXPECT_TRUE(n.ok()) << n.status().ToString();
  return *n;
}

TEST(ConfigTest, SubstitutesVariablesDefaultsAndEscapes) {
  auto doc = MustParse(
      "server:\n"
      "  host: ${HOST}\n"
      "  port: ${PORT:-8080}\n"
      "  price: \"$$5 and $${HOST}\"\n"
      "  mixed: a-${HOST}-b\n"
      "  fallback_unused: ${HOST:-other}\n"
      "  plain: just $ text\n",
      {{"HOST", "example.internal"}});
  ASSERT_NE(doc, nullptr);
  ConfigNode s = Section(doc, "server");
  EXPECT_EQ(s.path(), "server");
  EXPECT_EQ(*s.String("host"), "example.internal");
  EXPECT_EQ(*s.Int("port", std::nullopt, 1, 65535), 8080);
  EXPECT_EQ(*s.String("price"), "$5 and ${HOST}");
  EXPECT_EQ(*s.String("mixed"), "a-example.internal-b");
  EXPECT_EQ(*s.String("fallback_unused"), "example.internal");
  EXPECT_EQ(*s.String("plain"), "just $ text");

  EXPECT_TRUE(doc->FromEnv("server.host"));
  EXPECT_FALSE(doc->FromEnv("server.port"));  // came from the fallback
  EXPECT_FALSE(doc->FromEnv("server.price"));
  EXPECT_THAT(doc->SecretValues(), Contains("example.internal"));
  EXPECT_THAT(doc->SecretValues(), Not(Contains("8080")));
  EXPECT_EQ(doc->LineOf("server.port"), 3);
}

TEST(ConfigTest, SubstitutionHappensAfterParsing) {
  // A value that looks like YAML structure stays a plain string.
  auto doc = MustParse("a:\n  b: ${V}\n", {{"V", "{x: 1}\nc: d"}});
  ASSERT_NE(doc, nullptr);
  ConfigNode a = Section(doc, "a");
  EXPECT_EQ(*a.String("b"), "{x: 1}\nc: d");
  EXPECT_FALSE(doc->Root().Has("c"));
}

TEST(ConfigTest, UnsetVariableNamesFileLineKeyAndVariable) {
  auto doc = ConfigDoc::Parse(
      "server:\n"
      "  host: ${HOST}\n"
      "  api_key: ${MISSING_KEY}\n",
      kFile, FakeEnv({{"HOST", "h0stvalue-xyz"}}));
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
  const std::string m = doc.status().message();
  EXPECT_THAT(m, HasSubstr("test.yaml:3: server.api_key"));
  EXPECT_THAT(m, HasSubstr("MISSING_KEY"));
  EXPECT_THAT(m, Not(HasSubstr("h0stvalue-xyz")));
}

TEST(ConfigTest, UnterminatedAndInvalidVariableReferences) {
  auto a = ConfigDoc::Parse("k: ${OPEN\n", kFile, FakeEnv({}));
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("test.yaml:1: k"));
  auto b = ConfigDoc::Parse("k: ${}\n", kFile, FakeEnv({}));
  EXPECT_FALSE(b.ok());
  auto c = ConfigDoc::Parse("k: ${BAD-NAME}\n", kFile, FakeEnv({}));
  EXPECT_FALSE(c.ok());
}

TEST(ConfigTest, InvalidYamlReportsLine) {
  auto doc = ConfigDoc::Parse("a: 1\nb: c: d\ne: 3\n", kFile, FakeEnv({}));
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(doc.status().message(), HasSubstr("test.yaml:2: invalid YAML"));
  auto flow = ConfigDoc::Parse("a: 1\nb: [1, 2\nc: 3\n", kFile, FakeEnv({}));
  ASSERT_FALSE(flow.ok());
  EXPECT_THAT(flow.status().message(),
              ::testing::MatchesRegex("test\\.yaml:[1-9][0-9]*: invalid YAML.*"));
}

TEST(ConfigTest, TopLevelMustBeMapping) {
  auto doc = ConfigDoc::Parse("- a\n- b\n", kFile, FakeEnv({}));
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
  auto empty = ConfigDoc::Parse("", kFile, FakeEnv({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE((*empty)->Root().IsMap());
}

TEST(ConfigTest, LoadMissingFileIsNotFound) {
  auto doc = ConfigDoc::Load("/nonexistent/dir/gantry.yaml", FakeEnv({}));
  EXPECT_EQ(doc.status().code(), StatusCode::kNotFound);
}

TEST(ConfigTest, DuplicateKeyIsAnError) {
  auto doc = ConfigDoc::Parse("server:\n  port: 1\n  port: 2\n", kFile, FakeEnv({}));
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(doc.status().message(), HasSubstr("test.yaml:3: server.port"));
  EXPECT_THAT(doc.status().message(), HasSubstr("duplicate"));
}

TEST(ConfigTest, IntAccessor) {
  auto doc = MustParse(
      "s:\n"
      "  ok: 42\n"
      "  neg: -3\n"
      "  big: 70000\n"
      "  word: abc\n"
      "  list: [1]\n"
      "  trailing: 12x\n"
      "  nul:\n");
  ASSERT_NE(doc, nullptr);
  ConfigNode s = Section(doc, "s");
  EXPECT_EQ(*s.Int("ok", std::nullopt, 0, 100), 42);
  EXPECT_EQ(*s.Int("neg", std::nullopt, -10, 10), -3);
  EXPECT_EQ(*s.Int("absent", 5, 0, 10), 5);
  EXPECT_EQ(*s.Int("nul", 6, 0, 10), 6);  // null means "use the default"

  auto range = s.Int("big", std::nullopt, 1, 65535);
  EXPECT_EQ(range.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(range.status().message(), HasSubstr("test.yaml:4: s.big"));
  EXPECT_THAT(range.status().message(), HasSubstr("between 1 and 65535"));

  auto word = s.Int("word", std::nullopt, 0, 10);
  EXPECT_THAT(word.status().message(), HasSubstr("test.yaml:5: s.word: expected an integer"));
  auto list = s.Int("list", std::nullopt, 0, 10);
  EXPECT_THAT(list.status().message(), HasSubstr("test.yaml:6: s.list: expected an integer"));
  EXPECT_FALSE(s.Int("trailing", std::nullopt, 0, 100).ok());

  auto missing = s.Int("absent", std::nullopt, 0, 10);
  EXPECT_THAT(missing.status().message(), HasSubstr("s.absent: missing required key"));
}

TEST(ConfigTest, DoubleAccessor) {
  auto doc = MustParse("s:\n  r: 0.25\n  high: 1.5\n  word: fast\n  inf: .inf\n");
  ASSERT_NE(doc, nullptr);
  ConfigNode s = Section(doc, "s");
  EXPECT_DOUBLE_EQ(*s.Double("r", std::nullopt, 0, 1), 0.25);
  EXPECT_DOUBLE_EQ(*s.Double("absent", 0.5, 0, 1), 0.5);
  auto high = s.Double("high", std::nullopt, 0, 1);
  EXPECT_EQ(high.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(high.status().message(), HasSubstr("test.yaml:3: s.high: must be between"));
  auto word = s.Double("word", std::nullopt, 0, 1);
  EXPECT_THAT(word.status().message(), HasSubstr("test.yaml:4: s.word: expected a number"));
  EXPECT_FALSE(s.Double("inf", std::nullopt, 0, 1e300).ok());
}

TEST(ConfigTest, BoolAccessor) {
  auto doc = MustParse("s:\n  a: true\n  b: no\n  c: on\n  d: maybe\n  e: 1\n");
  ASSERT_NE(doc, nullptr);
  ConfigNode s = Section(doc, "s");
  EXPECT_TRUE(*s.Bool("a"));
  EXPECT_FALSE(*s.Bool("b"));
  EXPECT_TRUE(*s.Bool("c"));
  EXPECT_TRUE(*s.Bool("absent", true));
  auto d = s.Bool("d");
  EXPECT_THAT(d.status().message(), HasSubstr("test.yaml:5: s.d: expected true or false"));
  EXPECT_FALSE(s.Bool("e").ok());
  EXPECT_FALSE(s.Bool("absent").ok());
}

TEST(ConfigTest, StringAndSecretAccessors) {
  auto doc = MustParse("s:\n  name: n\n  nested: {a: b}\n  key: ${K}\n", {{"K", "sk-123456"}});
  ASSERT_NE(doc, nullptr);
  ConfigNode s = Section(doc, "s");
  EXPECT_EQ(*s.String("name"), "n");
  EXPECT_EQ(*s.String("absent", std::string("dflt")), "dflt");
  EXPECT_THAT(s.String("absent").status().message(), HasSubstr("s.absent: missing required key"));
  EXPECT_THAT(s.String("nested").status().message(),
              HasSubstr("test.yaml:3: s.nested: expected a string"));
  auto secret = s.SecretValue("key");
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(secret->Reveal(), "sk-123456");
  EXPECT_TRUE(s.SecretValue("absent")->empty());
  EXPECT_FALSE(s.SecretValue("absent", /*required=*/true).ok());
}

TEST(ConfigTest, CheckKeysRejectsUnknownKey) {
  auto doc = MustParse("server:\n  host: a\n  prot: 80\n");
  ASSERT_NE(doc, nullptr);
  ConfigNode s = Section(doc, "server");
  EXPECT_TRUE(s.CheckKeys({"host", "prot"}).ok());
  Status st = s.CheckKeys({"host", "port"});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("test.yaml:3: server.prot: unknown key"));
  EXPECT_THAT(st.message(), HasSubstr("host, port"));
}

TEST(ConfigTest, MapAndMapList) {
  auto doc = MustParse(
      "providers:\n"
      "  - name: a\n"
      "  - name: b\n"
      "    type: x\n"
      "bad_list:\n"
      "  - name: c\n"
      "  - just a string\n"
      "scalar: 3\n");
  ASSERT_NE(doc, nullptr);
  ConfigNode root = doc->Root();
  auto list = root.MapList("providers");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].path(), "providers[0]");
  EXPECT_EQ((*list)[1].path(), "providers[1]");
  EXPECT_EQ(*(*list)[1].String("name"), "b");
  EXPECT_EQ(*(*list)[1].String("type"), "x");
  EXPECT_EQ(doc->LineOf("providers[1].type"), 4);

  EXPECT_TRUE(root.MapList("absent")->empty());
  auto bad = root.MapList("bad_list");
  EXPECT_THAT(bad.status().message(), HasSubstr("test.yaml:7: bad_list[1]: expected a mapping"));
  EXPECT_THAT(root.MapList("scalar").status().message(), HasSubstr("scalar: expected a list"));

  auto missing_map = root.Map("absent");
  ASSERT_TRUE(missing_map.ok());
  EXPECT_TRUE(missing_map->IsMap());
  EXPECT_FALSE(missing_map->Has("x"));
  EXPECT_EQ(missing_map->path(), "absent");
  EXPECT_THAT(root.Map("scalar").status().message(),
              HasSubstr("test.yaml:8: scalar: expected a mapping"));
}

TEST(ConfigTest, StringListAndStringMap) {
  auto doc = MustParse(
      "s:\n"
      "  tags: [a, b]\n"
      "  one: a\n"
      "  mixed: [a, [b]]\n"
      "  headers:\n"
      "    X-B: two\n"
      "    X-A: \"1\"\n"
      "  bad_headers:\n"
      "    X-C: [1]\n");
  ASSERT_NE(doc, nullptr);
  ConfigNode s = Section(doc, "s");
  EXPECT_THAT(*s.StringList("tags"), ElementsAre("a", "b"));
  EXPECT_TRUE(s.StringList("absent")->empty());
  EXPECT_FALSE(s.StringList("one").ok());
  EXPECT_FALSE(s.StringList("mixed").ok());

  auto headers = s.StringMap("headers");
  ASSERT_TRUE(headers.ok());
  EXPECT_THAT(*headers, ElementsAre(Pair("X-A", "1"), Pair("X-B", "two")));
  EXPECT_TRUE(s.StringMap("absent")->empty());
  auto bad = s.StringMap("bad_headers");
  EXPECT_THAT(bad.status().message(), HasSubstr("s.bad_headers.X-C: expected a string"));
  EXPECT_FALSE(s.StringMap("tags").ok());
}

TEST(ConfigTest, ErrorNamesFileLineAndPath) {
  auto doc = MustParse("a:\n  b:\n    c: 1\n");
  ASSERT_NE(doc, nullptr);
  ConfigNode b = *Section(doc, "a").Map("b");
  Status st = b.Error("c", "is wrong");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "test.yaml:3: a.b.c: is wrong");
  // An unknown key falls back to its parent's line.
  EXPECT_EQ(b.Error("zzz", "missing").message(), "test.yaml:3: a.b.zzz: missing");
  EXPECT_EQ(doc->Root().Error("", "top").message().rfind("test.yaml", 0), 0u);
}

TEST(ConfigTest, EnvValuesNeverAppearInErrors) {
  const std::string kSecret = "s3cr3t-V4LUE";
  auto doc = MustParse(
      "s:\n"
      "  port: ${V}\n"
      "  ratio: ${V}\n"
      "  flag: ${V}\n"
      "  list: ${V}\n"
      "  headers: ${V}\n"
      "  section: ${V}\n"
      "  extra: ${V}\n",
      {{"V", kSecret}});
  ASSERT_NE(doc, nullptr);
  ConfigNode s = Section(doc, "s");
  const Status errors[] = {
      s.Int("port", std::nullopt, 0, 10).status(),
      s.Double("ratio", std::nullopt, 0, 1).status(),
      s.Bool("flag").status(),
      s.StringList("list").status(),
      s.StringMap("headers").status(),
      s.Map("section").status(),
      s.MapList("section").status(),
      s.CheckKeys({"port"}),
      s.Error("extra", "custom problem"),
  };
  for (const Status& st : errors) {
    EXPECT_FALSE(st.ok());
    EXPECT_THAT(st.message(), AllOf(HasSubstr("test.yaml:"), Not(HasSubstr(kSecret))));
  }
  EXPECT_THAT(doc->SecretValues(), Contains(kSecret));

  // A parse failure elsewhere in the document must not quote values either.
  auto bad = ConfigDoc::Parse("a: ${V}\nb: ${NOPE}\n", kFile, FakeEnv({{"V", kSecret}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), Not(HasSubstr(kSecret)));
}

}  // namespace
}  // namespace gantry
