#include "rag/rag_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "fakes/fake_embedding_model.h"
#include "fakes/run_sync.h"
#include "store/document_store.h"

namespace gantry::rag {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using Json = nlohmann::json;
using namespace std::string_literals;

constexpr int kDim = 64;
constexpr SearchMode kAllModes[] = {SearchMode::kLexical, SearchMode::kDense, SearchMode::kHybrid};

const char kParis[] = "Paris is the capital of France. The Eiffel tower stands in Paris.";
const char kBerlin[] = "Berlin is the capital of Germany. The Brandenburg gate stands in Berlin.";
const char kTokyo[] = "Tokyo is the capital of Japan. Sushi and ramen are popular in Tokyo.";
const char kRome[] = "Rome is the capital of Italy. The Colosseum stands in Rome.";

RequestContext Ctx(std::string tenant = "acme", std::string key_id = "",
                   std::vector<std::string> principals = {}, bool all_documents = false) {
  RequestContext c;
  c.tenant = std::move(tenant);
  c.key_id = std::move(key_id);
  c.principals = std::move(principals);
  c.all_documents = all_documents;
  return c;
}

std::vector<std::string> DocIds(const std::vector<SearchHit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(h.chunk.doc_id);
  return out;
}

class FakeReranker final : public Reranker {
 public:
  // Scores passages in reverse order: the last candidate becomes the best.
  providers::Awaitable<Result<std::vector<double>>> Score(
      const RequestContext&, const std::string& query,
      const std::vector<std::string>& passages) override {
    queries.push_back(query);
    std::vector<double> s;
    for (size_t i = 0; i < passages.size(); ++i) s.push_back(static_cast<double>(i));
    co_return s;
  }
  std::vector<std::string> queries;
};

class RagServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "gantry_rag_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    db_path_ = (dir_ / "rag.db").string();
    data_dir_ = (dir_ / "data").string();
    Open();
  }
  void TearDown() override {
    service_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  RagServiceOptions Options() const {
    RagServiceOptions o;
    o.data_dir = data_dir_;
    o.default_dim = kDim;
    o.default_embedding_model = "fake";
    o.threads = 2;
    o.save_interval = std::chrono::seconds(0);  // saves only by Flush and at destruction
    o.exact_search_max = exact_search_max_;
    return o;
  }

  void Open(LoggerPtr logger = Logger::Null()) { service_ = OpenService(Options(), logger); }

  std::unique_ptr<RagService> OpenService(RagServiceOptions options, LoggerPtr logger) {
    auto store = store::OpenSqliteDocumentStore(db_path_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    auto s = RagService::Open(std::move(*store), gantry::testing::BagOfWordsEmbed(kDim, calls_),
                              std::move(options), std::move(logger));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  Result<IngestOutcome> Ingest(const RequestContext& ctx, const std::string& collection,
                               const std::string& source, const std::string& text,
                               std::vector<std::string> acl = {}, Json metadata = Json::object()) {
    IngestInput in;
    in.source = source;
    in.bytes = text;
    in.acl = std::move(acl);
    in.metadata = std::move(metadata);
    return Await(service_->Ingest(ctx, collection, std::move(in)));
  }
  void MustIngest(const std::string& source, const std::string& text,
                  std::vector<std::string> acl = {}, Json metadata = Json::object(),
                  const std::string& collection = "docs") {
    auto r = Ingest(ctx_, collection, source, text, std::move(acl), std::move(metadata));
    ASSERT_TRUE(r.ok()) << source << ": " << r.status().ToString();
  }

  Result<std::vector<SearchHit>> Search(const RequestContext& ctx, const std::string& query,
                                        SearchMode mode, int k = 5,
                                        std::vector<std::string> collections = {"docs"}) {
    SearchRequest r;
    r.query = query;
    r.mode = mode;
    r.k = k;
    return Await(service_->Search(ctx, collections, std::move(r)));
  }
  std::vector<std::string> SearchIds(const RequestContext& ctx, const std::string& query,
                                     SearchMode mode, int k = 5) {
    auto r = Search(ctx, query, mode, k);
    EXPECT_TRUE(r.ok()) << SearchModeName(mode) << ": " << r.status().ToString();
    return r.ok() ? DocIds(*r) : std::vector<std::string>{};
  }

  std::vector<fs::path> IndexFiles() const {
    std::vector<fs::path> out;
    const fs::path dir = fs::path(data_dir_) / "vectors";
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
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
  std::string db_path_, data_dir_;
  int64_t exact_search_max_ = 4096;
  std::shared_ptr<gantry::testing::EmbedCalls> calls_ =
      std::make_shared<gantry::testing::EmbedCalls>();
  boost::asio::io_context io_;  // before service_: destroyed after it
  std::unique_ptr<RagService> service_;
  RequestContext ctx_ = Ctx();
};

// ------------------------------------------------------------ ingestion

TEST_F(RagServiceTest, IngestAddsThenLeavesUnchangedThenUpdates) {
  auto added = Ingest(ctx_, "docs", "notes/paris.txt", kParis);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->action, IngestOutcome::Action::kAdded);
  EXPECT_STREQ(IngestActionName(added->action), "added");
  EXPECT_EQ(added->document.doc_id, "notes/paris.txt");
  EXPECT_EQ(added->document.version, 1);
  EXPECT_EQ(added->document.format, "txt");
  EXPECT_EQ(added->document.title, "paris.txt");
  EXPECT_GE(added->document.chunk_count, 1);

  const int embedded = calls_->texts;
  auto same = Ingest(ctx_, "docs", "notes/paris.txt", kParis);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->action, IngestOutcome::Action::kUnchanged);
  EXPECT_EQ(same->document.version, 1);
  EXPECT_EQ(calls_->texts, embedded);  // nothing re-embedded

  auto updated = Ingest(ctx_, "docs", "notes/paris.txt",
                        "Paris is the capital of France. The Louvre museum is in Paris.");
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->action, IngestOutcome::Action::kUpdated);
  EXPECT_EQ(updated->document.version, 2);

  for (SearchMode mode : kAllModes) {
    auto old_hits = Search(ctx_, "Eiffel tower", mode);
    ASSERT_TRUE(old_hits.ok()) << old_hits.status().ToString();
    for (const auto& h : *old_hits) {
      EXPECT_THAT(h.chunk.chunk.text, Not(HasSubstr("Eiffel"))) << SearchModeName(mode);
      EXPECT_EQ(h.chunk.version, 2);
    }
    auto new_hits = Search(ctx_, "Louvre museum", mode);
    ASSERT_TRUE(new_hits.ok()) << new_hits.status().ToString();
    ASSERT_FALSE(new_hits->empty()) << SearchModeName(mode);
    EXPECT_THAT((*new_hits)[0].chunk.chunk.text, HasSubstr("Louvre")) << SearchModeName(mode);
    EXPECT_EQ((*new_hits)[0].chunk.version, 2);
  }
  // Lexically the old words are gone entirely.
  auto lex = Search(ctx_, "Eiffel tower", SearchMode::kLexical);
  ASSERT_TRUE(lex.ok());
  EXPECT_TRUE(lex->empty());

  auto docs = Await(service_->ListDocuments(ctx_, "docs", "", 100));
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ((*docs)[0].version, 2);
}

