// DocumentStore: the system of record for RAG — collections, documents, their
// chunks with lineage and embeddings, and lexical (full-text) search.
//
// Tenancy and access control are part of every read: each call that returns
// chunks takes an AccessScope, and the implementation applies tenant,
// collection, document ACL and metadata filter inside its query, so nothing a
// caller may not see ever leaves the store.
//
// Vector bookkeeping: every change to a collection's chunks bumps its
// `vector_seq` and records (seq, chunk id, added|removed) in a change log, so
// an in-process vector index saved at seq S can catch up with
// VectorChangesSince(S) instead of being rebuilt.
//
// Thread safety: implementations are thread-safe. Calls block (disk I/O): call
// them from a worker pool, never from an I/O thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/metadata_filter.h"

namespace gantry::store {

struct CollectionRecord {
  int64_t id = 0;
  std::string tenant;
  std::string name;
  std::string config_json = "{}";  // chunking and retrieval options, as JSON
  int64_t created_at = 0;          // unix seconds
  int64_t vector_seq = 0;
  int64_t document_count = 0;
  int64_t chunk_count = 0;
};

struct DocumentRecord {
  int64_t id = 0;  // row id (changes when a document is replaced)
  int64_t collection_id = 0;
  std::string doc_id;  // stable id chosen by the ingester (e.g. from the path)
  std::string source;  // path or URL
  std::string title;
  std::string content_hash;  // hex SHA-256 of the source bytes
  std::string format;        // txt, md, html, pdf, json, jsonl
  int64_t version = 1;       // 1 on first ingest, +1 on each change
  int64_t ingested_at = 0;   // unix seconds
  int64_t bytes = 0;
  std::string metadata_json = "{}";
  // Principals allowed to read it; empty = every key of the tenant.
  std::vector<std::string> acl;
  int64_t chunk_count = 0;
};

struct ChunkRecord {
  int64_t id = 0;  // assigned by the store
  int64_t document_id = 0;
  int ordinal = 0;  // position within the document
  std::string text;
  std::vector<std::string> heading_path;
  int64_t byte_start = 0, byte_end = 0;  // span in the source bytes
  int page_start = 0, page_end = 0;      // 1-based pages (PDF); 0 when not paged
  int token_count = 0;
  std::vector<float> embedding;  // may be empty when the collection has none
};

// A chunk as returned by reads: the record plus its document's lineage.
struct ChunkView {
  ChunkRecord chunk;  // embedding filled only by ChunkEmbeddings/GetChunks(with_embeddings)
  std::string doc_id;
  std::string source;
  std::string title;
  int64_t version = 0;
  int64_t ingested_at = 0;
  std::string metadata_json;
  double score = 0;  // lexical: bm25 turned into "higher is better"
};

// Who is reading and what they may see.
struct AccessScope {
  std::string tenant;
  int64_t collection_id = 0;
  // The reader's principals (key id, groups). A document with a non-empty ACL
  // is visible only if one of these is in it. `all_documents` skips the ACL
  // check (admin keys).
  std::vector<std::string> principals;
  bool all_documents = false;
  MetadataFilter filter;
};

struct ScoredId {
  int64_t id = 0;
  double score = 0;
};

struct VectorChange {
  int64_t seq = 0;
  int64_t chunk_id = 0;
  bool added = true;  // false: removed
};

class DocumentStore {
 public:
  virtual ~DocumentStore() = default;

  // Collections are named per tenant; names are [A-Za-z0-9_.-]{1,64}.
  // Create is idempotent when the collection exists (returns it unchanged).
  virtual Result<CollectionRecord> CreateCollection(const std::string& tenant,
                                                    const std::string& name,
                                                    const std::string& config_json) = 0;
  // kNotFound when the tenant has no such collection (also for another tenant's).
  virtual Result<CollectionRecord> GetCollection(const std::string& tenant,
                                                 const std::string& name) = 0;
  virtual Result<std::vector<CollectionRecord>> ListCollections(const std::string& tenant) = 0;
  // Deletes the collection with all its documents and chunks (one transaction).
  virtual Status DeleteCollection(const std::string& tenant, const std::string& name) = 0;
  // Every collection of every tenant (for index maintenance at start).
  virtual Result<std::vector<CollectionRecord>> AllCollections() = 0;

