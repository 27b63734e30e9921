#include "rag/rag_service.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <unordered_map>

#include "core/ids.h"
#include "providers/mailbox.h"
#include "rag/document_parser.h"

namespace gantry::rag {
namespace {

namespace fs = std::filesystem;
using providers::OnPool;
using Json = nlohmann::json;

constexpr int kPage = 1024;

Result<int> IntField(const Json& j, const char* key, int def, int lo, int hi) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_number_integer())
    return InvalidArgument(std::string("collection config: ") + key + " must be an integer");
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi)
    return InvalidArgument(std::string("collection config: ") + key + " must be in " +
                           std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<int>(v);
}

std::string FileName(const std::string& source) {
  auto slash = source.find_last_of("/\\");
  std::string name = slash == std::string::npos ? source : source.substr(slash + 1);
  auto q = name.find_first_of("?#");
  if (q != std::string::npos) name.resize(q);
  return name;
}

}  // namespace

const char* IngestActionName(IngestOutcome::Action a) {
  switch (a) {
    case IngestOutcome::Action::kAdded:
      return "added";
    case IngestOutcome::Action::kUpdated:
      return "updated";
    case IngestOutcome::Action::kUnchanged:
      return "unchanged";
  }
  return "added";
}

// ------------------------------------------------------------ CollectionConfig

Result<CollectionConfig> CollectionConfig::FromJson(const Json& j, const std::string& default_model,
                                                    int default_dim) {
  CollectionConfig c;
  c.embedding_model = default_model;
  c.dim = default_dim;
  if (j.is_null()) return c;
  if (!j.is_object()) return InvalidArgument("collection config must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const std::set<std::string> kKnown = {"chunk_tokens", "chunk_overlap", "prefix_headings",
                                                 "embedding_model", "dim"};
    if (!kKnown.count(it.key()))
      return InvalidArgument("collection config: unknown field '" + it.key() +
                             "' (known: chunk_tokens, chunk_overlap, prefix_headings, "
                             "embedding_model, dim)");
  }
  ASSIGN_OR_RETURN(c.chunking.max_tokens,
                   IntField(j, "chunk_tokens", c.chunking.max_tokens, 16, 8192));
  ASSIGN_OR_RETURN(c.chunking.overlap_tokens,
                   IntField(j, "chunk_overlap", c.chunking.overlap_tokens, 0, 4096));
  ASSIGN_OR_RETURN(c.dim, IntField(j, "dim", c.dim, 1, 8192));
  if (auto it = j.find("prefix_headings"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean())
      return InvalidArgument("collection config: prefix_headings must be true or false");
    c.chunking.prefix_headings = it->get<bool>();
  }
  if (auto it = j.find("embedding_model"); it != j.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>().empty())
      return InvalidArgument("collection config: embedding_model must be a model name");
    c.embedding_model = it->get<std::string>();
  }
  if (Status s = c.chunking.Validate(); !s.ok())
    return InvalidArgument("collection config: " + s.message());
  return c;
}

Json CollectionConfig::ToJson() const {
  return Json{{"chunk_tokens", chunking.max_tokens},
              {"chunk_overlap", chunking.overlap_tokens},
              {"prefix_headings", chunking.prefix_headings},
              {"embedding_model", embedding_model},
              {"dim", dim}};
}

Status SearchRequest::Validate() const {
  if (query.empty()) return InvalidArgument("query must be a non-empty string");
  if (k < 1 || k > 100) return InvalidArgument("k must be in 1..100");
  if (mmr_lambda < 0 || mmr_lambda > 1) return InvalidArgument("mmr_lambda must be in [0, 1]");
  if (candidates < 0 || candidates > 1000) return InvalidArgument("candidates must be in 0..1000");
  return OkStatus();
}

// ------------------------------------------------------------ RagService

struct RagService::CollectionIndex {
  std::mutex write_mu;  // serializes changes to this collection (store + index)
  std::unique_ptr<HnswIndex> index;
  int64_t applied_seq = 0;  // GUARDED_BY(write_mu): store seq the index reflects
  bool dirty = false;       // GUARDED_BY(write_mu)
};

std::string RagService::DocIdForSource(const std::string& source) {
  std::string id = source;
  std::replace(id.begin(), id.end(), '\\', '/');
  while (id.rfind("./", 0) == 0) id.erase(0, 2);
  return id;
}

