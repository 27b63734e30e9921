// RagService: collections, ingestion and retrieval for one gantry process.
//
// It owns the DocumentStore (system of record) and one HNSW index per
// collection under `<data_dir>/vectors/`, kept consistent with the store:
//   - ingestion commits a document and its chunks in one store transaction,
//     then applies the same change to the index before acknowledging;
//   - indexes are saved every `save_interval` and by Flush() (at shutdown),
//     recording the store's vector_seq; at Open() an index that is missing,
//     corrupt or behind is caught up from the store's change log or rebuilt,
//     never trusted blindly;
//   - dense hits are re-read through the store with the caller's AccessScope,
//     so a stale index entry can never surface a deleted or hidden chunk.
//
// Every call takes the RequestContext: its tenant selects the collection
// namespace and its principals/all_documents the document ACL, inside the
// store's queries.
//
// Thread safety: thread-safe. The coroutines run blocking work on an internal
// pool and embeddings through `embed` on the caller's executor.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/logging.h"
#include "core/request_context.h"
#include "core/thread_pool.h"
#include "providers/chat_model.h"
#include "rag/chunker.h"
#include "rag/retrieval.h"
#include "rag/vector_index.h"
#include "store/document_store.h"

namespace gantry::rag {

using providers::Awaitable;

// How the service computes embeddings (the gateway's Embed in production).
using EmbedFn = std::function<Awaitable<Result<providers::EmbeddingResponse>>(
    const RequestContext&, providers::EmbeddingRequest)>;

// Per-collection settings, stored as the collection's config_json.
struct CollectionConfig {
  ChunkingOptions chunking;
  std::string embedding_model;  // "" = the service default
  int dim = 384;
  // kInvalidArgument naming the field; unknown fields are rejected.
  static Result<CollectionConfig> FromJson(const nlohmann::json& j,
                                           const std::string& default_model, int default_dim);
  nlohmann::json ToJson() const;
};

struct RagServiceOptions {
  std::string data_dir;                 // vectors/ lives under it; "" = indexes in memory only
  std::string default_embedding_model;  // used by collections that name none
  int default_dim = 384;
  TokenCounter count_tokens;  // empty = ApproximateTokenCounter()
  size_t threads = 2;         // blocking work (parsing, SQLite)
  int embed_batch = 32;       // texts per embedding request
  // Filtered searches over at most this many visible chunks are exact; larger
  // ones search HNSW with over-fetch.
  int64_t exact_search_max = 4096;
  std::chrono::seconds save_interval{30};
  HnswOptions hnsw;
};

struct IngestInput {
  std::string doc_id;  // "" = derived from source
  std::string source;  // path or URL (lineage)
  std::string bytes;
  std::string format;  // "" = from the source's extension
  std::string title;   // "" = from the document, else the file name
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<std::string> acl;
};

struct IngestOutcome {
  enum class Action { kAdded, kUpdated, kUnchanged };
  Action action = Action::kAdded;
  store::DocumentRecord document;
};
const char* IngestActionName(IngestOutcome::Action a);

struct SearchRequest {
  std::string query;
  int k = 5;
  SearchMode mode = SearchMode::kHybrid;
  store::MetadataFilter filter;
  bool mmr = false;
  double mmr_lambda = 0.5;
  int candidates = 0;   // per retriever before fusion; 0 = max(4k, 20)
  bool rerank = false;  // uses the reranker given to SetReranker
  // kInvalidArgument for k outside 1..100, an empty query, lambda outside [0, 1].
  Status Validate() const;
};

struct SearchHit {
  store::ChunkView chunk;
  std::string collection;
  double score = 0;               // the ranking score of the mode (fused for hybrid)
  std::optional<double> lexical;  // bm25 (higher is better) when matched lexically
  std::optional<double> dense;    // cosine similarity when computed
  std::optional<double> rerank;   // reranker score when reranked
};

class RagService final {
 public:
  static Result<std::unique_ptr<RagService>> Open(std::unique_ptr<store::DocumentStore> store,
                                                  EmbedFn embed, RagServiceOptions options,
                                                  LoggerPtr logger);
  ~RagService();  // flushes dirty indexes

  // Idempotent: an existing collection is returned unchanged.
  Awaitable<Result<store::CollectionRecord>> CreateCollection(const RequestContext& ctx,
                                                              const std::string& name,
                                                              const nlohmann::json& config);
  Awaitable<Result<store::CollectionRecord>> GetCollection(const RequestContext& ctx,
                                                           const std::string& name);
  Awaitable<Result<std::vector<store::CollectionRecord>>> ListCollections(
      const RequestContext& ctx);
  Awaitable<Status> DeleteCollection(const RequestContext& ctx, const std::string& name);

  // Creates the collection (default config) when absent. A document whose
  // bytes hash like the stored version is left alone (kUnchanged); a changed
  // one replaces its chunks atomically. Errors name what was wrong with the
  // document (parse errors are kInvalidArgument).
  Awaitable<Result<IngestOutcome>> Ingest(const RequestContext& ctx, const std::string& collection,
                                          IngestInput input);
  Awaitable<Result<std::vector<store::DocumentRecord>>> ListDocuments(const RequestContext& ctx,
                                                                      const std::string& collection,
                                                                      const std::string& after,
                                                                      int limit);
  Awaitable<Status> DeleteDocument(const RequestContext& ctx, const std::string& collection,
                                   const std::string& doc_id);

  // Searches one or more collections of ctx.tenant; hits from several are
  // fused by rank. kNotFound names a missing collection.
  Awaitable<Result<std::vector<SearchHit>>> Search(const RequestContext& ctx,
                                                   const std::vector<std::string>& collections,
                                                   SearchRequest request);

  void SetReranker(std::shared_ptr<Reranker> reranker);
  // Saves every index changed since its last save.
  Status Flush();
  const RagServiceOptions& options() const { return options_; }

  // The stable document id for a source path or URL (what Ingest uses when
  // IngestInput::doc_id is empty).
  static std::string DocIdForSource(const std::string& source);

 private:
  struct CollectionIndex;
  RagService(std::unique_ptr<store::DocumentStore> store, EmbedFn embed, RagServiceOptions options,
             LoggerPtr logger);

  Status LoadIndexes();
  Status SyncIndex(const store::CollectionRecord& c, CollectionIndex& index);
  Result<std::shared_ptr<CollectionIndex>> IndexFor(const store::CollectionRecord& c);
  std::string IndexPath(int64_t collection_id) const;
  store::AccessScope ScopeFor(const RequestContext& ctx, const store::CollectionRecord& c,
                              const store::MetadataFilter& filter) const;
  Awaitable<Result<std::vector<std::vector<float>>>> EmbedTexts(
      const RequestContext& ctx, const std::string& model, const std::vector<std::string>& texts);
  Result<std::vector<int64_t>> DenseIds(const store::AccessScope& scope, CollectionIndex& index,
                                        const std::vector<float>& query, int n);
  void SaverLoop();

  std::unique_ptr<store::DocumentStore> store_;
  EmbedFn embed_;
  RagServiceOptions options_;
  LoggerPtr logger_;
  std::unique_ptr<ThreadPool> pool_;
  std::shared_ptr<Reranker> reranker_;  // GUARDED_BY(mu_)

  std::mutex mu_;
  std::map<int64_t, std::shared_ptr<CollectionIndex>> indexes_;  // GUARDED_BY(mu_)

  std::mutex saver_mu_;
  std::condition_variable saver_cv_;
  bool stopping_ = false;  // GUARDED_BY(saver_mu_)
  std::thread saver_;
};

}  // namespace gantry::rag
