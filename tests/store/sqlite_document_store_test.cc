#include "store/sqlite_document_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/database.h"

namespace gantry::store {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

ChunkRecord MakeChunk(int ordinal, std::string text, std::vector<float> embedding = {}) {
  ChunkRecord c;
  c.ordinal = ordinal;
  c.text = std::move(text);
  c.byte_start = ordinal * 100;
  c.byte_end = ordinal * 100 + 50;
  c.token_count = 10;
  c.embedding = std::move(embedding);
  return c;
}

DocumentRecord MakeDoc(std::string doc_id, std::string metadata = "{}",
                       std::vector<std::string> acl = {}) {
  DocumentRecord d;
  d.doc_id = doc_id;
  d.source = "docs/" + doc_id + ".md";
  d.title = "Title " + doc_id;
  d.content_hash = "abc";
  d.format = "md";
  d.bytes = 123;
  d.metadata_json = std::move(metadata);
  d.acl = std::move(acl);
  return d;
}

class SqliteDocumentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "gantry_store_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "store.db").string();
    Reopen();
    auto c = store_->CreateCollection("acme", "docs", R"({"chunk_tokens": 256})");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    coll_ = *c;
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void Reopen() {
    store_.reset();
    auto s = OpenSqliteDocumentStore(path_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  AccessScope Scope(std::vector<std::string> principals = {}) const {
    AccessScope s;
    s.tenant = "acme";
    s.collection_id = coll_.id;
    s.principals = std::move(principals);
    return s;
  }

  DocumentRecord Put(const DocumentRecord& doc, std::vector<ChunkRecord> chunks,
                     int64_t collection_id = 0) {
    auto r = store_->ReplaceDocument(collection_id ? collection_id : coll_.id, doc, chunks);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : DocumentRecord{};
  }

  std::vector<std::string> SearchDocIds(const AccessScope& scope, const std::string& q,
                                        int k = 10) {
    auto r = store_->LexicalSearch(scope, q, k);
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().ToString();
    std::vector<std::string> out;
    if (r.ok()) {
      for (const ChunkView& v : *r) out.push_back(v.doc_id);
    }
    return out;
  }

  // Doc ids of every chunk `scope` can see, through GetChunks.
  std::set<std::string> VisibleDocs(const AccessScope& scope) {
    std::vector<int64_t> ids;
    for (int64_t i = 1; i <= 500; ++i) ids.push_back(i);
    auto r = store_->GetChunks(scope, ids, false);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::set<std::string> out;
    if (r.ok()) {
      for (const ChunkView& v : *r) out.insert(v.doc_id);
    }
    return out;
  }

  fs::path dir_;
  std::string path_;
  std::unique_ptr<DocumentStore> store_;
  CollectionRecord coll_;
};

// ------------------------------------------------------------ collections

TEST_F(SqliteDocumentStoreTest, CreateCollectionIsIdempotent) {
  EXPECT_EQ(coll_.tenant, "acme");
  EXPECT_EQ(coll_.name, "docs");
  EXPECT_EQ(json::parse(coll_.config_json)["chunk_tokens"], 256);
  EXPECT_GT(coll_.created_at, 0);
  auto again = store_->CreateCollection("acme", "docs", R"({"other": 1})");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, coll_.id);
  EXPECT_EQ(again->config_json, coll_.config_json);  // unchanged
}

TEST_F(SqliteDocumentStoreTest, CollectionValidation) {
  for (const std::string& name :
       std::vector<std::string>{"", "has space", "slash/name", "semi;colon", std::string(65, 'a'),
                                std::string("caf\xC3\xA9")}) {
    auto r = store_->CreateCollection("acme", name, "{}");
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << name;
  }
  EXPECT_TRUE(store_->CreateCollection("acme", std::string(64, 'a'), "").ok());
  EXPECT_TRUE(store_->CreateCollection("acme", "A-b_c.9", "{}").ok());
  EXPECT_EQ(store_->CreateCollection("", "x", "{}").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateCollection("acme", "x", "{bad").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateCollection("acme", "x", "[1]").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(SqliteDocumentStoreTest, CollectionsArePerTenant) {
  auto other = store_->CreateCollection("globex", "docs", "{}");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->id, coll_.id);
  auto missing = store_->GetCollection("initech", "docs");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto got = store_->GetCollection("globex", "docs");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->id, other->id);
  EXPECT_EQ(store_->GetCollection("acme", "nope").status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(store_->CreateCollection("acme", "alpha", "{}").ok());
  auto list = store_->ListCollections("acme");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alpha");
  EXPECT_EQ((*list)[1].name, "docs");
  auto all = store_->AllCollections();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);

  // Deleting another tenant's collection by name does nothing.
  EXPECT_EQ(store_->DeleteCollection("initech", "docs").code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetCollection("acme", "docs").ok());
}

TEST_F(SqliteDocumentStoreTest, CollectionCounts) {
  Put(MakeDoc("a"), {MakeChunk(0, "one"), MakeChunk(1, "two")});
  Put(MakeDoc("b"), {MakeChunk(0, "three")});
  auto c = store_->GetCollection("acme", "docs");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->document_count, 2);
  EXPECT_EQ(c->chunk_count, 3);
  EXPECT_EQ(c->vector_seq, 2);
}

