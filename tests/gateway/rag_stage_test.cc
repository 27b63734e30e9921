#include "gateway/rag_stage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "fakes/fake_embedding_model.h"
#include "fakes/run_sync.h"
#include "providers/scripted_provider.h"
#include "store/document_store.h"

namespace gantry::gateway {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr int kDim = 64;
constexpr char kReply[] = "Paris is the capital [1]. Also [7].";
constexpr char kChecked[] = "Paris is the capital [1]. Also.";

providers::Awaitable<Result<std::vector<providers::ChatChunk>>> Drain(providers::ChatStream& s) {
  std::vector<providers::ChatChunk> out;
  while (true) {
    auto next = co_await s.Next();
    if (!next.ok()) co_return next.status();
    if (!next->has_value()) break;
    out.push_back(std::move(**next));
  }
  co_return out;
}

std::string Content(const std::vector<providers::ChatChunk>& chunks) {
  std::string text;
  for (const auto& c : chunks)
    for (const auto& ch : c.choices) text += ch.delta.content.value_or("");
  return text;
}

providers::ChatMessage Msg(std::string role, std::string content) {
  providers::ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

class RagStageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "gantry_rag_stage_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto store = store::OpenSqliteDocumentStore((dir_ / "rag.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    rag::RagServiceOptions o;
    o.data_dir = "";  // indexes in memory
    o.default_dim = kDim;
    o.default_embedding_model = "fake";
    o.save_interval = std::chrono::seconds(0);
    auto s = rag::RagService::Open(std::move(*store), gantry::testing::BagOfWordsEmbed(kDim),
                                   std::move(o), Logger::Null());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    service_ = std::move(*s);
    Ingest("paris.txt", "Paris is the capital of France. The Eiffel tower is in Paris.");
    Ingest("berlin.txt", "Berlin is the capital of Germany. The Brandenburg gate is in Berlin.");
  }
  void TearDown() override {
    service_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Ingest(const std::string& source, const std::string& text) {
    rag::IngestInput in;
    in.source = source;
    in.bytes = text;
    auto r = Await(service_->Ingest(ctx_, "docs", std::move(in)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  providers::ChatRequest Request(Json rag,
                                 std::string question = "What is the capital of France?") {
    providers::ChatRequest r;
    r.model = "m";
    r.messages = {Msg("system", "Be brief."), Msg("user", std::move(question))};
    r.extra = Json{{"other_extension", 1}};
    if (!rag.is_discarded()) r.extra["rag"] = std::move(rag);
    return r;
  }

  RagPlan MustPrepare(providers::ChatRequest& r) {
    auto plan = Await(PrepareRag(service_.get(), ctx_, r));
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    if (!plan.ok() || !plan->has_value()) {
      ADD_FAILURE() << "no plan";
      return {};
    }
    return std::move(**plan);
  }

  // Runs a coroutine on the fixture's io_context. Not RunSync: its per-call
  // io_context can be destroyed while a pool thread still holds an OnPool
  // mailbox (and its timer) bound to it, a use-after-free under ASan. This one
  // outlives the service, whose destructor joins the pool.
  template <typename T>
  T Await(boost::asio::awaitable<T> aw) {
    io_.restart();
    auto fut = boost::asio::co_spawn(io_, gantry::testing::WrapOptional(std::move(aw)),
                                     boost::asio::use_future);
    io_.run();
    return std::move(*fut.get());
  }

  fs::path dir_;
  boost::asio::io_context io_;  // before service_: destroyed after it
  std::unique_ptr<rag::RagService> service_;
  RequestContext ctx_;
  providers::ScriptedProvider provider_{providers::ScriptedOptions{.reply = kReply}};
};

TEST_F(RagStageTest, PrepareGroundsTheMessages) {
  auto r = Request(Json{{"collections", {"docs"}}, {"k", 3}});
  const RagPlan plan = MustPrepare(r);
  ASSERT_TRUE(plan.answerable());
  ASSERT_EQ(plan.sources.size(), 2u);
  EXPECT_EQ(plan.sources[0].number, 1);
  EXPECT_EQ(plan.sources[0].hit.chunk.doc_id, "paris.txt");
  EXPECT_EQ(plan.sources[1].number, 2);

  // rag is consumed; other extensions pass through.
  EXPECT_FALSE(r.extra.contains("rag"));
  EXPECT_EQ(r.extra["other_extension"], 1);
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].content, "Be brief.");
  EXPECT_EQ(r.messages[1].role, "system");
  const std::string grounding = r.messages[1].content.get<std::string>();
  EXPECT_THAT(grounding, HasSubstr("[1] paris.txt\nParis is the capital of France."));
  EXPECT_THAT(grounding, HasSubstr("[2] berlin.txt"));
  EXPECT_EQ(r.messages[2].role, "user");
  EXPECT_EQ(r.messages[2].content, "What is the capital of France?");
}

TEST_F(RagStageTest, FinishRemovesInvalidCitations) {
  auto r = Request(Json{{"collections", "docs"}});
  const RagPlan plan = MustPrepare(r);
  ASSERT_TRUE(plan.answerable());
  ASSERT_LT(plan.sources.size(), 7u);
  auto response = Await(provider_.Complete(ctx_, r));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  ASSERT_EQ(response->choices[0].message.content, kReply);

  FinishRag(plan, *response);
  EXPECT_EQ(response->choices[0].message.content, kChecked);
  const Json& report = response->extra["rag"];
  EXPECT_EQ(report["grounded"], true);
  EXPECT_EQ(report["citations"], Json::array({1}));
  EXPECT_EQ(report["invalid_citations"], Json::array({7}));
  ASSERT_EQ(report["sources"].size(), plan.sources.size());
  EXPECT_EQ(report["sources"][0]["doc_id"], "paris.txt");
  EXPECT_EQ(report["sources"][0]["cited"], true);
  EXPECT_EQ(report["sources"][1]["cited"], false);
}

TEST_F(RagStageTest, WrappedStreamChecksCitationsLikeFinish) {
  auto r = Request(Json{{"collections", "docs"}});
  r.stream = true;
  r.include_usage = true;
  const RagPlan plan = MustPrepare(r);
  ASSERT_TRUE(plan.answerable());
  auto inner = Await(provider_.Stream(ctx_, r));
  ASSERT_TRUE(inner.ok()) << inner.status().ToString();
  auto wrapped = WrapRagStream(std::move(*inner), plan);
  auto chunks = Await(Drain(*wrapped));
  ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
  EXPECT_EQ(Content(*chunks), kChecked);

  // The report rides on the chunk with the finish reason, and only there.
  int reports = 0;
  for (const auto& c : *chunks) {
    const bool finishing =
        std::any_of(c.choices.begin(), c.choices.end(),
                    [](const providers::ChunkChoice& ch) { return ch.finish_reason.has_value(); });
    if (c.extra.contains("rag")) {
      ++reports;
      EXPECT_TRUE(finishing);
      EXPECT_EQ(c.extra["rag"]["grounded"], true);
      EXPECT_EQ(c.extra["rag"]["citations"], Json::array({1}));
      EXPECT_EQ(c.extra["rag"]["invalid_citations"], Json::array({7}));
    } else {
      EXPECT_FALSE(finishing);
    }
  }
  EXPECT_EQ(reports, 1);
  // The usage chunk still comes last.
  ASSERT_FALSE(chunks->empty());
  EXPECT_TRUE(chunks->back().usage.has_value());
}

TEST_F(RagStageTest, StreamWithoutFinishReasonGetsAFinalReport) {
  RagPlan plan;
  plan.sources.resize(1);
  plan.sources[0].number = 1;
  // A stream that ends without a finish reason, holding back an open "[".
  class Bare final : public providers::ChatStream {
   public:
    providers::Awaitable<Result<std::optional<providers::ChatChunk>>> Next() override {
      if (sent_++ > 0) co_return std::optional<providers::ChatChunk>();
      providers::ChatChunk c;
      c.id = "x";
      providers::ChunkChoice ch;
      ch.delta.content = "see [1] and [";
      c.choices.push_back(std::move(ch));
      co_return std::optional<providers::ChatChunk>(std::move(c));
    }
    int sent_ = 0;
  };
  auto wrapped = WrapRagStream(std::make_unique<Bare>(), plan);
  auto chunks = Await(Drain(*wrapped));
  ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
  ASSERT_EQ(chunks->size(), 2u);
  EXPECT_EQ(Content(*chunks), "see [1] and [");
  EXPECT_EQ((*chunks)[1].id, "x");
  EXPECT_EQ((*chunks)[1].extra["rag"]["citations"], Json::array({1}));
}

TEST_F(RagStageTest, NothingRelevantGivesDontKnow) {
  auto r = Request(Json{{"collections", "docs"}, {"mode", "dense"}, {"min_similarity", 0.95}},
                   "quantum chromodynamics lattice");
  const auto original = r.messages;
  const RagPlan plan = MustPrepare(r);
  EXPECT_FALSE(plan.answerable());
  EXPECT_TRUE(plan.sources.empty());
  ASSERT_EQ(r.messages.size(), original.size());  // not grounded
  EXPECT_FALSE(r.extra.contains("rag"));

  const auto response = DontKnowResponse(ctx_, r, plan);
  ASSERT_EQ(response.choices.size(), 1u);
  EXPECT_EQ(response.choices[0].message.content, std::string(rag::kDontKnowAnswer));
  EXPECT_EQ(response.choices[0].finish_reason, "stop");
  EXPECT_EQ(response.model, "m");
  EXPECT_FALSE(response.id.empty());
  EXPECT_EQ(response.extra.at("rag")["grounded"], false);
  EXPECT_TRUE(response.extra.at("rag")["sources"].empty());

  r.include_usage = true;
  auto stream = DontKnowStream(ctx_, r, plan);
  auto chunks = Await(Drain(*stream));
  ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
  EXPECT_EQ(Content(*chunks), std::string(rag::kDontKnowAnswer));
  ASSERT_EQ(chunks->size(), 3u);
  EXPECT_EQ((*chunks)[0].choices[0].delta.role, "assistant");
  EXPECT_EQ((*chunks)[1].choices[0].finish_reason, "stop");
  EXPECT_EQ((*chunks)[1].extra["rag"]["grounded"], false);
  EXPECT_TRUE((*chunks)[2].usage.has_value());
  EXPECT_TRUE((*chunks)[2].choices.empty());

  r.include_usage = false;
  auto no_usage = Await(Drain(*DontKnowStream(ctx_, r, plan)));
  ASSERT_TRUE(no_usage.ok());
  EXPECT_EQ(no_usage->size(), 2u);
}

TEST_F(RagStageTest, NoRagFieldIsNotAPlan) {
  auto r = Request(Json(Json::value_t::discarded));
  const auto before = r.messages;
  auto plan = Await(PrepareRag(service_.get(), ctx_, r));
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->has_value());
  EXPECT_EQ(r.messages.size(), before.size());

  // Without a service, too.
  auto none = Await(PrepareRag(nullptr, ctx_, r));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // "rag": null is no rag, and is not sent on.
  auto null_rag = Request(nullptr);
  auto p = Await(PrepareRag(service_.get(), ctx_, null_rag));
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->has_value());
  EXPECT_FALSE(null_rag.extra.contains("rag"));
}