TEST_F(RagServiceTest, IngestValidatesItsInput) {
  IngestInput no_source;
  no_source.bytes = "text";
  EXPECT_EQ(Await(service_->Ingest(ctx_, "docs", no_source)).status().code(),
            StatusCode::kInvalidArgument);
  auto unsupported = Ingest(ctx_, "docs", "photo.png", "not really");
  EXPECT_EQ(unsupported.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(unsupported.status().message(), HasSubstr("photo.png"));
  IngestInput bad_meta;
  bad_meta.source = "a.txt";
  bad_meta.bytes = "hello";
  bad_meta.metadata = Json::array();
  EXPECT_EQ(Await(service_->Ingest(ctx_, "docs", bad_meta)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(RagServiceTest, CorruptDocumentsFailAloneWithInvalidArgument) {
  MustIngest("paris.txt", kParis);
  auto pdf = Ingest(ctx_, "docs", "broken.pdf", "%PDF-1.7\n\x01\x02garbage\x00\xff trailer"s);
  EXPECT_EQ(pdf.status().code(), StatusCode::kInvalidArgument) << pdf.status().ToString();
  auto binary = Ingest(ctx_, "docs", "binary.txt", "abc\x00\x01\x02\x00zzz"s);
  EXPECT_EQ(binary.status().code(), StatusCode::kInvalidArgument) << binary.status().ToString();
  auto empty = Ingest(ctx_, "docs", "empty.txt", "   \n\n  ");
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument) << empty.status().ToString();

  auto docs = Await(service_->ListDocuments(ctx_, "docs", "", 100));
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ((*docs)[0].doc_id, "paris.txt");
  for (SearchMode mode : kAllModes) {
    EXPECT_THAT(SearchIds(ctx_, "Eiffel tower", mode), ElementsAre("paris.txt"))
        << SearchModeName(mode);
  }
}

TEST_F(RagServiceTest, EmbeddingOfTheWrongSizeIsRejected) {
  auto c = Await(service_->CreateCollection(ctx_, "small", Json{{"dim", 32}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto r = Ingest(ctx_, "small", "paris.txt", kParis);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("32"));
  auto docs = Await(service_->ListDocuments(ctx_, "small", "", 100));
  ASSERT_TRUE(docs.ok());
  EXPECT_TRUE(docs->empty());
}

TEST_F(RagServiceTest, DeleteDocumentIsImmediateInEveryMode) {
  MustIngest("paris.txt", kParis);
  MustIngest("berlin.txt", kBerlin);
  for (SearchMode mode : kAllModes)
    ASSERT_THAT(SearchIds(ctx_, "Eiffel tower Paris", mode, 5), Contains("paris.txt"));

  Status s = Await(service_->DeleteDocument(ctx_, "docs", "paris.txt"));
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (SearchMode mode : kAllModes) {
    auto ids = SearchIds(ctx_, "Eiffel tower Paris capital", mode, 5);
    EXPECT_THAT(ids, Not(Contains("paris.txt"))) << SearchModeName(mode);
    EXPECT_THAT(ids, Contains("berlin.txt")) << SearchModeName(mode);
  }
  EXPECT_EQ(Await(service_->DeleteDocument(ctx_, "docs", "paris.txt")).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Await(service_->DeleteDocument(ctx_, "nope", "paris.txt")).code(),
            StatusCode::kNotFound);
}

// ------------------------------------------------------------ access

TEST_F(RagServiceTest, TenantsAreIsolated) {
  const RequestContext a = Ctx("a"), b = Ctx("b");
  ASSERT_TRUE(Ingest(a, "docs", "paris.txt", kParis).ok());
  auto missing = Search(b, "capital", SearchMode::kHybrid);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Await(service_->GetCollection(b, "docs")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Await(service_->DeleteDocument(b, "docs", "paris.txt")).code(), StatusCode::kNotFound);

  ASSERT_TRUE(Ingest(b, "docs", "berlin.txt", kBerlin).ok());
  for (SearchMode mode : kAllModes) {
    EXPECT_THAT(SearchIds(b, "capital city Paris Berlin", mode), ElementsAre("berlin.txt"))
        << SearchModeName(mode);
    EXPECT_THAT(SearchIds(a, "capital city Paris Berlin", mode), ElementsAre("paris.txt"))
        << SearchModeName(mode);
  }
  auto listed = Await(service_->ListCollections(b));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].tenant, "b");
}

class RagServiceAclTest : public RagServiceTest, public ::testing::WithParamInterface<int64_t> {
 protected:
  void SetUp() override {
    exact_search_max_ = GetParam();
    RagServiceTest::SetUp();
  }
};

TEST_P(RagServiceAclTest, AclHidesDocumentsInEveryMode) {
  MustIngest("secret.txt", "Project zebra launch codes are secret.", {"alice"});
  MustIngest("public.txt", "Zebra crossings help pedestrians.");
  const RequestContext bob = Ctx("acme", "bob");
  const RequestContext alice_group = Ctx("acme", "key-9", {"alice"});
  const RequestContext alice_key = Ctx("acme", "alice");
  const RequestContext admin = Ctx("acme", "root", {}, /*all_documents=*/true);
  for (SearchMode mode : kAllModes) {
    SCOPED_TRACE(SearchModeName(mode));
    EXPECT_THAT(SearchIds(bob, "zebra launch codes", mode), ElementsAre("public.txt"));
    EXPECT_THAT(SearchIds(alice_group, "zebra launch codes", mode),
                UnorderedElementsAre("secret.txt", "public.txt"));
    EXPECT_THAT(SearchIds(alice_key, "zebra launch codes", mode),
                UnorderedElementsAre("secret.txt", "public.txt"));
    EXPECT_THAT(SearchIds(admin, "zebra launch codes", mode),
                UnorderedElementsAre("secret.txt", "public.txt"));
  }
  // The best match for alice is the secret document.
  EXPECT_EQ(SearchIds(alice_group, "zebra launch codes", SearchMode::kDense).front(), "secret.txt");
}

INSTANTIATE_TEST_SUITE_P(ExactAndHnsw, RagServiceAclTest, ::testing::Values(4096, 0));

// ------------------------------------------------------------ filters, MMR, rerank

class RagServiceFilterTest : public RagServiceAclTest {};

TEST_P(RagServiceFilterTest, MetadataFilterInDenseMode) {
  // Many German documents match the query well; two English ones weakly.
  for (int i = 0; i < 12; ++i) {
    MustIngest("de" + std::to_string(i) + ".txt",
               "Schnell train timetable station number " + std::to_string(i), {},
               Json{{"lang", "de"}, {"n", i}});
  }
  MustIngest("en1.txt", "Train schedules are posted online.", {}, Json{{"lang", "en"}});
  MustIngest("en2.txt", "The station has a bakery.", {}, Json{{"lang", "en"}});

  SearchRequest r;
  r.query = "schnell train timetable station";
  r.mode = SearchMode::kDense;
  r.k = 5;
  auto unfiltered = Await(service_->Search(ctx_, {"docs"}, r));
  ASSERT_TRUE(unfiltered.ok()) << unfiltered.status().ToString();
  ASSERT_EQ(unfiltered->size(), 5u);
  for (const auto& h : *unfiltered) EXPECT_THAT(h.chunk.doc_id, HasSubstr("de"));

  auto filter = store::MetadataFilter::Parse(Json{{"lang", "en"}});
  ASSERT_TRUE(filter.ok());
  r.filter = *filter;
  auto hits = Await(service_->Search(ctx_, {"docs"}, r));
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_THAT(DocIds(*hits), UnorderedElementsAre("en1.txt", "en2.txt"));
  for (const auto& h : *hits) {
    ASSERT_TRUE(h.dense.has_value());
    EXPECT_DOUBLE_EQ(h.score, *h.dense);
  }
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_GE((*hits)[0].score, (*hits)[1].score);

  auto range = store::MetadataFilter::Parse(Json::parse(R"({"n": {"$gte": 10}})"));
  ASSERT_TRUE(range.ok());
  r.filter = *range;
  hits = Await(service_->Search(ctx_, {"docs"}, r));
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_THAT(DocIds(*hits), UnorderedElementsAre("de10.txt", "de11.txt"));
}

INSTANTIATE_TEST_SUITE_P(ExactAndHnsw, RagServiceFilterTest, ::testing::Values(4096, 0));

TEST_F(RagServiceTest, MmrPrefersDiverseResults) {
  MustIngest("a1.txt", "apple banana cherry");
  MustIngest("a2.txt", "apple banana cherry.");
  MustIngest("b.txt", "apple grape kiwi");
  SearchRequest r;
  r.query = "apple banana";
  r.mode = SearchMode::kDense;
  r.k = 2;
  auto plain = Await(service_->Search(ctx_, {"docs"}, r));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_THAT(DocIds(*plain), UnorderedElementsAre("a1.txt", "a2.txt"));

  r.mmr = true;
  r.mmr_lambda = 0.5;
  auto diverse = Await(service_->Search(ctx_, {"docs"}, r));
  ASSERT_TRUE(diverse.ok()) << diverse.status().ToString();
  ASSERT_EQ(diverse->size(), 2u);
  EXPECT_THAT(DocIds(*diverse)[0], ::testing::AnyOf("a1.txt", "a2.txt"));
  EXPECT_EQ(DocIds(*diverse)[1], "b.txt");
  for (const auto& h : *diverse) EXPECT_TRUE(h.chunk.chunk.embedding.empty());
}

TEST_F(RagServiceTest, RerankReordersCandidates) {
  MustIngest("paris.txt", kParis);
  MustIngest("berlin.txt", kBerlin);
  MustIngest("tokyo.txt", kTokyo);
  SearchRequest r;
  r.query = "capital";
  r.mode = SearchMode::kLexical;
  r.k = 3;
  auto plain = Await(service_->Search(ctx_, {"docs"}, r));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ASSERT_EQ(plain->size(), 3u);

  r.rerank = true;
  auto no_reranker = Await(service_->Search(ctx_, {"docs"}, r));
  EXPECT_EQ(no_reranker.status().code(), StatusCode::kFailedPrecondition);

  auto reranker = std::make_shared<FakeReranker>();
  service_->SetReranker(reranker);
  auto reranked = Await(service_->Search(ctx_, {"docs"}, r));
  ASSERT_TRUE(reranked.ok()) << reranked.status().ToString();
  auto expect = DocIds(*plain);
  std::reverse(expect.begin(), expect.end());
  EXPECT_EQ(DocIds(*reranked), expect);
  ASSERT_EQ(reranked->size(), 3u);
  EXPECT_EQ((*reranked)[0].rerank, 2.0);
  EXPECT_EQ((*reranked)[2].rerank, 0.0);
  EXPECT_THAT(reranker->queries, ElementsAre("capital"));
}

TEST_F(RagServiceTest, SearchesSeveralCollections) {
  MustIngest("paris.txt", kParis, {}, Json::object(), "europe");
  MustIngest("tokyo.txt", kTokyo, {}, Json::object(), "asia");
  SearchRequest r;
  r.query = "capital Tokyo Paris";
  r.k = 5;
  auto hits = Await(service_->Search(ctx_, {"europe", "asia"}, r));
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_THAT(DocIds(*hits), UnorderedElementsAre("paris.txt", "tokyo.txt"));
  for (const auto& h : *hits) {
    EXPECT_EQ(h.collection, h.chunk.doc_id == "paris.txt" ? "europe" : "asia");
  }
  auto missing = Await(service_->Search(ctx_, {"europe", "oceania"}, r));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("oceania"));
}

TEST_F(RagServiceTest, SearchValidatesTheRequest) {
  MustIngest("paris.txt", kParis);
  auto expect_invalid = [&](SearchRequest r, std::vector<std::string> cols = {"docs"}) {
    auto s = Await(service_->Search(ctx_, cols, std::move(r)));
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << s.status().ToString();
  };
  SearchRequest ok;
  ok.query = "paris";
  SearchRequest r = ok;
  r.k = 0;
  expect_invalid(r);
  r.k = 101;
  expect_invalid(r);
  r = ok;
  r.query = "";
  expect_invalid(r);
  r = ok;
  r.mmr_lambda = 1.5;
  expect_invalid(r);
  expect_invalid(ok, {});
  EXPECT_TRUE(ok.Validate().ok());
}

// ------------------------------------------------------------ collections

TEST_F(RagServiceTest, CollectionConfigFromJson) {
  auto d = CollectionConfig::FromJson(nullptr, "fake", 64);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->embedding_model, "fake");
  EXPECT_EQ(d->dim, 64);
  auto full = CollectionConfig::FromJson(
      Json::parse(R"({"chunk_tokens": 128, "chunk_overlap": 16, "prefix_headings": false,
                      "embedding_model": "m", "dim": 32})"),
      "fake", 64);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(full->chunking.max_tokens, 128);
  EXPECT_EQ(full->chunking.overlap_tokens, 16);
  EXPECT_FALSE(full->chunking.prefix_headings);
  EXPECT_EQ(full->embedding_model, "m");
  EXPECT_EQ(full->dim, 32);
  auto round = CollectionConfig::FromJson(full->ToJson(), "other", 8);
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(round->ToJson(), full->ToJson());

  auto expect_error = [](const char* json, const char* names) {
    auto c = CollectionConfig::FromJson(Json::parse(json), "fake", 64);
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(c.status().message(), HasSubstr(names)) << json;
  };
  expect_error(R"({"chunk_size": 100})", "chunk_size");
  expect_error(R"({"chunk_tokens": "big"})", "chunk_tokens");
  expect_error(R"({"chunk_tokens": 8})", "chunk_tokens");
  expect_error(R"({"chunk_tokens": 100.5})", "chunk_tokens");
  expect_error(R"({"dim": 0})", "dim");
  expect_error(R"({"dim": 100000})", "dim");
  expect_error(R"({"prefix_headings": "yes"})", "prefix_headings");
  expect_error(R"({"embedding_model": ""})", "embedding_model");
  expect_error(R"({"embedding_model": 3})", "embedding_model");
  expect_error(R"({"chunk_tokens": 64, "chunk_overlap": 40})", "overlap");
  expect_error(R"([1])", "object");
}