TEST_F(SqliteDocumentStoreTest, DeleteCollectionRemovesEverythingInIt) {
  auto other = store_->CreateCollection("globex", "docs", "{}");
  ASSERT_TRUE(other.ok());
  Put(MakeDoc("a"), {MakeChunk(0, "shared words here", {1, 0})});
  Put(MakeDoc("a"), {MakeChunk(0, "shared words there", {0, 1})}, other->id);
  ASSERT_TRUE(store_->DeleteCollection("acme", "docs").ok());
  EXPECT_EQ(store_->GetCollection("acme", "docs").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteCollection("acme", "docs").code(), StatusCode::kNotFound);
  auto doc = store_->GetDocument(coll_.id, "a");
  ASSERT_TRUE(doc.ok());
  EXPECT_FALSE(doc->has_value());
  auto emb = store_->ChunkEmbeddings(coll_.id, 0, 100);
  ASSERT_TRUE(emb.ok());
  EXPECT_TRUE(emb->empty());

  // The other tenant's collection is untouched, and its FTS rows still work.
  AccessScope g;
  g.tenant = "globex";
  g.collection_id = other->id;
  EXPECT_EQ(SearchDocIds(g, "shared"), std::vector<std::string>{"a"});

  // No FTS rows are left behind for the deleted chunks.
  auto db = Database::Open({.path = path_});
  ASSERT_TRUE(db.ok());
  auto s = (*db)->Prepare("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'here'");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Int(0), 0);
  ASSERT_TRUE((*db)->Exec("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')").ok());
}

// -------------------------------------------------------------- documents

TEST_F(SqliteDocumentStoreTest, ReplaceDocumentAssignsIdsAndVersions) {
  std::vector<ChunkRecord> chunks = {MakeChunk(0, "alpha"), MakeChunk(1, "beta")};
  DocumentRecord in = MakeDoc("a", R"({"lang": "en"})", {"alice"});
  auto v1 = store_->ReplaceDocument(coll_.id, in, chunks);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->version, 1);
  EXPECT_GT(v1->id, 0);
  EXPECT_EQ(v1->collection_id, coll_.id);
  EXPECT_EQ(v1->chunk_count, 2);
  EXPECT_GT(v1->ingested_at, 0);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_GT(chunks[0].id, 0);
  EXPECT_GT(chunks[1].id, chunks[0].id);
  EXPECT_EQ(chunks[0].document_id, v1->id);

  std::vector<ChunkRecord> chunks2 = {MakeChunk(0, "gamma")};
  auto v2 = store_->ReplaceDocument(coll_.id, in, chunks2);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->version, 2);
  EXPECT_NE(v2->id, v1->id);
  EXPECT_GT(chunks2[0].id, chunks[1].id);  // ids never reused

  auto got = store_->GetDocument(coll_.id, "a");
  ASSERT_TRUE(got.ok() && got->has_value());
  const DocumentRecord& d = **got;
  EXPECT_EQ(d.id, v2->id);
  EXPECT_EQ(d.version, 2);
  EXPECT_EQ(d.source, "docs/a.md");
  EXPECT_EQ(d.title, "Title a");
  EXPECT_EQ(d.content_hash, "abc");
  EXPECT_EQ(d.format, "md");
  EXPECT_EQ(d.bytes, 123);
  EXPECT_EQ(json::parse(d.metadata_json), json::parse(R"({"lang": "en"})"));
  EXPECT_EQ(d.acl, std::vector<std::string>{"alice"});
  EXPECT_EQ(d.chunk_count, 1);
  EXPECT_EQ(SearchDocIds(Scope({"alice"}), "alpha").size(), 0u);
  EXPECT_EQ(SearchDocIds(Scope({"alice"}), "gamma"), std::vector<std::string>{"a"});
}

TEST_F(SqliteDocumentStoreTest, ChunkIdsNotReusedAfterDeletingTheNewest) {
  std::vector<ChunkRecord> a = {MakeChunk(0, "x")};
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("a"), a).ok());
  ASSERT_TRUE(store_->DeleteDocument(coll_.id, "a").ok());
  Reopen();
  std::vector<ChunkRecord> b = {MakeChunk(0, "y")};
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("b"), b).ok());
  EXPECT_GT(b[0].id, a[0].id);
}

TEST_F(SqliteDocumentStoreTest, ChunkFieldsRoundTrip) {
  ChunkRecord c = MakeChunk(3, "body text", {0.5f, -1.25f, 3e-8f});
  c.heading_path = {"Guide", "Install \xE2\x80\x94 Linux"};
  c.page_start = 2;
  c.page_end = 4;
  c.token_count = 77;
  Put(MakeDoc("a", R"({"k": [1, 2]})"), {c});
  std::vector<ChunkRecord> chunks = {c};
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("a", R"({"k": [1, 2]})"), chunks).ok());
  auto got = store_->GetChunks(Scope(), {chunks[0].id}, true);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  const ChunkView& v = (*got)[0];
  EXPECT_EQ(v.chunk.id, chunks[0].id);
  EXPECT_EQ(v.chunk.ordinal, 3);
  EXPECT_EQ(v.chunk.text, "body text");
  EXPECT_EQ(v.chunk.heading_path, c.heading_path);
  EXPECT_EQ(v.chunk.byte_start, 300);
  EXPECT_EQ(v.chunk.byte_end, 350);
  EXPECT_EQ(v.chunk.page_start, 2);
  EXPECT_EQ(v.chunk.page_end, 4);
  EXPECT_EQ(v.chunk.token_count, 77);
  EXPECT_EQ(v.chunk.embedding, c.embedding);
  EXPECT_EQ(v.doc_id, "a");
  EXPECT_EQ(v.source, "docs/a.md");
  EXPECT_EQ(v.title, "Title a");
  EXPECT_EQ(v.version, 2);
  EXPECT_GT(v.ingested_at, 0);
  EXPECT_EQ(json::parse(v.metadata_json)["k"], json::array({1, 2}));

  auto no_emb = store_->GetChunks(Scope(), {chunks[0].id}, false);
  ASSERT_TRUE(no_emb.ok());
  ASSERT_EQ(no_emb->size(), 1u);
  EXPECT_TRUE((*no_emb)[0].chunk.embedding.empty());
}