  virtual Result<std::optional<DocumentRecord>> GetDocument(int64_t collection_id,
                                                            const std::string& doc_id) = 0;
  // Documents ordered by doc_id, starting after `after_doc_id`.
  virtual Result<std::vector<DocumentRecord>> ListDocuments(int64_t collection_id,
                                                            const std::string& after_doc_id,
                                                            int limit) = 0;

  // In one transaction: removes the document with the same doc_id (if any) and
  // its chunks, inserts `doc` (version = previous + 1, or 1) and `chunks` (ids
  // assigned, returned in order in the out-parameter), indexes them for lexical
  // search, and logs the vector changes. Either all of it is visible or none.
  // Errors: kNotFound (no such collection); kInvalidArgument (bad metadata_json
  // or chunk fields, or an embedding whose size differs from the collection's
  // other embeddings) — then nothing changed and `chunks` ids are untouched.
  virtual Result<DocumentRecord> ReplaceDocument(int64_t collection_id, DocumentRecord doc,
                                                 std::vector<ChunkRecord>& chunks) = 0;
  // kNotFound when absent. Removes document, chunks and lexical entries at once.
  virtual Status DeleteDocument(int64_t collection_id, const std::string& doc_id) = 0;

  // Full-text search (bm25) over the chunks visible in `scope`. `query` is
  // user text, not FTS syntax: the store turns it into a safe OR-of-terms query.
  virtual Result<std::vector<ChunkView>> LexicalSearch(const AccessScope& scope,
                                                       const std::string& query, int k) = 0;
  // The same ranking as LexicalSearch, ids and scores only (best first): the
  // chunks' text is read for the winners alone (GetChunks).
  virtual Result<std::vector<ScoredId>> LexicalIds(const AccessScope& scope,
                                                   const std::string& query, int k) = 0;
  // How many chunks `scope` can see (for choosing exact vs. HNSW dense search).
  virtual Result<int64_t> CountVisibleChunks(const AccessScope& scope) = 0;
  // The ids among `ids` that `scope` can see, in the order of `ids` (a repeated
  // id once): the access check alone, without reading the chunks.
  virtual Result<std::vector<int64_t>> VisibleIds(const AccessScope& scope,
                                                  const std::vector<int64_t>& ids) = 0;
  // The visible chunks among `ids`, in the order of `ids`; unknown or hidden
  // ids are silently absent. With `with_embeddings`, ChunkRecord::embedding is filled.
  virtual Result<std::vector<ChunkView>> GetChunks(const AccessScope& scope,
                                                   const std::vector<int64_t>& ids,
                                                   bool with_embeddings) = 0;
  // Ids and embeddings of all visible chunks with id > after_id, ascending, at
  // most `limit` (exact dense search over a filtered subset). Here and in
  // ChunkEmbeddings, chunks stored without an embedding are skipped; a stored
  // embedding that is not a float32 array gives kInternal naming the chunk.
  virtual Result<std::vector<std::pair<int64_t, std::vector<float>>>> VisibleEmbeddings(
      const AccessScope& scope, int64_t after_id, int limit) = 0;

  // Index maintenance (no access check: internal use).
  virtual Result<std::vector<std::pair<int64_t, std::vector<float>>>> ChunkEmbeddings(
      int64_t collection_id, int64_t after_id, int limit) = 0;
  // Changes with seq > `seq`, by seq (removals before additions within one).
  // kFailedPrecondition when `seq` is below what was pruned or above the
  // collection's vector_seq: the index cannot catch up and must be rebuilt.
  virtual Result<std::vector<VectorChange>> VectorChangesSince(int64_t collection_id,
                                                               int64_t seq) = 0;
  // Drops change-log entries at or below `seq` (after an index saved at seq).
  virtual Status PruneVectorChanges(int64_t collection_id, int64_t seq) = 0;
};

// The SQLite implementation (FTS5 for lexical search). `path` is the database
// file (created with its schema when absent; migrations run at open).
class SqliteDocumentStore;
Result<std::unique_ptr<DocumentStore>> OpenSqliteDocumentStore(const std::string& path);

}  // namespace gantry::store