RagService::RagService(std::unique_ptr<store::DocumentStore> store, EmbedFn embed,
                       RagServiceOptions options, LoggerPtr logger)
    : store_(std::move(store)),
      embed_(std::move(embed)),
      options_(std::move(options)),
      logger_(std::move(logger)),
      pool_(std::make_unique<ThreadPool>(std::max<size_t>(1, options_.threads))) {}

Result<std::unique_ptr<RagService>> RagService::Open(std::unique_ptr<store::DocumentStore> store,
                                                     EmbedFn embed, RagServiceOptions options,
                                                     LoggerPtr logger) {
  if (!store) return InvalidArgument("rag: no document store");
  if (!embed) return InvalidArgument("rag: no embedding function");
  if (!options.count_tokens) options.count_tokens = ApproximateTokenCounter();
  if (options.embed_batch < 1) return InvalidArgument("rag: embed_batch must be >= 1");
  std::unique_ptr<RagService> s(
      new RagService(std::move(store), std::move(embed), std::move(options), std::move(logger)));
  RETURN_IF_ERROR(s->LoadIndexes());
  if (!s->options_.data_dir.empty() && s->options_.save_interval.count() > 0) {
    s->saver_ = std::thread([p = s.get()] { p->SaverLoop(); });
  }
  return s;
}

RagService::~RagService() {
  {
    std::lock_guard lock(saver_mu_);
    stopping_ = true;
  }
  saver_cv_.notify_all();
  if (saver_.joinable()) saver_.join();
  pool_->Shutdown();
  if (Status s = Flush(); !s.ok() && logger_) {
    logger_->Warn("rag: could not save vector indexes; they are rebuilt at next start",
                  {{"error", s.message()}});
  }
}