TEST_F(SqliteDocumentStoreTest, ListDocumentsPages) {
  for (const char* id : {"c", "a", "e", "b", "d"}) Put(MakeDoc(id), {MakeChunk(0, id)});
  auto first = store_->ListDocuments(coll_.id, "", 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].doc_id, "a");
  EXPECT_EQ((*first)[1].doc_id, "b");
  auto next = store_->ListDocuments(coll_.id, "b", 10);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 3u);
  EXPECT_EQ((*next)[2].doc_id, "e");
  auto none = store_->ListDocuments(coll_.id, "", 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(SqliteDocumentStoreTest, ReplaceDocumentValidation) {
  std::vector<ChunkRecord> ok_chunks = {MakeChunk(0, "x")};
  auto bad = [&](DocumentRecord d, std::vector<ChunkRecord> chunks, int64_t coll = 0) {
    auto r = store_->ReplaceDocument(coll ? coll : coll_.id, std::move(d), chunks);
    return r.ok() ? StatusCode::kOk : r.status().code();
  };
  EXPECT_EQ(bad(MakeDoc(""), ok_chunks), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad(MakeDoc("a", "not json"), ok_chunks), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad(MakeDoc("a", "[1]"), ok_chunks), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad(MakeDoc("a", "{}", {""}), ok_chunks), StatusCode::kInvalidArgument);
  ChunkRecord span = MakeChunk(0, "x");
  span.byte_end = span.byte_start - 1;
  EXPECT_EQ(bad(MakeDoc("a"), {span}), StatusCode::kInvalidArgument);
  ChunkRecord nan = MakeChunk(0, "x", {1.0f, std::numeric_limits<float>::quiet_NaN()});
  EXPECT_EQ(bad(MakeDoc("a"), {nan}), StatusCode::kInvalidArgument);
  ChunkRecord bad_utf8 = MakeChunk(0, "x");
  bad_utf8.heading_path = {"\xFF\xFE"};
  EXPECT_EQ(bad(MakeDoc("a"), {bad_utf8}), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad(MakeDoc("a"), ok_chunks, 99999), StatusCode::kNotFound);
  EXPECT_EQ(bad(MakeDoc("a"), {MakeChunk(0, "x", {1, 2}), MakeChunk(1, "y", {1, 2, 3})}),
            StatusCode::kInvalidArgument);
  auto none = store_->GetDocument(coll_.id, "a");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(SqliteDocumentStoreTest, FailedReplaceRollsBackEverything) {
  // Another document fixes the collection's embedding size at 3.
  Put(MakeDoc("other"), {MakeChunk(0, "unrelated", {1, 1, 1})});
  std::vector<ChunkRecord> old_chunks = {MakeChunk(0, "original penguin text", {1, 0, 0}),
                                         MakeChunk(1, "more penguin facts", {0, 1, 0})};
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("a"), old_chunks).ok());
  auto before = store_->GetCollection("acme", "docs");
  ASSERT_TRUE(before.ok());

  // The failure comes after the old document was deleted and the first new
  // chunks were inserted, inside the transaction.
  std::vector<ChunkRecord> new_chunks = {MakeChunk(0, "replacement walrus", {1, 0, 0}),
                                         MakeChunk(1, "walrus again", {0, 0, 1}),
                                         MakeChunk(2, "walrus wrong size", {1, 2})};
  auto r = store_->ReplaceDocument(coll_.id, MakeDoc("a", R"({"v": 2})"), new_chunks);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("chunk 2"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(new_chunks[0].id, 0);  // not filled on failure

  auto doc = store_->GetDocument(coll_.id, "a");
  ASSERT_TRUE(doc.ok() && doc->has_value());
  EXPECT_EQ((*doc)->version, 1);
  EXPECT_EQ((*doc)->metadata_json, "{}");
  EXPECT_EQ(SearchDocIds(Scope(), "penguin").size(), 2u);
  EXPECT_TRUE(SearchDocIds(Scope(), "walrus").empty());
  auto visible = store_->GetChunks(Scope(), {old_chunks[0].id, old_chunks[1].id}, true);
  ASSERT_TRUE(visible.ok());
  EXPECT_EQ(visible->size(), 2u);
  auto after = store_->GetCollection("acme", "docs");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->vector_seq, before->vector_seq);
  EXPECT_EQ(after->chunk_count, before->chunk_count);
  auto changes = store_->VectorChangesSince(coll_.id, before->vector_seq);
  ASSERT_TRUE(changes.ok());
  EXPECT_TRUE(changes->empty());

  // Replacing the only document with embeddings may change the size.
  ASSERT_TRUE(store_->DeleteDocument(coll_.id, "other").ok());
  std::vector<ChunkRecord> resized = {MakeChunk(0, "x", {1, 2})};
  EXPECT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("a"), resized).ok());
}

TEST_F(SqliteDocumentStoreTest, DeleteDocumentIsVisibleAtOnce) {
  std::vector<ChunkRecord> chunks = {MakeChunk(0, "ephemeral content", {1, 0})};
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("a"), chunks).ok());
  Put(MakeDoc("b"), {MakeChunk(0, "lasting content", {0, 1})});
  EXPECT_EQ(SearchDocIds(Scope(), "ephemeral").size(), 1u);
  ASSERT_TRUE(store_->DeleteDocument(coll_.id, "a").ok());
  EXPECT_TRUE(SearchDocIds(Scope(), "ephemeral").empty());
  EXPECT_EQ(SearchDocIds(Scope(), "content"), std::vector<std::string>{"b"});
  auto got = store_->GetChunks(Scope(), {chunks[0].id}, false);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  EXPECT_EQ(*store_->CountVisibleChunks(Scope()), 1);
  EXPECT_EQ(store_->DeleteDocument(coll_.id, "a").code(), StatusCode::kNotFound);
}

// ----------------------------------------------------- tenancy and access