TEST_F(RagStageTest, RagWithoutAServiceIsAFailedPrecondition) {
  auto r = Request(Json{{"collections", "docs"}});
  auto plan = Await(PrepareRag(nullptr, ctx_, r));
  EXPECT_EQ(plan.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(plan.status().message(), HasSubstr("rag"));
}

TEST_F(RagStageTest, PrepareReportsBadRequests) {
  auto bad = Request(Json{{"collections", "docs"}, {"k", "five"}});
  auto p = Await(PrepareRag(service_.get(), ctx_, bad));
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("rag.k"));

  auto no_user = Request(Json{{"collections", "docs"}});
  no_user.messages = {Msg("system", "only")};
  EXPECT_EQ(Await(PrepareRag(service_.get(), ctx_, no_user)).status().code(),
            StatusCode::kInvalidArgument);

  auto missing = Request(Json{{"collections", {"docs", "nope"}}});
  auto m = Await(PrepareRag(service_.get(), ctx_, missing));
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(m.status().message(), HasSubstr("nope"));

  // Another tenant does not see this tenant's collection.
  RequestContext other = ctx_;
  other.tenant = "someone-else";
  auto r = Request(Json{{"collections", "docs"}});
  EXPECT_EQ(Await(PrepareRag(service_.get(), other, r)).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace gantry::gateway