TEST_F(RagServiceTest, CreateCollectionIsIdempotentAndValidates) {
  auto c = Await(service_->CreateCollection(ctx_, "docs", Json{{"chunk_tokens", 100}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto again = Await(service_->CreateCollection(ctx_, "docs", Json{{"chunk_tokens", 300}}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, c->id);
  EXPECT_EQ(Json::parse(again->config_json)["chunk_tokens"], 100);
  EXPECT_EQ(Await(service_->CreateCollection(ctx_, "bad", Json{{"x", 1}})).status().code(),
            StatusCode::kInvalidArgument);

  MustIngest("paris.txt", kParis);
  Status s = Await(service_->DeleteCollection(ctx_, "docs"));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Search(ctx_, "paris", SearchMode::kHybrid).status().code(), StatusCode::kNotFound);
  // A new collection of the same name starts empty.
  MustIngest("berlin.txt", kBerlin);
  EXPECT_THAT(SearchIds(ctx_, "capital Paris Berlin", SearchMode::kDense),
              ElementsAre("berlin.txt"));
}

// ------------------------------------------------------------ persistence

TEST_F(RagServiceTest, IndexesPersistAcrossRestarts) {
  MustIngest("paris.txt", kParis);
  MustIngest("berlin.txt", kBerlin);
  service_.reset();  // flushes
  auto files = IndexFiles();
  EXPECT_EQ(std::count_if(files.begin(), files.end(),
                          [](const fs::path& p) { return p.extension() == ".hnsw"; }),
            1);
  EXPECT_EQ(std::count_if(files.begin(), files.end(),
                          [](const fs::path& p) { return p.extension() == ".meta"; }),
            1);
  Open();
  for (SearchMode mode : kAllModes) {
    EXPECT_EQ(SearchIds(ctx_, "Brandenburg gate", mode).front(), "berlin.txt")
        << SearchModeName(mode);
  }
  EXPECT_EQ(Ingest(ctx_, "docs", "paris.txt", kParis)->action, IngestOutcome::Action::kUnchanged);
}

TEST_F(RagServiceTest, MemoryOnlyIndexesAreRebuiltFromTheStore) {
  service_.reset();
  RagServiceOptions o = Options();
  o.data_dir = "";
  service_ = OpenService(o, Logger::Null());
  MustIngest("paris.txt", kParis);
  MustIngest("berlin.txt", kBerlin);
  service_.reset();
  EXPECT_TRUE(IndexFiles().empty());
  service_ = OpenService(o, Logger::Null());
  EXPECT_EQ(SearchIds(ctx_, "Brandenburg gate", SearchMode::kDense).front(), "berlin.txt");
  EXPECT_EQ(SearchIds(ctx_, "Eiffel tower", SearchMode::kDense).front(), "paris.txt");
}

// Checks that the index answers dense queries for exactly berlin, tokyo, rome.
void ExpectCaughtUp(const std::function<std::vector<std::string>(const std::string&)>& dense) {
  EXPECT_EQ(dense("Sushi ramen Tokyo Japan").front(), "tokyo.txt");
  EXPECT_EQ(dense("Colosseum Rome Italy").front(), "rome.txt");
  EXPECT_EQ(dense("Brandenburg gate Berlin").front(), "berlin.txt");
  EXPECT_THAT(dense("Eiffel tower Paris France capital"),
              UnorderedElementsAre("berlin.txt", "tokyo.txt", "rome.txt"));
}

TEST_F(RagServiceTest, StaleIndexFilesAreCaughtUpAtOpen) {
  MustIngest("paris.txt", kParis);
  MustIngest("berlin.txt", kBerlin);
  ASSERT_TRUE(service_->Flush().ok());
  const fs::path backup = dir_ / "backup";
  fs::create_directories(backup);
  auto files = IndexFiles();
  ASSERT_EQ(files.size(), 2u);
  for (const auto& f : files) fs::copy_file(f, backup / f.filename());

  MustIngest("tokyo.txt", kTokyo);
  MustIngest("rome.txt", kRome);
  ASSERT_TRUE(Await(service_->DeleteDocument(ctx_, "docs", "paris.txt")).ok());
  service_.reset();
  // A crash before the last save: the old index files are what is on disk.
  for (const auto& f : files)
    fs::copy_file(backup / f.filename(), f, fs::copy_options::overwrite_existing);

  Open();
  ExpectCaughtUp([&](const std::string& q) { return SearchIds(ctx_, q, SearchMode::kDense, 10); });
}

TEST_F(RagServiceTest, CatchesUpFromTheChangeLogWithoutRebuilding) {
  MustIngest("paris.txt", kParis);
  MustIngest("berlin.txt", kBerlin);
  ASSERT_TRUE(service_->Flush().ok());
  // A second data dir holding the index as saved now.
  const fs::path other = dir_ / "other";
  fs::create_directories(other / "vectors");
  for (const auto& f : IndexFiles()) fs::copy_file(f, other / "vectors" / f.filename());

  MustIngest("tokyo.txt", kTokyo);
  MustIngest("rome.txt", kRome);
  ASSERT_TRUE(Await(service_->DeleteDocument(ctx_, "docs", "paris.txt")).ok());
  // The first service has not saved since (so the change log is complete); a
  // second one opening the stale files must apply the log, not rebuild.
  std::ostringstream log;
  RagServiceOptions o = Options();
  o.data_dir = other.string();
  auto second = OpenService(o, Logger::ToStream(log, LogLevel::kWarn));
  ASSERT_NE(second, nullptr);
  ExpectCaughtUp([&](const std::string& q) {
    SearchRequest r;
    r.query = q;
    r.mode = SearchMode::kDense;
    r.k = 10;
    auto hits = Await(second->Search(ctx_, {"docs"}, r));
    EXPECT_TRUE(hits.ok()) << hits.status().ToString();
    return hits.ok() ? DocIds(*hits) : std::vector<std::string>{};
  });
  EXPECT_THAT(log.str(), Not(HasSubstr("rebuilding"))) << log.str();
}

TEST_F(RagServiceTest, CorruptIndexFileIsRebuiltAtOpen) {
  MustIngest("paris.txt", kParis);
  MustIngest("berlin.txt", kBerlin);
  MustIngest("tokyo.txt", kTokyo);
  service_.reset();
  fs::path index_file;
  for (const auto& f : IndexFiles())
    if (f.extension() == ".hnsw") index_file = f;
  ASSERT_FALSE(index_file.empty());
  std::string bytes;
  {
    std::ifstream in(index_file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    bytes = ss.str();
  }
  ASSERT_GT(bytes.size(), 100u);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x7f);
  bytes[20] = static_cast<char>(bytes[20] ^ 0x7f);
  {
    std::ofstream out(index_file, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  Open();
  EXPECT_EQ(SearchIds(ctx_, "Sushi ramen", SearchMode::kDense).front(), "tokyo.txt");
  EXPECT_EQ(SearchIds(ctx_, "Eiffel tower", SearchMode::kDense).front(), "paris.txt");
  EXPECT_EQ(SearchIds(ctx_, "Brandenburg gate", SearchMode::kDense).front(), "berlin.txt");
  EXPECT_EQ(SearchIds(ctx_, "capital", SearchMode::kDense, 10).size(), 3u);
}

}  // namespace
}  // namespace gantry::rag