TEST_F(SqliteDocumentStoreTest, TenantIsolationOnEveryRead) {
  std::vector<ChunkRecord> chunks = {MakeChunk(0, "confidential merger plans", {1, 2})};
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("secret"), chunks).ok());
  auto theirs = store_->CreateCollection("globex", "docs", "{}");
  ASSERT_TRUE(theirs.ok());

  for (int64_t collection_id : {coll_.id, theirs->id}) {
    AccessScope b;
    b.tenant = "globex";
    b.collection_id = collection_id;  // even naming acme's collection id
    b.all_documents = true;
    auto search = store_->LexicalSearch(b, "confidential merger", 10);
    ASSERT_TRUE(search.ok());
    EXPECT_TRUE(search->empty());
    EXPECT_EQ(*store_->CountVisibleChunks(b), 0);
    auto got = store_->GetChunks(b, {chunks[0].id}, true);
    ASSERT_TRUE(got.ok());
    EXPECT_TRUE(got->empty());
    auto emb = store_->VisibleEmbeddings(b, 0, 100);
    ASSERT_TRUE(emb.ok());
    EXPECT_TRUE(emb->empty());
    auto ids = store_->VisibleIds(b, {chunks[0].id});
    ASSERT_TRUE(ids.ok());
    EXPECT_TRUE(ids->empty());
    auto lexical = store_->LexicalIds(b, "confidential merger", 10);
    ASSERT_TRUE(lexical.ok());
    EXPECT_TRUE(lexical->empty());
  }
  // The owner sees it through all four.
  AccessScope a = Scope();
  EXPECT_EQ(SearchDocIds(a, "merger"), std::vector<std::string>{"secret"});
  EXPECT_EQ(*store_->CountVisibleChunks(a), 1);
  EXPECT_EQ(store_->GetChunks(a, {chunks[0].id}, false)->size(), 1u);
  EXPECT_EQ(store_->VisibleEmbeddings(a, 0, 10)->size(), 1u);
  EXPECT_EQ(store_->VisibleIds(a, {chunks[0].id})->size(), 1u);
  EXPECT_EQ(store_->LexicalIds(a, "merger", 10)->size(), 1u);
  // Right tenant, wrong collection id.
  AccessScope wrong = Scope();
  wrong.collection_id = coll_.id + 1000;
  EXPECT_EQ(*store_->CountVisibleChunks(wrong), 0);
}

