#include "gateway/gateway.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_chat_model.h"
#include "fakes/run_sync.h"

namespace gantry::gateway {
namespace {

using gantry::testing::FakeChatModel;
using gantry::testing::RunSync;
using ::testing::HasSubstr;

providers::ChatRequest ChatFor(const std::string& model) {
  providers::ChatRequest r;
  r.model = model;
  providers::ChatMessage m;
  m.role = "user";
  m.content = "hi";
  r.messages.push_back(std::move(m));
  return r;
}

providers::EmbeddingRequest EmbedFor(const std::string& model) {
  providers::EmbeddingRequest r;
  r.model = model;
  r.input = "text";
  return r;
}

ModelRoute Route(std::string name, std::string provider, std::string upstream = "",
                 ModelKind kind = ModelKind::kChat) {
  ModelRoute r;
  r.name = std::move(name);
  r.provider = std::move(provider);
  r.upstream_model = std::move(upstream);
  r.kind = kind;
  return r;
}

class GatewayTest : public ::testing::Test {
 protected:
  GatewayTest() : fake_(std::make_shared<FakeChatModel>()) {}

  ProviderHandle Both(const std::string& name) { return {name, "fake", fake_, fake_}; }

  std::unique_ptr<Gateway> MustCreate(std::vector<ModelRoute> routes) {
    std::vector<ProviderHandle> ps;
    ps.push_back(Both("p1"));
    auto g = Gateway::Create(std::move(ps), std::move(routes), Logger::Null());
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? std::move(*g) : nullptr;
  }

  std::shared_ptr<FakeChatModel> fake_;
  RequestContext ctx_;
};

TEST_F(GatewayTest, CreateRejectsUnknownProvider) {
  std::vector<ProviderHandle> ps{Both("p1")};
  auto g = Gateway::Create(ps, {Route("m", "nope")}, Logger::Null());
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(g.status().message(), HasSubstr("nope"));
}

TEST_F(GatewayTest, CreateRejectsDuplicateModelAndProvider) {
  std::vector<ProviderHandle> ps{Both("p1")};
  auto g = Gateway::Create(ps, {Route("m", "p1"), Route("m", "p1")}, Logger::Null());
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(g.status().message(), HasSubstr("'m'"));

  auto dup = Gateway::Create({Both("p1"), Both("p1")}, {}, Logger::Null());
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GatewayTest, CreateRejectsWrongKind) {
  ProviderHandle chat_only{"c", "fake", fake_, nullptr};
  ProviderHandle embed_only{"e", "fake", nullptr, fake_};
  auto a =
      Gateway::Create({chat_only}, {Route("m", "c", "", ModelKind::kEmbedding)}, Logger::Null());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("embeddings"));
  auto b = Gateway::Create({embed_only}, {Route("m", "e")}, Logger::Null());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(b.status().message(), HasSubstr("chat"));
  auto ok = Gateway::Create({chat_only, embed_only},
                            {Route("m", "c"), Route("v", "e", "", ModelKind::kEmbedding)},
                            Logger::Null());
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST_F(GatewayTest, UnknownModelIsNotFound) {
  auto g = MustCreate({Route("m", "p1")});
  ASSERT_NE(g, nullptr);
  EXPECT_FALSE(g->HasModel("other"));
  auto r = RunSync(g->Complete(ctx_, ChatFor("other")));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("other"));
  EXPECT_EQ(RunSync(g->Stream(ctx_, ChatFor("other"))).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(RunSync(g->Embed(ctx_, EmbedFor("other"))).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(fake_->chat_requests().empty());
  EXPECT_TRUE(fake_->embedding_requests().empty());
}

TEST_F(GatewayTest, WrongEndpointForModelKind) {
  auto g = MustCreate({Route("chat", "p1"), Route("emb", "p1", "", ModelKind::kEmbedding)});
  ASSERT_NE(g, nullptr);
  auto e = RunSync(g->Embed(ctx_, EmbedFor("chat")));
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(e.status().message(), HasSubstr("chat model"));
  auto c = RunSync(g->Complete(ctx_, ChatFor("emb")));
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RunSync(g->Stream(ctx_, ChatFor("emb"))).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(fake_->chat_requests().empty());
  EXPECT_TRUE(fake_->embedding_requests().empty());
}

TEST_F(GatewayTest, ProviderReceivesUpstreamModel) {
  auto g = MustCreate({Route("alias", "p1", "real-model"), Route("same", "p1"),
                       Route("vec", "p1", "real-embed", ModelKind::kEmbedding)});
  ASSERT_NE(g, nullptr);
  auto r = RunSync(g->Complete(ctx_, ChatFor("alias")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model, "alias");  // filled in when the provider leaves it empty
  ASSERT_TRUE(RunSync(g->Complete(ctx_, ChatFor("same"))).ok());
  ASSERT_TRUE(RunSync(g->Stream(ctx_, ChatFor("alias"))).ok());
  auto reqs = fake_->chat_requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].model, "real-model");
  EXPECT_EQ(reqs[0].messages.size(), 1u);
  EXPECT_EQ(reqs[1].model, "same");  // upstream_model defaults to the name
  EXPECT_EQ(reqs[2].model, "real-model");

  auto e = RunSync(g->Embed(ctx_, EmbedFor("vec")));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->model, "vec");
  ASSERT_EQ(fake_->embedding_requests().size(), 1u);
  EXPECT_EQ(fake_->embedding_requests()[0].model, "real-embed");
}

TEST_F(GatewayTest, ProviderModelNameIsKeptWhenSet) {
  fake_->response_model = "real-model-2024";
  auto g = MustCreate({Route("alias", "p1", "real-model")});
  ASSERT_NE(g, nullptr);
  auto r = RunSync(g->Complete(ctx_, ChatFor("alias")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->model, "real-model-2024");
}

TEST_F(GatewayTest, ProviderErrorsPassThrough) {
  fake_->error = ResourceExhausted("busy");
  auto g = MustCreate({Route("m", "p1")});
  ASSERT_NE(g, nullptr);
  auto r = RunSync(g->Complete(ctx_, ChatFor("m")));
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(r.status().message(), "busy");
}

TEST_F(GatewayTest, ListModels) {
  std::vector<ModelRoute> routes{Route("b-model", "p1"), Route("a-model", "p1")};
  routes[0].created = 1700000000;
  auto g = MustCreate(std::move(routes));
  ASSERT_NE(g, nullptr);
  auto models = g->ListModels();
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].id, "a-model");
  EXPECT_EQ(models[1].id, "b-model");
  EXPECT_EQ(models[1].owned_by, "gantry:p1");
  EXPECT_EQ(models[1].created, 1700000000);
}

}  // namespace
}  // namespace gantry::gateway