void RagService::SaverLoop() {
  std::unique_lock lock(saver_mu_);
  while (!stopping_) {
    saver_cv_.wait_for(lock, options_.save_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (Status s = Flush(); !s.ok() && logger_) {
      logger_->Warn("rag: periodic vector index save failed", {{"error", s.message()}});
    }
    lock.lock();
  }
}

std::string RagService::IndexPath(int64_t collection_id) const {
  if (options_.data_dir.empty()) return "";
  return (fs::path(options_.data_dir) / "vectors" / (std::to_string(collection_id) + ".hnsw"))
      .string();
}

Status RagService::LoadIndexes() {
  ASSIGN_OR_RETURN(auto all, store_->AllCollections());
  for (const auto& c : all) {
    auto index = IndexFor(c);
    if (!index.ok()) return index.status();
  }
  return OkStatus();
}

Result<std::shared_ptr<RagService::CollectionIndex>> RagService::IndexFor(
    const store::CollectionRecord& c) {
  {
    std::lock_guard lock(mu_);
    auto it = indexes_.find(c.id);
    if (it != indexes_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(auto config, CollectionConfig::FromJson(
                                    Json::parse(c.config_json, nullptr, false),
                                    options_.default_embedding_model, options_.default_dim));
  HnswOptions ho = options_.hnsw;
  ho.dim = config.dim;
  auto ci = std::make_shared<CollectionIndex>();
  ASSIGN_OR_RETURN(ci->index, HnswIndex::Open(IndexPath(c.id), ho));
  {
    std::lock_guard write(ci->write_mu);
    RETURN_IF_ERROR(SyncIndex(c, *ci));
  }
  std::lock_guard lock(mu_);
  auto [it, inserted] = indexes_.emplace(c.id, ci);
  return it->second;
}

namespace {

// Applies the store's change log after `since` to `index`; vectors of added
// chunks come from `known` when present, else from the store.
Status ApplyChanges(store::DocumentStore& store, int64_t collection_id, int64_t since,
                    HnswIndex& index,
                    const std::unordered_map<int64_t, const std::vector<float>*>& known,
                    int64_t* new_seq) {
  ASSIGN_OR_RETURN(auto changes, store.VectorChangesSince(collection_id, since));
  std::set<int64_t> added;
  for (const auto& ch : changes) {
    *new_seq = std::max(*new_seq, ch.seq);
    if (ch.added) {
      added.insert(ch.chunk_id);
    } else {
      added.erase(ch.chunk_id);
      RETURN_IF_ERROR(index.Remove(ch.chunk_id));
    }
  }
  std::set<int64_t> missing;
  for (int64_t id : added) {
    auto it = known.find(id);
    if (it != known.end()) {
      RETURN_IF_ERROR(index.Upsert(id, *it->second));
    } else {
      missing.insert(id);
    }
  }
  if (missing.empty()) return OkStatus();
  int64_t after = *missing.begin() - 1;
  while (true) {
    ASSIGN_OR_RETURN(auto page, store.ChunkEmbeddings(collection_id, after, kPage));
    if (page.empty()) break;
    for (const auto& [id, vec] : page) {
      if (missing.count(id)) RETURN_IF_ERROR(index.Upsert(id, vec));
    }
    after = page.back().first;
    if (after >= *missing.rbegin()) break;
  }
  return OkStatus();
}

}  // namespace

// REQUIRES: index.write_mu held.
Status RagService::SyncIndex(const store::CollectionRecord& c, CollectionIndex& ci) {
  const int64_t loaded = ci.index->loaded_seq();
  if (loaded >= 0 && loaded <= c.vector_seq) {
    int64_t seq = loaded;
    Status s = ApplyChanges(*store_, c.id, loaded, *ci.index, {}, &seq);
    if (s.ok() && static_cast<int64_t>(ci.index->size()) == c.chunk_count) {
      ci.applied_seq = c.vector_seq;
      ci.dirty = loaded != c.vector_seq;
      return OkStatus();
    }
    if (logger_) {
      logger_->Warn("rag: vector index disagrees with the database; rebuilding it",
                    {{"collection", c.name},
                     {"tenant", c.tenant},
                     {"index_vectors", ci.index->size()},
                     {"chunks", c.chunk_count}});
    }
  }
  ci.index->Clear();
  int64_t after = 0;
  while (true) {
    ASSIGN_OR_RETURN(auto page, store_->ChunkEmbeddings(c.id, after, kPage));
    if (page.empty()) break;
    for (const auto& [id, vec] : page) RETURN_IF_ERROR(ci.index->Upsert(id, vec));
    after = page.back().first;
  }
  ci.applied_seq = c.vector_seq;
  ci.dirty = true;
  return OkStatus();
}

Status RagService::Flush() {
  std::vector<std::pair<int64_t, std::shared_ptr<CollectionIndex>>> all;
  {
    std::lock_guard lock(mu_);
    all.assign(indexes_.begin(), indexes_.end());
  }
  Status first;
  for (auto& [id, ci] : all) {
    std::lock_guard write(ci->write_mu);
    if (!ci->dirty) continue;
    Status s = ci->index->Save(ci->applied_seq);
    if (s.ok()) s = store_->PruneVectorChanges(id, ci->applied_seq);
    if (s.ok()) {
      ci->dirty = false;
    } else if (first.ok()) {
      first = s;
    }
  }
  return first;
}

void RagService::SetReranker(std::shared_ptr<Reranker> reranker) {
  std::lock_guard lock(mu_);
  reranker_ = std::move(reranker);
}

store::AccessScope RagService::ScopeFor(const RequestContext& ctx, const store::CollectionRecord& c,
                                        const store::MetadataFilter& filter) const {
  store::AccessScope scope;
  scope.tenant = ctx.tenant;
  scope.collection_id = c.id;
  scope.principals = ctx.principals;
  if (!ctx.key_id.empty()) scope.principals.push_back(ctx.key_id);
  scope.all_documents = ctx.all_documents;
  scope.filter = filter;
  return scope;
}

// ------------------------------------------------------------ collections

Awaitable<Result<store::CollectionRecord>> RagService::CreateCollection(const RequestContext& ctx,
                                                                        const std::string& name,
                                                                        const Json& config) {
  auto parsed =
      CollectionConfig::FromJson(config, options_.default_embedding_model, options_.default_dim);
  if (!parsed.ok()) co_return parsed.status();
  const std::string config_json = parsed->ToJson().dump();
  const std::string tenant = ctx.tenant;
  std::function<Result<store::CollectionRecord>()> fn =
      [this, tenant, name, config_json]() -> Result<store::CollectionRecord> {
    ASSIGN_OR_RETURN(auto c, store_->CreateCollection(tenant, name, config_json));
    RETURN_IF_ERROR(IndexFor(c).status());
    return c;
  };
  co_return co_await OnPool<store::CollectionRecord>(*pool_, ctx, std::move(fn));
}

Awaitable<Result<store::CollectionRecord>> RagService::GetCollection(const RequestContext& ctx,
                                                                     const std::string& name) {
  const std::string tenant = ctx.tenant;
  std::function<Result<store::CollectionRecord>()> fn = [this, tenant, name] {
    return store_->GetCollection(tenant, name);
  };
  co_return co_await OnPool<store::CollectionRecord>(*pool_, ctx, std::move(fn));
}

Awaitable<Result<std::vector<store::CollectionRecord>>> RagService::ListCollections(
    const RequestContext& ctx) {
  const std::string tenant = ctx.tenant;
  std::function<Result<std::vector<store::CollectionRecord>>()> fn = [this, tenant] {
    return store_->ListCollections(tenant);
  };
  co_return co_await OnPool<std::vector<store::CollectionRecord>>(*pool_, ctx, std::move(fn));
}

Awaitable<Status> RagService::DeleteCollection(const RequestContext& ctx, const std::string& name) {
  const std::string tenant = ctx.tenant;
  std::function<Result<bool>()> fn = [this, tenant, name]() -> Result<bool> {
    ASSIGN_OR_RETURN(auto c, store_->GetCollection(tenant, name));
    ASSIGN_OR_RETURN(auto ci, IndexFor(c));
    {
      std::lock_guard write(ci->write_mu);
      RETURN_IF_ERROR(store_->DeleteCollection(tenant, name));
      ci->index->Clear();
      ci->dirty = false;
    }
    {
      std::lock_guard lock(mu_);
      indexes_.erase(c.id);
    }
    const std::string path = IndexPath(c.id);
    if (!path.empty()) {
      std::error_code ec;
      fs::remove(path + ".meta", ec);
      fs::remove(path, ec);
    }
    return true;
  };
  auto r = co_await OnPool<bool>(*pool_, ctx, std::move(fn));
  co_return r.status();
}

// ------------------------------------------------------------ documents

Awaitable<Result<std::vector<std::vector<float>>>> RagService::EmbedTexts(
    const RequestContext& ctx, const std::string& model, const std::vector<std::string>& texts) {
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); i += static_cast<size_t>(options_.embed_batch)) {
    providers::EmbeddingRequest req;
    req.model = model;
    req.input = Json::array();
    const size_t end = std::min(texts.size(), i + static_cast<size_t>(options_.embed_batch));
    for (size_t j = i; j < end; ++j) req.input.push_back(texts[j]);
    auto resp = co_await embed_(ctx, std::move(req));
    if (!resp.ok()) co_return resp.status().WithContext("embedding with " + model);
    if (resp->data.size() != end - i)
      co_return UpstreamError("embedding model " + model + " returned " +
                              std::to_string(resp->data.size()) + " vectors for " +
                              std::to_string(end - i) + " inputs");
    for (auto& v : resp->data) out.push_back(std::move(v));
  }
  co_return out;
}

Awaitable<Result<IngestOutcome>> RagService::Ingest(const RequestContext& ctx,
                                                    const std::string& collection,
                                                    IngestInput input) {
  if (input.source.empty() && input.doc_id.empty())
    co_return InvalidArgument("a document needs a source (path or URL) or a doc_id");
  if (input.doc_id.empty()) input.doc_id = DocIdForSource(input.source);
  if (input.source.empty()) input.source = input.doc_id;
  if (input.format.empty()) input.format = FormatFromPath(input.source);
  if (input.format.empty())
    co_return InvalidArgument("unsupported file type '" + FileName(input.source) +
                              "' (supported: .txt .md .html .pdf .json .jsonl)");
  if (!input.metadata.is_object()) co_return InvalidArgument("metadata must be a JSON object");

  // 1. Collection, unchanged check, parse and chunk: blocking work.
  struct Prepared {
    store::CollectionRecord collection;
    CollectionConfig config;
    std::shared_ptr<CollectionIndex> index;
    std::optional<store::DocumentRecord> previous;
    bool unchanged = false;
    std::string hash;
    std::string title;
    std::vector<TextChunk> chunks;
  };
  const std::string tenant = ctx.tenant;
  auto shared_input = std::make_shared<const IngestInput>(std::move(input));
  std::function<Result<Prepared>()> prepare = [this, tenant, collection,
                                               in = shared_input]() -> Result<Prepared> {
    Prepared p;
    auto existing = store_->GetCollection(tenant, collection);
    if (!existing.ok() && existing.status().code() == StatusCode::kNotFound) {
      const std::string config =
          CollectionConfig::FromJson(nullptr, options_.default_embedding_model,
                                     options_.default_dim)
              ->ToJson()
              .dump();
      existing = store_->CreateCollection(tenant, collection, config);
    }
    if (!existing.ok()) return existing.status();
    p.collection = *existing;
    ASSIGN_OR_RETURN(p.config, CollectionConfig::FromJson(
                                   Json::parse(p.collection.config_json, nullptr, false),
                                   options_.default_embedding_model, options_.default_dim));
    ASSIGN_OR_RETURN(p.index, IndexFor(p.collection));
    p.hash = Sha256Hex(in->bytes);
    ASSIGN_OR_RETURN(p.previous, store_->GetDocument(p.collection.id, in->doc_id));
    if (p.previous && p.previous->content_hash == p.hash) {
      p.unchanged = true;
      return p;
    }
    ASSIGN_OR_RETURN(auto parsed, ParseDocument(in->bytes, in->format));
    p.title = !in->title.empty()      ? in->title
              : !parsed.title.empty() ? parsed.title
                                      : FileName(in->source);
    p.chunks = ChunkDocument(parsed, p.config.chunking, options_.count_tokens);
    if (p.chunks.empty()) return InvalidArgument("the document has no text to index");
    return p;
  };
  auto prepared = co_await OnPool<Prepared>(*pool_, ctx, std::move(prepare));
  if (!prepared.ok()) co_return prepared.status();
  if (prepared->unchanged) {
    co_return IngestOutcome{IngestOutcome::Action::kUnchanged, *prepared->previous};
  }

  // 2. Embeddings, through the configured model.
  std::vector<std::string> texts;
  texts.reserve(prepared->chunks.size());
  for (const auto& c : prepared->chunks) texts.push_back(c.text);
  auto vectors = co_await EmbedTexts(ctx, prepared->config.embedding_model, texts);
  if (!vectors.ok()) co_return vectors.status();
  for (const auto& v : *vectors) {
    if (static_cast<int>(v.size()) != prepared->config.dim)
      co_return UpstreamError("embedding model " + prepared->config.embedding_model + " returned " +
                              std::to_string(v.size()) + " dimensions; the collection expects " +
                              std::to_string(prepared->config.dim));
  }

  // 3. One transaction in the store, then the same change in the index.
  store::DocumentRecord doc;
  doc.doc_id = shared_input->doc_id;
  doc.source = shared_input->source;
  doc.title = prepared->title;
  doc.content_hash = prepared->hash;
  doc.format = shared_input->format;
  doc.ingested_at = UnixSeconds(ctx.clock->WallNow());
  doc.bytes = static_cast<int64_t>(shared_input->bytes.size());
  doc.metadata_json = shared_input->metadata.dump();
  doc.acl = shared_input->acl;
  auto rows = std::make_shared<std::vector<store::ChunkRecord>>();
  rows->reserve(prepared->chunks.size());
  for (size_t i = 0; i < prepared->chunks.size(); ++i) {
    auto& c = prepared->chunks[i];
    store::ChunkRecord r;
    r.ordinal = static_cast<int>(i);
    r.text = std::move(c.text);
    r.heading_path = std::move(c.heading_path);
    r.byte_start = c.byte_start;
    r.byte_end = c.byte_end;
    r.page_start = c.page_start;
    r.page_end = c.page_end;
    r.token_count = c.token_count;
    r.embedding = std::move((*vectors)[i]);
    rows->push_back(std::move(r));
  }
  const int64_t collection_id = prepared->collection.id;
  auto ci = prepared->index;
  std::function<Result<store::DocumentRecord>()> commit = [this, collection_id, ci, rows,
                                                           doc]() -> Result<store::DocumentRecord> {
    std::lock_guard write(ci->write_mu);
    ASSIGN_OR_RETURN(auto saved, store_->ReplaceDocument(collection_id, doc, *rows));
    std::unordered_map<int64_t, const std::vector<float>*> known;
    for (const auto& r : *rows) known.emplace(r.id, &r.embedding);
    int64_t seq = ci->applied_seq;
    Status s = ApplyChanges(*store_, collection_id, ci->applied_seq, *ci->index, known, &seq);
    if (!s.ok()) {
      // The store has the document; the index is repaired from it at next start.
      ci->index->Clear();
      return s.WithContext("updating the vector index");
    }
    ci->applied_seq = seq;
    ci->dirty = true;
    return saved;
  };
  auto saved = co_await OnPool<store::DocumentRecord>(*pool_, ctx, std::move(commit));
  if (!saved.ok()) co_return saved.status();
  co_return IngestOutcome{
      prepared->previous ? IngestOutcome::Action::kUpdated : IngestOutcome::Action::kAdded, *saved};
}

Awaitable<Result<std::vector<store::DocumentRecord>>> RagService::ListDocuments(
    const RequestContext& ctx, const std::string& collection, const std::string& after, int limit) {
  const std::string tenant = ctx.tenant;
  std::function<Result<std::vector<store::DocumentRecord>>()> fn =
      [this, tenant, collection, after, limit]() -> Result<std::vector<store::DocumentRecord>> {
    ASSIGN_OR_RETURN(auto c, store_->GetCollection(tenant, collection));
    return store_->ListDocuments(c.id, after, std::clamp(limit, 1, 1000));
  };
  co_return co_await OnPool<std::vector<store::DocumentRecord>>(*pool_, ctx, std::move(fn));
}

Awaitable<Status> RagService::DeleteDocument(const RequestContext& ctx,
                                             const std::string& collection,
                                             const std::string& doc_id) {
  const std::string tenant = ctx.tenant;
  std::function<Result<bool>()> fn = [this, tenant, collection, doc_id]() -> Result<bool> {
    ASSIGN_OR_RETURN(auto c, store_->GetCollection(tenant, collection));
    ASSIGN_OR_RETURN(auto ci, IndexFor(c));
    std::lock_guard write(ci->write_mu);
    RETURN_IF_ERROR(store_->DeleteDocument(c.id, doc_id));
    int64_t seq = ci->applied_seq;
    if (Status s = ApplyChanges(*store_, c.id, ci->applied_seq, *ci->index, {}, &seq); !s.ok()) {
      ci->index->Clear();
      return s;
    }
    ci->applied_seq = seq;
    ci->dirty = true;
    return true;
  };
  auto r = co_await OnPool<bool>(*pool_, ctx, std::move(fn));
  co_return r.status();
}

// ------------------------------------------------------------ search

Result<std::vector<int64_t>> RagService::DenseIds(const store::AccessScope& scope,
                                                  CollectionIndex& ci,
                                                  const std::vector<float>& query, int n) {
  ASSIGN_OR_RETURN(int64_t visible, store_->CountVisibleChunks(scope));
  std::vector<int64_t> ids;
  if (visible == 0) return ids;
  const int64_t total = static_cast<int64_t>(ci.index->size());
  if (visible <= options_.exact_search_max && visible < total) {
    // A small visible subset: exact search over exactly what the scope sees.
    std::vector<std::pair<float, int64_t>> scored;
    int64_t after = 0;
    while (true) {
      ASSIGN_OR_RETURN(auto page, store_->VisibleEmbeddings(scope, after, kPage));
      if (page.empty()) break;
      for (const auto& [id, vec] : page) scored.emplace_back(Dot(query, vec), id);
      after = page.back().first;
    }
    const size_t keep = std::min<size_t>(scored.size(), static_cast<size_t>(n));
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep),
                      scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; i < keep; ++i) ids.push_back(scored[i].second);
    return ids;
  }
  // HNSW, over-fetching in proportion to how much of the index the scope hides;
  // GetChunks (by the caller) drops whatever the scope may not see.
  int64_t fetch =
      static_cast<int64_t>(n) * std::max<int64_t>(1, total / std::max<int64_t>(1, visible)) * 2;
  while (true) {
    fetch = std::min(fetch, std::max<int64_t>(total, n));
    ASSIGN_OR_RETURN(auto hits, ci.index->Search(query, static_cast<size_t>(fetch)));
    std::vector<int64_t> cand;
    for (const auto& h : hits) cand.push_back(h.id);
    ASSIGN_OR_RETURN(auto visible_ids, store_->VisibleIds(scope, cand));
    if (static_cast<int>(visible_ids.size()) >= n || fetch >= total) {
      if (static_cast<int>(visible_ids.size()) > n) visible_ids.resize(static_cast<size_t>(n));
      return visible_ids;
    }
    fetch *= 4;
  }
}