TEST_F(SqliteDocumentStoreTest, DocumentAcl) {
  Put(MakeDoc("public"), {MakeChunk(0, "handbook holidays", {1, 0})});
  Put(MakeDoc("eng", "{}", {"group:eng", "alice"}), {MakeChunk(0, "handbook oncall", {0, 1})});
  Put(MakeDoc("hr", "{}", {"group:hr"}), {MakeChunk(0, "handbook salaries", {1, 1})});

  auto docs = [&](AccessScope s) {
    std::vector<std::string> out = SearchDocIds(s, "handbook");
    std::sort(out.begin(), out.end());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(docs(Scope()), V({"public"}));
  EXPECT_EQ(docs(Scope({"bob"})), V({"public"}));
  EXPECT_EQ(docs(Scope({"alice"})), V({"eng", "public"}));
  EXPECT_EQ(docs(Scope({"bob", "group:hr"})), V({"hr", "public"}));
  EXPECT_EQ(docs(Scope({"group:eng", "group:hr"})), V({"eng", "hr", "public"}));
  AccessScope admin = Scope();
  admin.all_documents = true;
  EXPECT_EQ(docs(admin), V({"eng", "hr", "public"}));
  // A principal that looks like SQL or JSON is only a value.
  EXPECT_EQ(docs(Scope({"' OR 1=1 --", "\"]"})), V({"public"}));

  EXPECT_EQ(*store_->CountVisibleChunks(Scope({"alice"})), 2);
  EXPECT_EQ(store_->VisibleEmbeddings(Scope({"group:hr"}), 0, 10)->size(), 2u);
  EXPECT_EQ(VisibleDocs(Scope()), std::set<std::string>({"public"}));
}

// ---------------------------------------------------------------- filters

TEST_F(SqliteDocumentStoreTest, FilterSqlAgreesWithMatches) {
  const std::vector<std::pair<std::string, std::string>> docs = {
      {"d1", R"({"lang": "en", "year": 2020, "tags": ["a", "b"], "ok": true})"},
      {"d2", R"({"lang": "de", "year": 2023.5, "tags": "a", "ok": false})"},
      {"d3", R"({"lang": "en", "year": "2021", "tags": ["c"], "n": 1})"},
      {"d4", R"({"year": 2025, "tags": [1, 2, true], "n": 1.0, "odd key.$[\"x\"]": "v"})"},
      {"d5", R"({"lang": "EN", "n": "1", "tags": [], "nested": {"lang": "en"}})"},
      {"d6", R"({})"},
      {"x7", R"({"lang": "fr", "ok": 1, "tags": [["a"]]})"},
  };
  std::map<std::string, DocumentRecord> records;
  for (const auto& [id, md] : docs) {
    DocumentRecord d = MakeDoc(id, md);
    if (id == "x7") d.source = "other/x7.txt";
    // Two chunks each: counts go by document (chunk_count), reads by chunk.
    records[id] = Put(
        d, {MakeChunk(0, "common words " + id, {1, 0}), MakeChunk(1, "more text " + id, {0, 1})});
  }
  AccessScope everything = Scope();
  everything.all_documents = true;
  auto docs_of = [&](const std::vector<int64_t>& ids) {
    std::set<std::string> out;
    auto views = store_->GetChunks(everything, ids, false);
    EXPECT_TRUE(views.ok());
    if (views.ok()) {
      for (const auto& v : *views) out.insert(v.doc_id);
    }
    return out;
  };
  std::vector<int64_t> all_ids;
  for (int64_t i = 1; i <= 100; ++i) all_ids.push_back(i);
  const char* filters[] = {
      R"({"lang": "en"})",
      R"({"lang": {"$eq": "en"}})",
      R"({"lang": {"$ne": "en"}})",
      R"({"year": 2020})",
      R"({"year": {"$gte": 2020, "$lt": 2025}})",
      R"({"year": {"$gt": 2020}})",
      R"({"year": {"$lte": 2023.5}})",
      R"({"year": {"$gt": "2020"}})",
      R"({"n": 1})",
      R"({"n": {"$ne": 1}})",
      R"({"n": "1"})",
      R"({"ok": true})",
      R"({"ok": false})",
      R"({"ok": {"$ne": true}})",
      R"({"tags": {"$in": ["a"]}})",
      R"({"tags": {"$in": ["c", 2]}})",
      R"({"tags": {"$in": [true]}})",
      R"({"tags": {"$in": []}})",
      R"({"tags": {"$nin": ["a"]}})",
      R"({"tags": {"$nin": []}})",
      R"({"tags": "a"})",
      R"({"lang": {"$in": ["en", "de"]}})",
      R"({"lang": {"$nin": ["en", "de"]}})",
      R"({"odd key.$[\"x\"]": "v"})",
      R"({"nested": "x"})",
      R"({"source": "docs/d1.md"})",
      R"({"source": {"$prefix": "docs/"}})",
      R"({"source": {"$prefix": "docs/d%"}})",
      R"({"source": {"$prefix": ""}})",
      R"({"doc_id": {"$in": ["d1", "d3", "zz"]}})",
      R"({"doc_id": {"$nin": ["d1"]}})",
      R"({"doc_id": {"$gt": "d3"}})",
      R"({"title": "Title d2"})",
      R"({"title": {"$ne": "Title d2"}})",
      R"({"$or": [{"lang": "de"}, {"n": 1}]})",
      R"({"$and": [{"lang": "en"}, {"tags": {"$in": ["b", "c"]}}]})",
      R"({"lang": "en", "$or": [{"year": 2020}, {"n": {"$gte": 1}}]})",
      R"({"$or": [{"$and": [{"ok": true}, {"lang": "en"}]}, {"doc_id": "x7"}]})",
      R"({"lang": "' OR 1=1 --"})",
  };
  AccessScope scope = Scope();
  std::set<std::set<std::string>> distinct;  // the table must discriminate
  for (const char* text : filters) {
    auto parsed = MetadataFilter::Parse(json::parse(text));
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
    std::set<std::string> want;
    for (const auto& [id, d] : records) {
      if (parsed->Matches(json::parse(d.metadata_json), d.source, d.doc_id, d.title)) {
        want.insert(id);
      }
    }
    distinct.insert(want);
    scope.filter = *parsed;
    EXPECT_EQ(VisibleDocs(scope), want) << text;
    EXPECT_EQ(*store_->CountVisibleChunks(scope), 2 * static_cast<int64_t>(want.size())) << text;
    std::vector<std::string> found = SearchDocIds(scope, "common");
    EXPECT_EQ(std::set<std::string>(found.begin(), found.end()), want) << text;
    auto lexical = store_->LexicalIds(scope, "common", 50);
    ASSERT_TRUE(lexical.ok()) << text;
    EXPECT_EQ(lexical->size(), want.size()) << text;
    auto visible = store_->VisibleIds(scope, all_ids);
    ASSERT_TRUE(visible.ok()) << text;
    EXPECT_EQ(visible->size(), 2 * want.size()) << text;
    EXPECT_EQ(docs_of(*visible), want) << text;
    auto embeddings = store_->VisibleEmbeddings(scope, 0, 100);
    ASSERT_TRUE(embeddings.ok()) << text;
    std::vector<int64_t> embedded;
    for (const auto& [id, v] : *embeddings) embedded.push_back(id);
    EXPECT_TRUE(std::is_sorted(embedded.begin(), embedded.end())) << text;
    EXPECT_EQ(embedded.size(), 2 * want.size()) << text;
    EXPECT_EQ(docs_of(embedded), want) << text;
  }
  EXPECT_GE(distinct.size(), 20u);
}

TEST_F(SqliteDocumentStoreTest, MalformedHandBuiltFilterIsAnError) {
  AccessScope scope = Scope();
  scope.filter.op = MetadataFilter::Op::kIn;
  scope.filter.key = "tags";
  scope.filter.value = "not an array";
  EXPECT_EQ(store_->CountVisibleChunks(scope).status().code(), StatusCode::kInvalidArgument);
}

// --------------------------------------------------------- lexical search

TEST_F(SqliteDocumentStoreTest, LexicalSearchRanksTheRelevantChunkFirst) {
  Put(MakeDoc("cooking"), {MakeChunk(0, "How to bake bread: flour, water, yeast and salt."),
                           MakeChunk(1, "Pasta needs boiling water and salt.")});
  Put(MakeDoc("install"),
      {MakeChunk(0, "Installing the server: run the installer, then configure the firewall."),
       MakeChunk(1, "Troubleshooting network timeouts on the server.")});
  Put(MakeDoc("garden"), {MakeChunk(0, "Water the tomatoes every morning.")});

  auto r = store_->LexicalSearch(Scope(), "how do I install and configure the server?", 5);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->empty());
  EXPECT_EQ((*r)[0].doc_id, "install");
  EXPECT_EQ((*r)[0].chunk.ordinal, 0);
  for (size_t i = 1; i < r->size(); ++i) EXPECT_GE((*r)[i - 1].score, (*r)[i].score);
  EXPECT_GT((*r)[0].score, 0);

  // Porter stemming: "installed" and "baking" find their stems.
  EXPECT_EQ(SearchDocIds(Scope(), "installed", 1), std::vector<std::string>{"install"});
  EXPECT_EQ(SearchDocIds(Scope(), "BAKING breads", 1), std::vector<std::string>{"cooking"});
  // k limits the results.
  EXPECT_EQ(SearchDocIds(Scope(), "water", 2).size(), 2u);
  EXPECT_EQ(SearchDocIds(Scope(), "water", 10).size(), 3u);
  EXPECT_TRUE(SearchDocIds(Scope(), "water", 0).empty());
}

