// VectorIndex: approximate nearest-neighbour search over unit vectors (cosine
// similarity = inner product), one index per collection. HnswIndex adapts
// hnswlib (its headers stay in vector_index.cc).
//
// Persistence: Save() writes the index to `path` and a sidecar `path.meta`
// (JSON: format version, dim, count, the store's vector_seq it reflects, and
// the xxh64 of the index file) via temp files and rename, so a crash leaves the
// previous pair or the new one. Open() trusts a file only when the sidecar
// matches it (hash, dim); otherwise it starts empty and reports
// loaded_seq() == -1 so the caller rebuilds from the store — a corrupt or
// hostile index file is never handed to hnswlib.
//
// Thread safety: thread-safe; searches run concurrently, writes are exclusive.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace gantry::rag {

struct VectorHit {
  int64_t id = 0;
  float similarity = 0;  // inner product of unit vectors (cosine)
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  // Adds or replaces the vector for `id`. kInvalidArgument on a dimension
  // mismatch or a non-finite value. The vector is normalized to unit length.
  virtual Status Upsert(int64_t id, std::span<const float> vector) = 0;
  // Removing an absent id is not an error.
  virtual Status Remove(int64_t id) = 0;
  // Up to k nearest live vectors, best first. The query is normalized too
  // (so similarities are cosines); kInvalidArgument on a dimension mismatch or
  // a non-finite value.
  virtual Result<std::vector<VectorHit>> Search(std::span<const float> query, size_t k) const = 0;
  virtual size_t size() const = 0;  // live vectors
  virtual int dim() const = 0;
};

struct HnswOptions {
  int dim = 384;
  int m = 16;
  int ef_construction = 200;
  int ef_search = 64;              // raised to k when k is larger
  size_t initial_capacity = 1024;  // grows by doubling
};

class HnswIndex final : public VectorIndex {
 public:
  // Loads `path` if it and its sidecar are valid and match `options.dim`;
  // otherwise an empty index (loaded_seq() == -1). `path` "" = memory only.
  // Errors only for bad options or an unwritable directory.
  static Result<std::unique_ptr<HnswIndex>> Open(const std::string& path,
                                                 const HnswOptions& options);
  ~HnswIndex() override;

  Status Upsert(int64_t id, std::span<const float> vector) override;
  Status Remove(int64_t id) override;
  Result<std::vector<VectorHit>> Search(std::span<const float> query, size_t k) const override;
  size_t size() const override;
  int dim() const override;

  // The store seq the loaded file reflected, -1 when nothing valid was loaded.
  int64_t loaded_seq() const;
  // Empties the index (before a rebuild).
  void Clear();
  // Writes index + sidecar atomically, recording `seq`. No-op for path "".
  Status Save(int64_t seq);

 private:
  struct Impl;
  explicit HnswIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gantry::rag
