// SqliteDocumentStore: DocumentStore on one SQLite file (WAL), with FTS5
// (porter + unicode61, external content over `chunks`) for lexical search.
//
// Connections: one writer connection guarded by `write_mu_` (every multi-row
// change is one BEGIN IMMEDIATE transaction on it), plus a pool of read-only
// reader connections; under WAL, reads run concurrently with each other and
// with a write, and each read statement sees the last committed state. An
// in-memory database (":memory:") cannot be shared between connections, so
// there every call goes through the writer under `write_mu_`.
//
// Access control is compiled into the SQL of every read that returns chunks:
// tenant and collection, document ACL, and the MetadataFilter (json_each over
// documents.metadata_json, values bound as parameters).
//
// Thread safety: thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/database.h"
#include "store/document_store.h"

namespace gantry::store {

class SqliteDocumentStore final : public DocumentStore {
 public:
  // Opens or creates `path` and runs the schema migrations.
  // Errors: kUnavailable (cannot open), kInvalidArgument (not a database),
  // kFailedPrecondition (schema newer than this program).
  static Result<std::unique_ptr<SqliteDocumentStore>> Open(const std::string& path);
  ~SqliteDocumentStore() override;

  Result<CollectionRecord> CreateCollection(const std::string& tenant, const std::string& name,
                                            const std::string& config_json) override;
  Result<CollectionRecord> GetCollection(const std::string& tenant,
                                         const std::string& name) override;
  Result<std::vector<CollectionRecord>> ListCollections(const std::string& tenant) override;
  Status DeleteCollection(const std::string& tenant, const std::string& name) override;
  Result<std::vector<CollectionRecord>> AllCollections() override;

  Result<std::optional<DocumentRecord>> GetDocument(int64_t collection_id,
                                                    const std::string& doc_id) override;
  Result<std::vector<DocumentRecord>> ListDocuments(int64_t collection_id,
                                                    const std::string& after_doc_id,
                                                    int limit) override;
  Result<DocumentRecord> ReplaceDocument(int64_t collection_id, DocumentRecord doc,
                                         std::vector<ChunkRecord>& chunks) override;
  Status DeleteDocument(int64_t collection_id, const std::string& doc_id) override;

  Result<std::vector<ChunkView>> LexicalSearch(const AccessScope& scope, const std::string& query,
                                               int k) override;
  Result<std::vector<ScoredId>> LexicalIds(const AccessScope& scope, const std::string& query,
                                           int k) override;
  Result<int64_t> CountVisibleChunks(const AccessScope& scope) override;
  Result<std::vector<int64_t>> VisibleIds(const AccessScope& scope,
                                          const std::vector<int64_t>& ids) override;
  Result<std::vector<ChunkView>> GetChunks(const AccessScope& scope,
                                           const std::vector<int64_t>& ids,
                                           bool with_embeddings) override;
  Result<std::vector<std::pair<int64_t, std::vector<float>>>> VisibleEmbeddings(
      const AccessScope& scope, int64_t after_id, int limit) override;

  Result<std::vector<std::pair<int64_t, std::vector<float>>>> ChunkEmbeddings(int64_t collection_id,
                                                                              int64_t after_id,
                                                                              int limit) override;
  Result<std::vector<VectorChange>> VectorChangesSince(int64_t collection_id, int64_t seq) override;
  Status PruneVectorChanges(int64_t collection_id, int64_t seq) override;

 private:
  SqliteDocumentStore(std::string path, std::unique_ptr<Database> writer);

  // Runs `fn` on a reader connection (or on the writer for ":memory:").
  template <typename T, typename Fn>
  Result<T> WithReader(Fn&& fn);
  // Runs `fn` on the writer connection under `write_mu_`.
  template <typename T, typename Fn>
  Result<T> WithWriter(Fn&& fn);
  // Runs `fn` in one write transaction (BEGIN IMMEDIATE) under `write_mu_`.
  Status WriteTransaction(const std::function<Status(Database&)>& fn);

  const std::string path_;
  const bool shared_connection_;  // ":memory:": no reader pool

  std::mutex write_mu_;
  std::unique_ptr<Database> writer_;  // GUARDED_BY(write_mu_)

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Database>> idle_readers_;  // GUARDED_BY(pool_mu_)
};

}  // namespace gantry::store