TEST_F(SqliteDocumentStoreTest, LexicalSearchMatchesHeadings) {
  ChunkRecord c = MakeChunk(0, "Set the variable before starting.");
  c.heading_path = {"Deployment", "Kubernetes"};
  Put(MakeDoc("k8s"), {c});
  Put(MakeDoc("plain"), {MakeChunk(0, "Nothing about clusters here.")});
  EXPECT_EQ(SearchDocIds(Scope(), "kubernetes"), std::vector<std::string>{"k8s"});
}

TEST_F(SqliteDocumentStoreTest, LexicalSearchUnicode) {
  Put(MakeDoc("fr"), {MakeChunk(0, "Le café est très naïf à Zürich.")});
  Put(MakeDoc("ru"), {MakeChunk(0, "Привет мир, добро пожаловать")});
  Put(MakeDoc("ja"), {MakeChunk(0, "東京 は 大きい")});
  EXPECT_EQ(SearchDocIds(Scope(), "cafe"), std::vector<std::string>{"fr"});
  EXPECT_EQ(SearchDocIds(Scope(), "ZÜRICH"), std::vector<std::string>{"fr"});
  EXPECT_EQ(SearchDocIds(Scope(), "«naïf»"), std::vector<std::string>{"fr"});
  EXPECT_EQ(SearchDocIds(Scope(), "мир"), std::vector<std::string>{"ru"});
  EXPECT_EQ(SearchDocIds(Scope(), "東京"), std::vector<std::string>{"ja"});
  std::vector<std::string> both = SearchDocIds(Scope(), "мир—東京");  // em dash separates
  std::sort(both.begin(), both.end());
  EXPECT_EQ(both, (std::vector<std::string>{"ja", "ru"}));
}

TEST_F(SqliteDocumentStoreTest, LexicalSearchIsSafeWithFtsSyntax) {
  Put(MakeDoc("a"), {MakeChunk(0, "alpha beta gamma and near not or")});
  const std::string nasty[] = {
      "alpha AND",
      "AND",
      "OR OR OR",
      "NOT alpha",
      "\"alpha",
      "alpha\"\"beta",
      "alp*",
      "*",
      "-alpha",
      "alpha -beta",
      "NEAR(alpha beta, 2)",
      "NEAR/2",
      "(alpha OR",
      ")",
      "text: alpha",
      "heading_path_json:alpha",
      "{text heading_path_json}: alpha",
      "^alpha",
      "alpha + beta",
      "'; DROP TABLE chunks; --",
      "\\\"",
      std::string("alpha\0beta", 10),
      "\xFF\xFE alpha \xC3",
      "😀 alpha 🚀",
      std::string(5000, 'a'),
      "",
      "   \t\n",
      "!@#$%^&*()[]{}",
  };
  for (const std::string& q : nasty) {
    auto r = store_->LexicalSearch(Scope(), q, 10);
    ASSERT_TRUE(r.ok()) << q << ": " << r.status().ToString();
  }
  EXPECT_EQ(SearchDocIds(Scope(), "NEAR(alpha beta, 2)"), std::vector<std::string>{"a"});
  EXPECT_EQ(SearchDocIds(Scope(), "-alpha"), std::vector<std::string>{"a"});
  EXPECT_EQ(SearchDocIds(Scope(), "heading_path_json:alpha"), std::vector<std::string>{"a"});
  EXPECT_EQ(SearchDocIds(Scope(), "\xFF\xFE alpha \xC3"), std::vector<std::string>{"a"});
  EXPECT_TRUE(SearchDocIds(Scope(), "!@#$%^&*()[]{}").empty());
  EXPECT_TRUE(SearchDocIds(Scope(), "").empty());
  // Still intact afterwards.
  EXPECT_EQ(*store_->CountVisibleChunks(Scope()), 1);
}

// ------------------------------------------------------------- embeddings

TEST_F(SqliteDocumentStoreTest, EmbeddingsPageAndSkipChunksWithout) {
  std::vector<ChunkRecord> chunks;
  for (int i = 0; i < 5; ++i) {
    chunks.push_back(MakeChunk(i, "c" + std::to_string(i),
                               i == 2 ? std::vector<float>{} : std::vector<float>{float(i), 1}));
  }
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("a"), chunks).ok());
  auto page1 = store_->ChunkEmbeddings(coll_.id, 0, 2);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  EXPECT_EQ((*page1)[0].first, chunks[0].id);
  EXPECT_EQ((*page1)[1].second, (std::vector<float>{1, 1}));
  auto page2 = store_->ChunkEmbeddings(coll_.id, (*page1)[1].first, 10);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 2u);  // chunk 2 has none
  EXPECT_EQ((*page2)[0].first, chunks[3].id);
  auto visible = store_->VisibleEmbeddings(Scope(), chunks[0].id, 10);
  ASSERT_TRUE(visible.ok());
  EXPECT_EQ(visible->size(), 3u);
}

TEST_F(SqliteDocumentStoreTest, GetChunksKeepsRequestOrder) {
  std::vector<ChunkRecord> chunks = {MakeChunk(0, "a"), MakeChunk(1, "b"), MakeChunk(2, "c")};
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("a"), chunks).ok());
  auto got = store_->GetChunks(Scope(), {chunks[2].id, 424242, chunks[0].id, chunks[2].id}, false);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].chunk.id, chunks[2].id);
  EXPECT_EQ((*got)[1].chunk.id, chunks[0].id);
  EXPECT_TRUE(store_->GetChunks(Scope(), {}, false)->empty());
  auto ids = store_->VisibleIds(Scope(), {chunks[2].id, 424242, chunks[0].id, chunks[2].id});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int64_t>{chunks[2].id, chunks[0].id}));
  EXPECT_TRUE(store_->VisibleIds(Scope(), {})->empty());
}

