#include "rag/vector_index.h"

#include <hnswlib/hnswlib.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <sstream>

namespace gantry::rag {
namespace {

namespace fs = std::filesystem;
constexpr int kFormatVersion = 1;

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Status WriteFileAtomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Unavailable("cannot write " + tmp);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return Unavailable("short write to " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Unavailable("cannot rename " + tmp + ": " + ec.message());
  return OkStatus();
}

// `v` scaled to unit length. A zero vector stays zero (its similarity to
// everything is 0); non-finite values are rejected.
Result<std::vector<float>> Normalized(std::span<const float> v, const char* what) {
  double norm = 0;
  for (float x : v) {
    if (!std::isfinite(x))
      return InvalidArgument(std::string("vector index: ") + what + " has a non-finite value");
    norm += static_cast<double>(x) * x;
  }
  std::vector<float> unit(v.begin(), v.end());
  if (norm > 0) {
    // In double: 1 / norm overflows a float for tiny (denormal) vectors.
    const double len = std::sqrt(norm);
    for (float& x : unit) x = static_cast<float>(x / len);
  }
  return unit;
}

}  // namespace

struct HnswIndex::Impl {
  HnswOptions options;
  std::string path;
  hnswlib::InnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
  int64_t loaded_seq = -1;
  size_t live = 0;
  mutable std::shared_mutex mu;

  Impl(const HnswOptions& o, std::string p) : options(o), path(std::move(p)), space(o.dim) {}

  void MakeEmpty() {
    hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        &space, std::max<size_t>(options.initial_capacity, 16), options.m, options.ef_construction);
    // hnswlib searches with max(ef, k).
    hnsw->setEf(options.ef_search);
    live = 0;
  }

  // Loads `path` only if the sidecar vouches for it; a mismatch is not an
  // error, just a reason to rebuild.
  void TryLoad() {
    if (path.empty()) return;
    auto meta_bytes = ReadWholeFile(path + ".meta");
    if (!meta_bytes.ok()) return;
    auto meta = nlohmann::json::parse(*meta_bytes, nullptr, /*allow_exceptions=*/false);
    if (!meta.is_object() || meta.value("format", 0) != kFormatVersion ||
        meta.value("dim", 0) != options.dim || !meta.contains("seq") ||
        !meta["seq"].is_number_integer() || !meta.contains("xxh64") || !meta["xxh64"].is_string() ||
        !meta.contains("live") || !meta["live"].is_number_unsigned())
      return;
    auto data = ReadWholeFile(path);
    if (!data.ok()) return;
    if (Hex64(XXH64(data->data(), data->size(), 0)) != meta["xxh64"].get<std::string>()) return;
    try {
      auto loaded = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, path);
      loaded->setEf(options.ef_search);
      hnsw = std::move(loaded);
      live = meta["live"].get<size_t>();
      loaded_seq = meta["seq"].get<int64_t>();
    } catch (const std::exception&) {
      // Falls back to an empty index; the caller rebuilds it from the store.
    }
  }
};

HnswIndex::HnswIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HnswIndex::~HnswIndex() = default;

Result<std::unique_ptr<HnswIndex>> HnswIndex::Open(const std::string& path,
                                                   const HnswOptions& options) {
  if (options.dim < 1 || options.dim > 8192)
    return InvalidArgument("vector index: dim must be in 1..8192, got " +
                           std::to_string(options.dim));
  if (options.m < 2 || options.m > 128 || options.ef_construction < options.m ||
      options.ef_search < 1)
    return InvalidArgument("vector index: bad HNSW parameters (m 2..128, ef_construction >= m)");
  if (!path.empty()) {
    std::error_code ec;
    fs::path dir = fs::path(path).parent_path();
    if (!dir.empty()) fs::create_directories(dir, ec);
    if (ec) return Unavailable("vector index: cannot create " + dir.string() + ": " + ec.message());
  }
  auto impl = std::make_unique<Impl>(options, path);
  impl->MakeEmpty();
  impl->TryLoad();
  return std::unique_ptr<HnswIndex>(new HnswIndex(std::move(impl)));
}

