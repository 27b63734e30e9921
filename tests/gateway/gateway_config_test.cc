#include "gateway/gateway_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "fakes/run_sync.h"
#include "providers/scripted_provider.h"

namespace gantry::gateway {
namespace {

using gantry::testing::RunSync;
using ::testing::HasSubstr;
using ::testing::Not;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::shared_ptr<const ConfigDoc> Doc(const std::string& text,
                                     std::map<std::string, std::string> env = {}) {
  auto d = ConfigDoc::Parse(text, "gw.yaml", Env(std::move(env)));
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? *d : nullptr;
}

Status BuildError(const std::string& text, std::map<std::string, std::string> env = {}) {
  auto doc = Doc(text, std::move(env));
  if (!doc) return InternalError("bad test document");
  auto g = BuildGateway(doc->Root(), Logger::Null());
  if (g.ok()) return OkStatus();
  return g.status();
}

constexpr char kGood[] =
    "providers:\n"
    "  - name: local\n"
    "    type: scripted\n"
    "    reply: hello from script\n"
    "    embedding_dimensions: 4\n"
    "  - name: remote\n"
    "    type: openai\n"
    "    base_url: http://127.0.0.1:9/v1\n"
    "    api_key: ${KEY}\n"
    "    timeout_ms: 1000\n"
    "    headers: {OpenAI-Organization: org-1}\n"
    "models:\n"
    "  - name: chat-a\n"
    "    provider: local\n"
    "    upstream_model: scripted-1\n"
    "  - name: vec\n"
    "    provider: local\n"
    "    kind: embedding\n"
    "  - name: gpt\n"
    "    provider: remote\n";

TEST(GatewayConfigTest, BuildsGatewayFromYaml) {
  auto doc = Doc(kGood, {{"KEY", "sk-test-123456"}});
  ASSERT_NE(doc, nullptr);
  auto g = BuildGateway(doc->Root(), Logger::Null());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_TRUE((*g)->HasModel("chat-a"));
  EXPECT_TRUE((*g)->HasModel("vec"));
  EXPECT_TRUE((*g)->HasModel("gpt"));
  EXPECT_FALSE((*g)->HasModel("scripted-1"));

  RequestContext ctx;
  providers::ChatRequest req;
  req.model = "chat-a";
  req.messages.push_back({"user", "hi", std::nullopt, nullptr, std::nullopt});
  auto r = RunSync((*g)->Complete(ctx, req));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->choices.size(), 1u);
  EXPECT_EQ(r->choices[0].message.Text(), "hello from script");
  EXPECT_EQ(r->model, "scripted-1");  // the provider saw the upstream name

  providers::EmbeddingRequest e;
  e.model = "vec";
  e.input = "abc";
  auto er = RunSync((*g)->Embed(ctx, e));
  ASSERT_TRUE(er.ok()) << er.status().ToString();
  ASSERT_EQ(er->data.size(), 1u);
  EXPECT_EQ(er->data[0].size(), 4u);
}

TEST(GatewayConfigTest, BuildProvidersAndRoutes) {
  auto doc = Doc(kGood, {{"KEY", "sk-test-123456"}});
  ASSERT_NE(doc, nullptr);
  auto ps = BuildProviders(doc->Root());
  ASSERT_TRUE(ps.ok()) << ps.status().ToString();
  ASSERT_EQ(ps->size(), 2u);
  EXPECT_EQ((*ps)[0].name, "local");
  EXPECT_EQ((*ps)[0].type, "scripted");
  EXPECT_NE((*ps)[0].chat, nullptr);
  EXPECT_NE((*ps)[0].embedding, nullptr);
  auto* scripted = dynamic_cast<providers::ScriptedProvider*>((*ps)[0].chat.get());
  ASSERT_NE(scripted, nullptr);
  EXPECT_EQ(scripted->options().reply, "hello from script");
  EXPECT_EQ(scripted->options().embedding_dimensions, 4u);
  EXPECT_EQ((*ps)[1].type, "openai");

  auto routes = ParseModelRoutes(doc->Root());
  ASSERT_TRUE(routes.ok()) << routes.status().ToString();
  ASSERT_EQ(routes->size(), 3u);
  EXPECT_EQ((*routes)[0].name, "chat-a");
  EXPECT_EQ((*routes)[0].upstream_model, "scripted-1");
  EXPECT_EQ((*routes)[0].kind, ModelKind::kChat);
  EXPECT_EQ((*routes)[1].kind, ModelKind::kEmbedding);
  EXPECT_EQ((*routes)[2].provider, "remote");
}

TEST(GatewayConfigTest, BadProviderTypeNamesFileLineKey) {
  Status s = BuildError(
      "providers:\n"
      "  - name: x\n"
      "    type: carrier-pigeon\n");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("gw.yaml:3: providers[0].type"));
}