TEST_F(SqliteDocumentStoreTest, LexicalIdsFindARareVisibleMatchBehindManyHiddenOnes) {
  // 300 better-ranked matches the scope cannot see (another tenant, an ACL, a
  // filter), then the one it can: past any over-fetched top list.
  auto other = store_->CreateCollection("globex", "docs", "{}");
  ASSERT_TRUE(other.ok());
  for (int i = 0; i < 100; ++i) {
    const std::string n = std::to_string(i);
    Put(MakeDoc("theirs" + n), {MakeChunk(0, "needle needle needle " + n)}, other->id);
    Put(MakeDoc("acl" + n, "{}", {"group:hr"}), {MakeChunk(0, "needle needle needle " + n)});
    Put(MakeDoc("draft" + n, R"({"status": "draft"})"), {MakeChunk(0, "needle needle " + n)});
  }
  Put(MakeDoc("mine", R"({"status": "final"})"),
      {MakeChunk(0, "a needle in a long haystack of many other words that dilute the score")});
  AccessScope scope = Scope();
  scope.filter = *MetadataFilter::Parse(json::parse(R"({"status": {"$ne": "draft"}})"));
  auto ids = store_->LexicalIds(scope, "needle", 5);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  ASSERT_EQ(ids->size(), 1u);
  EXPECT_EQ(SearchDocIds(scope, "needle", 5), std::vector<std::string>{"mine"});
  // Without the filter the drafts come first, best score first, and k is honoured.
  auto unfiltered = store_->LexicalIds(Scope(), "needle", 7);
  ASSERT_TRUE(unfiltered.ok());
  ASSERT_EQ(unfiltered->size(), 7u);
  for (size_t i = 1; i < unfiltered->size(); ++i) {
    EXPECT_GE((*unfiltered)[i - 1].score, (*unfiltered)[i].score);
  }
  // The ACL'd chunks appear for their group, ranked above the rest.
  auto hr = store_->LexicalIds(Scope({"group:hr"}), "needle", 3);
  ASSERT_TRUE(hr.ok());
  EXPECT_EQ(hr->size(), 3u);
  auto hr_views = store_->GetChunks(Scope({"group:hr"}), {(*hr)[0].id}, false);
  ASSERT_TRUE(hr_views.ok());
  ASSERT_EQ(hr_views->size(), 1u);
  EXPECT_EQ((*hr_views)[0].doc_id.rfind("acl", 0), 0u);
}

TEST_F(SqliteDocumentStoreTest, LexicalIdsRankLikeLexicalSearch) {
  Put(MakeDoc("a"), {MakeChunk(0, "robot battery dock"), MakeChunk(1, "battery battery battery")});
  Put(MakeDoc("b"), {MakeChunk(0, "dock maintenance"), MakeChunk(1, "unrelated words")});
  auto views = store_->LexicalSearch(Scope(), "battery dock", 10);
  auto ids = store_->LexicalIds(Scope(), "battery dock", 10);
  ASSERT_TRUE(views.ok());
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(views->size(), 3u);
  ASSERT_EQ(ids->size(), 3u);
  for (size_t i = 0; i < ids->size(); ++i) {
    EXPECT_EQ((*ids)[i].id, (*views)[i].chunk.id);
    EXPECT_DOUBLE_EQ((*ids)[i].score, (*views)[i].score);
    if (i > 0) {
      EXPECT_GE((*ids)[i - 1].score, (*ids)[i].score);
    }
  }
  EXPECT_EQ(store_->LexicalIds(Scope(), "battery dock", 1)->size(), 1u);
  EXPECT_TRUE(store_->LexicalIds(Scope(), "", 10)->empty());
}

TEST_F(SqliteDocumentStoreTest, CorruptEmbeddingIsAnInternalErrorNamingTheChunk) {
  std::vector<ChunkRecord> chunks = {MakeChunk(0, "x", {1, 2})};
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("a"), chunks).ok());
  {
    auto db = Database::Open({.path = path_});
    ASSERT_TRUE(db.ok());
    auto up = (*db)->Prepare("UPDATE chunks SET embedding = x'01020304050607' WHERE id = ?");
    ASSERT_TRUE(up.ok());
    up->Bind(1, chunks[0].id);
    ASSERT_TRUE(up->Run().ok());
  }
  const std::string name = "chunk " + std::to_string(chunks[0].id);
  auto got = store_->GetChunks(Scope(), {chunks[0].id}, true);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInternal);
  EXPECT_NE(got.status().message().find(name), std::string::npos) << got.status().ToString();
  auto emb = store_->ChunkEmbeddings(coll_.id, 0, 10);
  EXPECT_EQ(emb.status().code(), StatusCode::kInternal);
  EXPECT_EQ(store_->VisibleEmbeddings(Scope(), 0, 10).status().code(), StatusCode::kInternal);
  // Reads that do not touch the embedding still work.
  EXPECT_EQ(store_->GetChunks(Scope(), {chunks[0].id}, false)->size(), 1u);
}

// ------------------------------------------------------- vector change log