Status HnswIndex::Upsert(int64_t id, std::span<const float> vector) {
  if (static_cast<int>(vector.size()) != impl_->options.dim)
    return InvalidArgument("vector index: vector has " + std::to_string(vector.size()) +
                           " dimensions, the index " + std::to_string(impl_->options.dim));
  ASSIGN_OR_RETURN(std::vector<float> unit, Normalized(vector, "vector"));
  if (std::all_of(unit.begin(), unit.end(), [](float v) { return v == 0; }))
    return InvalidArgument("vector index: zero vector");

  std::unique_lock lock(impl_->mu);
  auto& h = *impl_->hnsw;
  const auto label = static_cast<hnswlib::labeltype>(id);
  auto it = h.label_lookup_.find(label);
  const bool exists = it != h.label_lookup_.end();
  const bool was_deleted = exists && h.isMarkedDeleted(it->second);
  try {
    if (!exists && h.cur_element_count >= h.max_elements_) h.resizeIndex(h.max_elements_ * 2);
    h.addPoint(unit.data(), label);
  } catch (const std::exception& e) {
    return InternalError(std::string("vector index: ") + e.what());
  }
  if (!exists || was_deleted) ++impl_->live;
  return OkStatus();
}

Status HnswIndex::Remove(int64_t id) {
  std::unique_lock lock(impl_->mu);
  auto& h = *impl_->hnsw;
  auto it = h.label_lookup_.find(static_cast<hnswlib::labeltype>(id));
  if (it == h.label_lookup_.end() || h.isMarkedDeleted(it->second)) return OkStatus();
  h.markDelete(static_cast<hnswlib::labeltype>(id));
  --impl_->live;
  return OkStatus();
}

Result<std::vector<VectorHit>> HnswIndex::Search(std::span<const float> query, size_t k) const {
  if (static_cast<int>(query.size()) != impl_->options.dim)
    return InvalidArgument("vector index: query has " + std::to_string(query.size()) +
                           " dimensions, the index " + std::to_string(impl_->options.dim));
  // Normalized so that similarities are cosines whatever the query's length.
  ASSIGN_OR_RETURN(std::vector<float> unit, Normalized(query, "query"));
  std::vector<VectorHit> hits;
  if (k == 0) return hits;
  std::shared_lock lock(impl_->mu);
  if (impl_->live == 0) return hits;
  std::priority_queue<std::pair<float, hnswlib::labeltype>> pq;
  try {
    pq = impl_->hnsw->searchKnn(unit.data(), k);
  } catch (const std::exception& e) {
    return InternalError(std::string("vector index search: ") + e.what());
  }
  hits.resize(pq.size());
  for (size_t i = pq.size(); i-- > 0;) {
    // InnerProductSpace distance is 1 - <a, b>.
    hits[i] = {static_cast<int64_t>(pq.top().second), 1.0f - pq.top().first};
    pq.pop();
  }
  return hits;
}

size_t HnswIndex::size() const {
  std::shared_lock lock(impl_->mu);
  return impl_->live;
}

int HnswIndex::dim() const { return impl_->options.dim; }

int64_t HnswIndex::loaded_seq() const {
  std::shared_lock lock(impl_->mu);
  return impl_->loaded_seq;
}

void HnswIndex::Clear() {
  std::unique_lock lock(impl_->mu);
  impl_->MakeEmpty();
  impl_->loaded_seq = -1;
}

Status HnswIndex::Save(int64_t seq) {
  if (impl_->path.empty()) return OkStatus();
  // Exclusive: hnswlib's saveIndex reads the graph without its own locks.
  std::unique_lock lock(impl_->mu);
  const std::string tmp = impl_->path + ".tmp-index";
  try {
    impl_->hnsw->saveIndex(tmp);
  } catch (const std::exception& e) {
    return Unavailable(std::string("vector index: cannot save: ") + e.what());
  }
  auto data = ReadWholeFile(tmp);
  if (!data.ok()) return Unavailable("vector index: cannot read back " + tmp);
  std::error_code ec;
  // Sidecar first would vouch for a file not yet in place; so: drop the old
  // sidecar, move the index, then write the new sidecar. A crash in between
  // leaves an index without a sidecar, which Open() ignores.
  fs::remove(impl_->path + ".meta", ec);
  fs::rename(tmp, impl_->path, ec);
  if (ec) return Unavailable("vector index: cannot rename " + tmp + ": " + ec.message());
  nlohmann::json meta = {{"format", kFormatVersion},
                         {"dim", impl_->options.dim},
                         {"live", impl_->live},
                         {"seq", seq},
                         {"xxh64", Hex64(XXH64(data->data(), data->size(), 0))}};
  RETURN_IF_ERROR(WriteFileAtomic(impl_->path + ".meta", meta.dump()));
  impl_->loaded_seq = seq;
  return OkStatus();
}

}  // namespace gantry::rag