TEST(GatewayConfigTest, UnknownProviderKeyNamesFileLineKey) {
  Status s = BuildError(
      "providers:\n"
      "  - name: x\n"
      "    type: scripted\n"
      "    replly: typo\n");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("gw.yaml:4: providers[0].replly: unknown key"));

  Status o = BuildError(
      "providers:\n"
      "  - name: x\n"
      "    base_url: http://localhost:1\n"
      "    timeout: 5\n");
  EXPECT_THAT(o.message(), HasSubstr("gw.yaml:4: providers[0].timeout: unknown key"));
}

TEST(GatewayConfigTest, ModelErrorsNameFileLineKey) {
  const std::string providers =
      "providers:\n"
      "  - name: p\n"
      "    type: scripted\n";
  Status key = BuildError(providers +
                          "models:\n"
                          "  - name: m\n"
                          "    provider: p\n"
                          "    upstream: x\n");
  EXPECT_THAT(key.message(), HasSubstr("gw.yaml:7: models[0].upstream: unknown key"));

  Status kind = BuildError(providers +
                           "models:\n"
                           "  - name: m\n"
                           "    provider: p\n"
                           "    kind: image\n");
  EXPECT_THAT(kind.message(), HasSubstr("gw.yaml:7: models[0].kind"));

  Status missing = BuildError(providers +
                              "models:\n"
                              "  - provider: p\n");
  EXPECT_THAT(missing.message(), HasSubstr("models[0].name: missing required key"));

  Status unknown = BuildError(providers +
                              "models:\n"
                              "  - name: m\n"
                              "    provider: nope\n");
  EXPECT_EQ(unknown.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.message(), HasSubstr("gw.yaml:5: models"));
  EXPECT_THAT(unknown.message(), HasSubstr("nope"));
}

TEST(GatewayConfigTest, ProviderValueErrors) {
  Status url = BuildError(
      "providers:\n"
      "  - name: x\n"
      "    base_url: ftp://example.com\n");
  EXPECT_THAT(url.message(), HasSubstr("gw.yaml:3: providers[0].base_url"));

  Status timeout = BuildError(
      "providers:\n"
      "  - name: x\n"
      "    base_url: http://example.com\n"
      "    timeout_ms: 0\n");
  EXPECT_THAT(timeout.message(), HasSubstr("gw.yaml:4: providers[0].timeout_ms: must be between"));

  Status tls = BuildError(
      "providers:\n"
      "  - name: x\n"
      "    base_url: http://example.com\n"
      "    verify_tls: sometimes\n");
  EXPECT_THAT(tls.message(), HasSubstr("gw.yaml:4: providers[0].verify_tls"));

  Status delay = BuildError(
      "providers:\n"
      "  - name: x\n"
      "    type: scripted\n"
      "    token_delay_ms: -1\n");
  EXPECT_THAT(delay.message(), HasSubstr("gw.yaml:4: providers[0].token_delay_ms"));
}

TEST(GatewayConfigTest, EnvValuesDoNotLeakIntoErrors) {
  const std::string secret = "zz-S3CRET-base";
  Status s = BuildError(
      "providers:\n"
      "  - name: x\n"
      "    base_url: ${BASE}\n",
      {{"BASE", "http://user:" + secret + "@example.com"}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("gw.yaml:3: providers[0].base_url"));
  EXPECT_THAT(s.message(), Not(HasSubstr(secret)));

  Status port = BuildError(
      "providers:\n"
      "  - name: x\n"
      "    base_url: ${BASE}\n",
      {{"BASE", "http://example.com:" + secret}});
  EXPECT_THAT(port.message(), HasSubstr("gw.yaml:3: providers[0].base_url"));
  EXPECT_THAT(port.message(), Not(HasSubstr(secret)));

  Status scheme = BuildError(
      "providers:\n"
      "  - name: x\n"
      "    base_url: ${BASE}\n",
      {{"BASE", "api.example.com/v1?token=" + secret}});
  EXPECT_THAT(scheme.message(), HasSubstr("gw.yaml:3: providers[0].base_url"));
  EXPECT_THAT(scheme.message(), Not(HasSubstr(secret)));
}

}  // namespace
}  // namespace gantry::gateway