TEST_F(SqliteDocumentStoreTest, VectorChangeLog) {
  std::vector<ChunkRecord> v1 = {MakeChunk(0, "a", {1}), MakeChunk(1, "b", {2})};
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("a"), v1).ok());
  std::vector<ChunkRecord> v2 = {MakeChunk(0, "c", {3})};
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("a"), v2).ok());
  std::vector<ChunkRecord> other = {MakeChunk(0, "d", {4})};
  ASSERT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("b"), other).ok());
  ASSERT_TRUE(store_->DeleteDocument(coll_.id, "b").ok());

  EXPECT_EQ(store_->GetCollection("acme", "docs")->vector_seq, 4);
  auto all = store_->VectorChangesSince(coll_.id, 0);
  ASSERT_TRUE(all.ok());
  const std::vector<VectorChange> want = {
      {1, v1[0].id, true}, {1, v1[1].id, true},    {2, v1[0].id, false},    {2, v1[1].id, false},
      {2, v2[0].id, true}, {3, other[0].id, true}, {4, other[0].id, false},
  };
  ASSERT_EQ(all->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*all)[i].seq, want[i].seq) << i;
    EXPECT_EQ((*all)[i].chunk_id, want[i].chunk_id) << i;
    EXPECT_EQ((*all)[i].added, want[i].added) << i;
  }
  auto since2 = store_->VectorChangesSince(coll_.id, 2);
  ASSERT_TRUE(since2.ok());
  EXPECT_EQ(since2->size(), 2u);
  EXPECT_TRUE(store_->VectorChangesSince(coll_.id, 4)->empty());

  ASSERT_TRUE(store_->PruneVectorChanges(coll_.id, 2).ok());
  auto after = store_->VectorChangesSince(coll_.id, 2);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 2u);
  // Below the pruned horizon or beyond the present: the caller must rebuild.
  EXPECT_EQ(store_->VectorChangesSince(coll_.id, 1).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->VectorChangesSince(coll_.id, 5).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->VectorChangesSince(99999, 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->PruneVectorChanges(99999, 0).code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->PruneVectorChanges(coll_.id, 100).ok());
  EXPECT_TRUE(store_->VectorChangesSince(coll_.id, 4)->empty());
}

// ------------------------------------------------- persistence and threads

TEST_F(SqliteDocumentStoreTest, ReopenKeepsDataAndSchemaVersion) {
  std::vector<ChunkRecord> chunks = {MakeChunk(0, "durable words", {1, 2})};
  ASSERT_TRUE(
      store_->ReplaceDocument(coll_.id, MakeDoc("a", R"({"k": "v"})", {"alice"}), chunks).ok());
  Reopen();
  Reopen();  // migrations are idempotent
  auto c = store_->GetCollection("acme", "docs");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->id, coll_.id);
  EXPECT_EQ(c->chunk_count, 1);
  EXPECT_EQ(SearchDocIds(Scope({"alice"}), "durable"), std::vector<std::string>{"a"});
  auto got = store_->GetChunks(Scope({"alice"}), {chunks[0].id}, true);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].chunk.embedding, (std::vector<float>{1, 2}));

  auto db = Database::Open({.path = path_});
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*(*db)->UserVersion(), 1);
}

TEST_F(SqliteDocumentStoreTest, RefusesNewerSchemaAndNonDatabases) {
  store_.reset();
  {
    auto db = Database::Open({.path = path_});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 99").ok());
  }
  EXPECT_EQ(OpenSqliteDocumentStore(path_).status().code(), StatusCode::kFailedPrecondition);
  const std::string junk = (dir_ / "junk.db").string();
  {
    FILE* f = fopen(junk.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string bytes(8192, 'z');
    fwrite(bytes.data(), 1, bytes.size(), f);
    fclose(f);
  }
  EXPECT_EQ(OpenSqliteDocumentStore(junk).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenSqliteDocumentStore((dir_ / "missing/dir/x.db").string()).status().code(),
            StatusCode::kUnavailable);
}

TEST_F(SqliteDocumentStoreTest, InMemoryStoreWorks) {
  auto mem = OpenSqliteDocumentStore(":memory:");
  ASSERT_TRUE(mem.ok());
  auto c = (*mem)->CreateCollection("t", "c", "{}");
  ASSERT_TRUE(c.ok());
  std::vector<ChunkRecord> chunks = {MakeChunk(0, "in memory only")};
  ASSERT_TRUE((*mem)->ReplaceDocument(c->id, MakeDoc("a"), chunks).ok());
  AccessScope s;
  s.tenant = "t";
  s.collection_id = c->id;
  auto r = (*mem)->LexicalSearch(s, "memory", 5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 1u);
}

TEST_F(SqliteDocumentStoreTest, ConcurrentReadersAndWriter) {
  Put(MakeDoc("stable"), {MakeChunk(0, "stable anchor text", {1, 0})});
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto r = store_->LexicalSearch(Scope(), "anchor churn", 10);
        if (!r.ok()) ++errors;
        // The stable document is always there; the churning one never half-way.
        bool stable = false;
        for (const ChunkView& v : r.ok() ? *r : std::vector<ChunkView>{}) {
          if (v.doc_id == "stable") stable = true;
        }
        if (!stable) ++errors;
        auto n = store_->CountVisibleChunks(Scope());
        if (!n.ok() || (*n != 1 && *n != 4)) ++errors;
        ++reads;
      }
    });
  }
  for (int i = 0; i < 40; ++i) {
    std::vector<ChunkRecord> chunks = {MakeChunk(0, "churn one", {0, 1}),
                                       MakeChunk(1, "churn two", {1, 1}),
                                       MakeChunk(2, "churn three", {1, 0})};
    EXPECT_TRUE(store_->ReplaceDocument(coll_.id, MakeDoc("churn"), chunks).ok());
    if (i % 3 == 1) {
      EXPECT_TRUE(store_->DeleteDocument(coll_.id, "churn").ok());
    }
  }
  // Let the readers run at least a little even on a loaded machine.
  while (reads.load() < 20) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(errors.load(), 0);
  auto doc = store_->GetDocument(coll_.id, "churn");
  ASSERT_TRUE(doc.ok() && doc->has_value());
  EXPECT_GT((*doc)->version, 1);
}

}  // namespace
}  // namespace gantry::store