Awaitable<Result<std::vector<SearchHit>>> RagService::Search(
    const RequestContext& ctx, const std::vector<std::string>& collections, SearchRequest request) {
  CO_RETURN_IF_ERROR(request.Validate());
  if (collections.empty()) co_return InvalidArgument("name at least one collection");
  const int n = request.candidates > 0 ? request.candidates : std::max(4 * request.k, 20);

  // Resolve collections (tenant-scoped) and their configs.
  struct Target {
    store::CollectionRecord record;
    CollectionConfig config;
    std::shared_ptr<CollectionIndex> index;
  };
  const std::string tenant = ctx.tenant;
  std::function<Result<std::vector<Target>>()> resolve =
      [this, tenant, collections]() -> Result<std::vector<Target>> {
    std::vector<Target> out;
    for (const auto& name : collections) {
      Target t;
      ASSIGN_OR_RETURN(t.record, store_->GetCollection(tenant, name));
      ASSIGN_OR_RETURN(t.config, CollectionConfig::FromJson(
                                     Json::parse(t.record.config_json, nullptr, false),
                                     options_.default_embedding_model, options_.default_dim));
      ASSIGN_OR_RETURN(t.index, IndexFor(t.record));
      out.push_back(std::move(t));
    }
    return out;
  };
  auto targets = co_await OnPool<std::vector<Target>>(*pool_, ctx, std::move(resolve));
  if (!targets.ok()) co_return targets.status();

  // One query embedding per embedding model in use.
  const bool need_vectors = request.mode != SearchMode::kLexical || request.mmr;
  std::map<std::string, std::vector<float>> query_vectors;
  if (need_vectors) {
    for (const auto& t : *targets) {
      const auto& model = t.config.embedding_model;
      if (query_vectors.count(model)) continue;
      // Named, not a braced temporary: GCC 12 cannot keep an initializer_list
      // array alive across co_await.
      const std::vector<std::string> query_texts = {request.query};
      auto v = co_await EmbedTexts(ctx, model, query_texts);
      if (!v.ok()) co_return v.status();
      query_vectors[model] = std::move(v->front());
    }
  }

  // Candidate lists per collection, access-checked inside the store.
  struct Lists {
    std::vector<std::vector<int64_t>> ranked;  // each list: chunk ids, best first
    std::unordered_map<int64_t, SearchHit> hits;
  };
  auto shared_targets = std::make_shared<std::vector<Target>>(std::move(*targets));
  auto shared_request = std::make_shared<const SearchRequest>(request);
  auto shared_vectors = std::make_shared<const decltype(query_vectors)>(std::move(query_vectors));
  const RequestContext ctx_copy = ctx;
  std::function<Result<Lists>()> retrieve = [this, shared_targets, shared_request, shared_vectors,
                                             ctx_copy, n]() -> Result<Lists> {
    Lists out;
    const auto& req = *shared_request;
    for (auto& t : *shared_targets) {
      const auto scope = ScopeFor(ctx_copy, t.record, req.filter);
      const std::vector<float>* qv = nullptr;
      if (auto it = shared_vectors->find(t.config.embedding_model); it != shared_vectors->end())
        qv = &it->second;
      const size_t first_list = out.ranked.size();
      std::unordered_map<int64_t, double> lexical;
      if (req.mode != SearchMode::kDense) {
        ASSIGN_OR_RETURN(auto lex, store_->LexicalIds(scope, LexicalQueryText(req.query), n));
        std::vector<int64_t> list;
        for (const auto& s : lex) {
          list.push_back(s.id);
          lexical.emplace(s.id, s.score);
        }
        out.ranked.push_back(std::move(list));
      }
      if (req.mode != SearchMode::kLexical && qv) {
        ASSIGN_OR_RETURN(auto ids, DenseIds(scope, *t.index, *qv, n));
        out.ranked.push_back(ids);
      }
      // Every candidate is read once, with the same scope; with a query vector
      // also its embedding (dense similarity for ranking, MMR and the
      // relevance floor of answers).
      std::vector<int64_t> all;
      for (size_t l = first_list; l < out.ranked.size(); ++l)
        all.insert(all.end(), out.ranked[l].begin(), out.ranked[l].end());
      std::sort(all.begin(), all.end());
      all.erase(std::unique(all.begin(), all.end()), all.end());
      ASSIGN_OR_RETURN(auto views,
                       store_->GetChunks(scope, all, /*with_embeddings=*/qv != nullptr));
      for (auto& v : views) {
        SearchHit& h = out.hits[v.chunk.id];
        if (qv && !v.chunk.embedding.empty()) h.dense = Dot(*qv, v.chunk.embedding);
        if (auto it = lexical.find(v.chunk.id); it != lexical.end()) {
          h.lexical = it->second;
          v.score = it->second;
        }
        h.collection = t.record.name;
        h.chunk = std::move(v);
      }
    }
    return out;
  };
  auto lists = co_await OnPool<Lists>(*pool_, ctx, std::move(retrieve));
  if (!lists.ok()) co_return lists.status();

  // Rank: one list is used as is; several are fused (RRF).
  std::vector<FusedId> order;
  auto& hits = lists->hits;
  if (request.mode == SearchMode::kHybrid || lists->ranked.size() > 1) {
    order = ReciprocalRankFusion(lists->ranked, {});
  } else if (!lists->ranked.empty()) {
    for (int64_t id : lists->ranked.front()) {
      const SearchHit& h = hits[id];
      order.push_back(
          {id, request.mode == SearchMode::kDense ? h.dense.value_or(0) : h.lexical.value_or(0)});
    }
  }
  // Ids whose chunk vanished between the two reads are dropped.
  std::erase_if(order, [&](const FusedId& f) {
    auto it = hits.find(f.id);
    return it == hits.end() || it->second.chunk.chunk.id == 0;
  });

  std::vector<SearchHit> result;
  for (const auto& f : order) {
    SearchHit h = std::move(hits[f.id]);
    h.score = f.score;
    result.push_back(std::move(h));
  }

  if (request.rerank) {
    std::shared_ptr<Reranker> reranker;
    {
      std::lock_guard lock(mu_);
      reranker = reranker_;
    }
    if (!reranker) co_return FailedPrecondition("rerank requested but no reranker is configured");
    const size_t m = std::min(result.size(), static_cast<size_t>(n));
    result.resize(m);
    std::vector<std::string> passages;
    for (const auto& h : result) passages.push_back(h.chunk.chunk.text);
    auto scores = co_await reranker->Score(ctx, request.query, passages);
    if (!scores.ok()) co_return scores.status().WithContext("reranking");
    if (scores->size() != result.size())
      co_return InternalError("reranker returned a wrong number of scores");
    for (size_t i = 0; i < result.size(); ++i) result[i].rerank = (*scores)[i];
    std::stable_sort(result.begin(), result.end(), [](const SearchHit& a, const SearchHit& b) {
      return a.rerank.value_or(0) > b.rerank.value_or(0);
    });
  }

  if (request.mmr && result.size() > 1) {
    std::vector<double> relevance;
    std::vector<std::vector<float>> vecs;
    for (const auto& h : result) {
      relevance.push_back(h.dense.value_or(0));
      vecs.push_back(h.chunk.chunk.embedding);
    }
    auto picks = MaximalMarginalRelevance(relevance, vecs, static_cast<size_t>(request.k),
                                          request.mmr_lambda);
    std::vector<SearchHit> diverse;
    for (size_t i : picks) diverse.push_back(std::move(result[i]));
    result = std::move(diverse);
  }
  if (static_cast<int>(result.size()) > request.k) result.resize(request.k);
  for (auto& h : result) h.chunk.chunk.embedding.clear();
  co_return result;
}

}  // namespace gantry::rag
