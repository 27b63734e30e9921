// gantry-rag-bench: retrieval quality and speed of the RAG service, through the
// same RagService, SQLite store, HNSW index and local MiniLM the server uses.
// bench/rag.sh runs it next to the reference tools; see docs/benchmarks.md.
//
//   gantry-rag-bench quality --corpus examples/rag-eval/corpus
//       --questions examples/rag-eval/questions.jsonl [--dump-chunks FILE]
//     recall@5, MRR@10 and nDCG@10 over documents (and the share of questions
//     whose evidence sentence is in a top-5 chunk) for lexical, dense and
//     hybrid search, per question kind; then how the answer stage's relevance
//     floor (rag.min_similarity) splits answerable from unanswerable questions.
//
//   gantry-rag-bench ingest --corpus DIR [--copies N]
//     ingestion throughput with the real MiniLM: MB/s, chunks/s, embeddings/s.
//
//   gantry-rag-bench latency --chunks 100000 [--queries 300]
//     builds a collection of synthetic documents (sentences of the corpus,
//     recombined) and measures search latency p50/p99 per mode. Chunk vectors
//     are the normalized mean of the chunk's sentences' MiniLM vectors (each
//     distinct sentence embedded once): real MiniLM geometry without spending
//     hours embedding 100k chunks on two cores. Queries are embedded by MiniLM
//     directly, inside the measured time.
//
// Every subcommand works in a fresh temporary data directory (--data to keep one).
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "jsonl.h"
#include "providers/local_provider.h"
#include "rag/answer.h"
#include "rag/document_parser.h"
#include "rag/rag_service.h"
#include "rag/retrieval_metrics.h"
#include "store/document_store.h"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using gantry::RequestContext;
using gantry::Result;
using gantry::providers::Awaitable;
using gantry::providers::EmbeddingRequest;
using gantry::providers::EmbeddingResponse;
using gantry::providers::LocalEmbeddingModel;
using gantry::rag::RagService;
using gantry::rag::SearchMode;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "gantry-rag-bench: " << what << "\n";
  std::exit(1);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

template <typename T>
asio::awaitable<std::optional<T>> WrapOptional(asio::awaitable<T> aw) {
  co_return std::optional<T>(co_await std::move(aw));
}

// Runs one awaitable to completion on `io` (the bench is single-threaded).
template <typename T>
T Run(asio::io_context& io, asio::awaitable<T> aw) {
  auto fut = asio::co_spawn(io, WrapOptional(std::move(aw)), asio::use_future);
  io.restart();
  io.run();
  return std::move(*fut.get());
}

template <typename T>
T Check(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().message());
  return std::move(*r);
}

struct TempDir {
  fs::path path;
  bool keep = false;
  explicit TempDir(const std::string& given) {
    if (!given.empty()) {
      path = given;
      keep = true;
      std::error_code ec;
      if (fs::exists(path, ec) && !fs::is_empty(path, ec))
        Die("--data " + given + " must be empty or absent");
      fs::create_directories(path, ec);
      return;
    }
    std::string tmpl = (fs::temp_directory_path() / "gantry-rag-bench-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) Die("cannot create a temporary directory");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!keep) fs::remove_all(path, ec);
  }
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) Die("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// ---------------------------------------------------------------------------
// Embedding functions handed to the RagService.

// Wall time with at least one embedding request in flight (requests of
// concurrent ingests overlap) and texts embedded. The coroutines all run on
// the bench's one io thread, so no locking.
struct EmbedStats {
  int in_flight = 0;
  Clock::time_point busy_since;
  Clock::duration busy{};
  int64_t texts = 0;
};

Awaitable<Result<EmbeddingResponse>> EmbedTimed(std::shared_ptr<LocalEmbeddingModel> model,
                                                std::shared_ptr<EmbedStats> stats,
                                                RequestContext ctx, EmbeddingRequest req) {
  if (stats->in_flight++ == 0) stats->busy_since = Clock::now();
  auto r = co_await model->Embed(ctx, req);
  if (--stats->in_flight == 0) stats->busy += Clock::now() - stats->busy_since;
  stats->texts += static_cast<int64_t>(req.InputCount());
  co_return r;
}

std::vector<std::string> Sentences(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    size_t b = cur.find_first_not_of(" \t");
    size_t e = cur.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
    cur.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      flush();
      continue;
    }
    cur += c;
    if ((c == '.' || c == '?' || c == '!') && i + 1 < text.size() &&
        (text[i + 1] == ' ' || text[i + 1] == '\n'))
      flush();
  }
  flush();
  return out;
}

// Chunk vector = normalized mean of its sentences' MiniLM vectors, each
// distinct sentence embedded once (see the header). With `direct` set (the
// search phase), texts are embedded by MiniLM as they are.
struct SentenceMeanEmbedder {
  std::shared_ptr<LocalEmbeddingModel> model;
  std::unordered_map<std::string, std::vector<float>> cache;
  bool direct = false;
  int64_t sentences_embedded = 0;
};

Awaitable<Result<EmbeddingResponse>> EmbedSentenceMean(std::shared_ptr<SentenceMeanEmbedder> e,
                                                       RequestContext ctx, EmbeddingRequest req) {
  if (e->direct) co_return co_await e->model->Embed(ctx, req);
  std::vector<std::string> texts;
  if (req.input.is_array()) {
    for (const auto& t : req.input) texts.push_back(t.get<std::string>());
  } else {
    texts.push_back(req.input.get<std::string>());
  }
  std::vector<std::vector<std::string>> parts;
  std::vector<std::string> missing;
  std::set<std::string> queued;
  for (const auto& t : texts) {
    parts.push_back(Sentences(t));
    for (const auto& s : parts.back()) {
      if (!e->cache.count(s) && queued.insert(s).second) missing.push_back(s);
    }
  }
  for (size_t i = 0; i < missing.size(); i += 64) {
    EmbeddingRequest sub;
    sub.model = req.model;
    sub.input = Json::array();
    for (size_t j = i; j < std::min(missing.size(), i + 64); ++j) sub.input.push_back(missing[j]);
    auto r = co_await e->model->Embed(ctx, sub);
    if (!r.ok()) co_return r.status();
    for (size_t j = 0; j < r->data.size(); ++j) e->cache[missing[i + j]] = std::move(r->data[j]);
    e->sentences_embedded += static_cast<int64_t>(r->data.size());
  }
  EmbeddingResponse out;
  out.model = req.model;
  for (const auto& ps : parts) {
    std::vector<float> v(static_cast<size_t>(e->model->dim()), 0.0f);
    for (const auto& s : ps) {
      const auto& sv = e->cache[s];
      for (size_t d = 0; d < v.size(); ++d) v[d] += sv[d];
    }
    double norm = 0;
    for (float x : v) norm += static_cast<double>(x) * x;
    norm = std::sqrt(norm);
    if (norm > 0)
      for (float& x : v) x = static_cast<float>(x / norm);
    out.data.push_back(std::move(v));
  }
  co_return out;
}

// The production path: every text through the local MiniLM, timed.
gantry::rag::EmbedFn TimedEmbedFn(std::shared_ptr<LocalEmbeddingModel> model,
                                  std::shared_ptr<EmbedStats> stats) {
  return [model, stats](const RequestContext& ctx, EmbeddingRequest req) {
    return EmbedTimed(model, stats, ctx, std::move(req));
  };
}

// ---------------------------------------------------------------------------

struct Common {
  std::string models = "models";
  std::string data;
  int threads = 2;
};

std::shared_ptr<LocalEmbeddingModel> OpenMiniLm(const Common& c) {
  gantry::providers::LocalEmbeddingOptions o;
  o.model_dir = (fs::path(c.models) / "all-MiniLM-L6-v2").string();
  o.threads = c.threads;
  o.max_queue = 1 << 20;
  return Check(LocalEmbeddingModel::Create(o),
               "loading " + o.model_dir + " (run build/gantry models pull)");
}

std::unique_ptr<RagService> OpenService(const fs::path& dir,
                                        std::shared_ptr<LocalEmbeddingModel> model,
                                        gantry::rag::EmbedFn embed, int threads) {
  auto store = Check(gantry::store::OpenSqliteDocumentStore((dir / "gantry.db").string()),
                     "opening the store");
  gantry::rag::RagServiceOptions o;
  o.data_dir = dir.string();
  o.default_embedding_model = "all-MiniLM-L6-v2";
  o.default_dim = model->dim();
  o.threads = static_cast<size_t>(threads);
  o.save_interval = std::chrono::seconds(3600);  // saved by Flush, timed separately
  o.count_tokens = [model](std::string_view t) { return model->TokenCount(t); };
  return Check(RagService::Open(std::move(store), std::move(embed), std::move(o), nullptr),
               "opening the RAG service");
}

RequestContext BenchCtx() {
  RequestContext ctx;
  ctx.tenant = "bench";
  return ctx;
}

struct CorpusFile {
  std::string source;  // relative to the corpus root, with '/'
  std::string bytes;
};

std::vector<CorpusFile> LoadCorpus(const std::string& root) {
  std::vector<CorpusFile> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) Die("no corpus directory " + root);
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    if (gantry::rag::FormatFromPath(it->path().string()).empty()) continue;
    out.push_back({fs::relative(it->path(), root).generic_string(), ReadFile(it->path())});
  }
  std::sort(out.begin(), out.end(),
            [](const CorpusFile& a, const CorpusFile& b) { return a.source < b.source; });
  if (out.empty()) Die("no supported files under " + root);
  return out;
}

struct IngestTotals {
  int64_t documents = 0, bytes = 0, chunks = 0, errors = 0;
  double seconds = 0;
};

// Ingests `files` with `concurrency` documents in flight.
IngestTotals IngestAll(asio::io_context& io, RagService& rag, const std::string& collection,
                       const std::vector<CorpusFile>& files, int concurrency,
                       const std::function<Json(size_t)>& metadata, bool progress) {
  IngestTotals t;
  const auto ctx = BenchCtx();
  std::atomic<size_t> next{0};
  auto worker = [&]() -> asio::awaitable<void> {
    for (;;) {
      const size_t i = next++;
      if (i >= files.size()) co_return;
      gantry::rag::IngestInput in;
      in.source = files[i].source;
      in.bytes = files[i].bytes;
      if (metadata) in.metadata = metadata(i);
      auto r = co_await rag.Ingest(ctx, collection, std::move(in));
      if (!r.ok()) {
        ++t.errors;
        std::cerr << files[i].source << ": " << r.status().message() << "\n";
        continue;
      }
      ++t.documents;
      t.bytes += static_cast<int64_t>(files[i].bytes.size());
      t.chunks += r->document.chunk_count;
      if (progress && t.documents % 500 == 0)
        std::cerr << "\r  ingested " << t.documents << "/" << files.size() << " documents, "
                  << t.chunks << " chunks" << std::flush;
    }
  };
  const auto t0 = Clock::now();
  for (int w = 0; w < concurrency; ++w) asio::co_spawn(io, worker(), asio::detached);
  io.restart();
  io.run();
  t.seconds = Seconds(Clock::now() - t0);
  if (progress) std::cerr << "\n";
  return t;
}

// ---------------------------------------------------------------------------
// quality

struct Question {
  std::string id, question, evidence, kind;
  std::set<std::string> relevant;
};

std::vector<Question> LoadQuestions(const std::string& path) {
  std::vector<Question> out;
  gantry::bench::ForEachJsonLine("gantry-rag-bench", path, [&](const Json& j, int n) {
    Question q;
    q.id = j.value("id", "");
    q.question = j.value("question", "");
    q.evidence = j.value("evidence", "");
    q.kind = j.value("kind", "");
    for (const auto& r : j.value("relevant", Json::array()))
      q.relevant.insert(r.get<std::string>());
    if (q.question.empty()) Die(path + ":" + std::to_string(n) + ": no question");
    out.push_back(std::move(q));
  });
  return out;
}

std::string Squash(std::string_view s) {
  std::string out;
  bool space = false;
  for (unsigned char c : s) {
    if (std::isspace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

struct Scores {
  int n = 0;
  double recall5 = 0, mrr10 = 0, ndcg10 = 0, evidence5 = 0;
  void Add(double r, double m, double g, double e) {
    ++n;
    recall5 += r;
    mrr10 += m;
    ndcg10 += g;
    evidence5 += e;
  }
  Json ToJson() const {
    const double d = n ? n : 1;
    return {{"questions", n},
            {"recall@5", recall5 / d},
            {"mrr@10", mrr10 / d},
            {"ndcg@10", ndcg10 / d},
            {"evidence@5", evidence5 / d}};
  }
};

void DumpChunks(const fs::path& db, const std::string& out_path) {
  auto store = Check(gantry::store::OpenSqliteDocumentStore(db.string()), "reopening the store");
  auto c = Check(store->GetCollection("bench", "eval"), "reading the collection");
  gantry::store::AccessScope scope;
  scope.tenant = "bench";
  scope.collection_id = c.id;
  scope.all_documents = true;
  std::ofstream out(out_path);
  if (!out) Die("cannot write " + out_path);
  int64_t after = 0;
  for (;;) {
    auto page = Check(store->VisibleEmbeddings(scope, after, 1000), "listing chunks");
    if (page.empty()) break;
    std::vector<int64_t> ids;
    for (const auto& [id, v] : page) ids.push_back(id);
    after = ids.back();
    for (const auto& v : Check(store->GetChunks(scope, ids, false), "reading chunks"))
      out << Json{{"id", v.chunk.id}, {"source", v.source}, {"text", v.chunk.text}}.dump() << "\n";
  }
}

int Quality(const Common& common, const std::string& corpus, const std::string& questions_path,
            const std::string& dump_chunks, bool json_out) {
  TempDir dir(common.data);
  asio::io_context io;
  auto model = OpenMiniLm(common);
  auto stats = std::make_shared<EmbedStats>();
  auto rag = OpenService(dir.path, model, TimedEmbedFn(model, stats), common.threads);
  const auto files = LoadCorpus(corpus);
  const auto questions = LoadQuestions(questions_path);
  std::cerr << "ingesting " << files.size() << " files...\n";
  const auto totals = IngestAll(io, *rag, "eval", files, 2, nullptr, false);
  if (totals.errors) Die(std::to_string(totals.errors) + " corpus files failed to ingest");
  std::cerr << "  " << totals.documents << " documents, " << totals.chunks << " chunks in "
            << totals.seconds << " s\n";
  if (!dump_chunks.empty()) {
    if (auto s = rag->Flush(); !s.ok()) Die(s.message());
    DumpChunks(dir.path / "gantry.db", dump_chunks);
  }

  const auto ctx = BenchCtx();
  const std::vector<std::string> collections = {"eval"};
  Json report = {{"documents", totals.documents},
                 {"chunks", totals.chunks},
                 {"questions", questions.size()},
                 {"modes", Json::object()}};
  // Hybrid top-5 hits per question, for the relevance-floor sweep.
  std::vector<std::vector<gantry::rag::SearchHit>> hybrid_top;
  for (SearchMode mode : {SearchMode::kLexical, SearchMode::kDense, SearchMode::kHybrid}) {
    std::map<std::string, Scores> by_kind;
    for (const auto& q : questions) {
      gantry::rag::SearchRequest req;
      req.query = q.question;
      req.k = 50;
      req.mode = mode;
      auto hits = Check(Run(io, rag->Search(ctx, collections, req)), "search for " + q.id);
      if (mode == SearchMode::kHybrid)
        hybrid_top.emplace_back(hits.begin(), hits.begin() + std::min<size_t>(5, hits.size()));
      if (q.relevant.empty()) continue;
      std::vector<std::string> sources;
      for (const auto& h : hits) sources.push_back(h.chunk.source);
      const auto docs = gantry::rag::UniqueInOrder(sources);
      double evidence = 0;
      const std::string ev = Squash(q.evidence);
      for (size_t i = 0; i < std::min<size_t>(5, hits.size()) && !ev.empty(); ++i) {
        if (Squash(hits[i].chunk.chunk.text).find(ev) != std::string::npos) evidence = 1;
      }
      const double r = gantry::rag::RecallAtK(docs, q.relevant, 5);
      const double m = gantry::rag::ReciprocalRankAtK(docs, q.relevant, 10);
      const double g = gantry::rag::NdcgAtK(docs, q.relevant, 10);
      by_kind[q.kind].Add(r, m, g, evidence);
      by_kind["all"].Add(r, m, g, evidence);
    }
    Json m = Json::object();
    for (const auto& [kind, s] : by_kind) m[kind] = s.ToJson();
    report["modes"][gantry::rag::SearchModeName(mode)] = m;
  }

  // The answer stage's relevance floor: a question is answered when at least
  // one of its hybrid top-5 hits clears rag.min_similarity (SelectSources).
  Json sweep = Json::array();
  const auto count = [model](std::string_view t) { return model->TokenCount(t); };
  for (double floor = 0.10; floor < 0.651; floor += 0.05) {
    std::map<std::string, std::pair<int, int>> answered;  // group -> (answered, total)
    for (size_t i = 0; i < questions.size(); ++i) {
      gantry::rag::RagOptions o;
      o.min_similarity = floor;
      const bool answers = !gantry::rag::SelectSources(hybrid_top[i], o, count).empty();
      const std::string group = questions[i].relevant.empty() ? questions[i].kind : "answerable";
      answered[group].first += answers ? 1 : 0;
      answered[group].second += 1;
    }
    Json row = {{"min_similarity", std::round(floor * 100) / 100}};
    for (const auto& [group, n] : answered)
      row[group + "_answered"] = static_cast<double>(n.first) / n.second;
    sweep.push_back(row);
  }
  report["relevance_floor"] = sweep;

  if (json_out) {
    std::cout << report.dump() << "\n";
    return 0;
  }
  std::cout << "Corpus: " << totals.documents << " documents, " << totals.chunks << " chunks; "
            << questions.size() << " questions\n\n";
  std::cout << "| mode | questions | recall@5 | MRR@10 | nDCG@10 | evidence in top-5 chunks |\n"
               "|---|---|---|---|---|---|\n";
  for (const char* mode : {"lexical", "dense", "hybrid"}) {
    for (const auto& [kind, s] : report["modes"][mode].items()) {
      if (kind != "all") continue;
      std::printf("| %s | %d | %.3f | %.3f | %.3f | %.3f |\n", mode, s["questions"].get<int>(),
                  s["recall@5"].get<double>(), s["mrr@10"].get<double>(),
                  s["ndcg@10"].get<double>(), s["evidence@5"].get<double>());
    }
  }
  std::cout << "\nBy question kind (nDCG@10):\n\n| kind | lexical | dense | hybrid |\n"
               "|---|---|---|---|\n";
  for (const auto& [kind, s] : report["modes"]["hybrid"].items()) {
    if (kind == "all") continue;
    std::printf("| %s (%d) | %.3f | %.3f | %.3f |\n", kind.c_str(), s["questions"].get<int>(),
                report["modes"]["lexical"][kind]["ndcg@10"].get<double>(),
                report["modes"]["dense"][kind]["ndcg@10"].get<double>(),
                s["ndcg@10"].get<double>());
  }
  std::cout << "\nRelevance floor (hybrid, k=5): share of questions that get sources (an "
               "answer) rather than the don't-know reply\n\n"
               "| min_similarity | answerable | unanswerable (on topic) | off-topic |\n"
               "|---|---|---|---|\n";
  for (const auto& s : sweep)
    std::printf("| %.2f | %.3f | %.3f | %.3f |\n", s["min_similarity"].get<double>(),
                s.value("answerable_answered", 0.0), s.value("unanswerable_answered", 0.0),
                s.value("offtopic_answered", 0.0));
  return 0;
}

// ---------------------------------------------------------------------------
// ingest

int IngestThroughput(const Common& common, const std::string& corpus, int copies, int concurrency) {
  TempDir dir(common.data);
  asio::io_context io;
  auto model = OpenMiniLm(common);
  auto stats = std::make_shared<EmbedStats>();
  auto rag = OpenService(dir.path, model, TimedEmbedFn(model, stats), common.threads);
  const auto base = LoadCorpus(corpus);
  std::vector<CorpusFile> files;
  for (int c = 0; c < copies; ++c) {
    for (const auto& f : base)
      files.push_back({"copy" + std::to_string(c) + "/" + f.source, f.bytes});
  }
  std::cerr << "ingesting " << files.size() << " files (" << copies << " copies of " << corpus
            << ")...\n";
  const auto t = IngestAll(io, *rag, "ingest", files, concurrency, nullptr, true);
  const auto f0 = Clock::now();
  if (auto s = rag->Flush(); !s.ok()) Die(s.message());
  const double flush_s = Seconds(Clock::now() - f0);
  const double embed_s = Seconds(stats->busy);
  const double mb = static_cast<double>(t.bytes) / 1e6;
  Json r = {{"documents", t.documents},
            {"errors", t.errors},
            {"mb", mb},
            {"chunks", t.chunks},
            {"seconds", t.seconds},
            {"mb_s", mb / t.seconds},
            {"chunks_s", static_cast<double>(t.chunks) / t.seconds},
            {"embeddings_s", static_cast<double>(stats->texts) / t.seconds},
            {"embed_share", embed_s / t.seconds},
            {"flush_s", flush_s},
            {"threads", common.threads},
            {"concurrency", concurrency}};
  std::cout << r.dump() << "\n";
  return 0;
}

// ---------------------------------------------------------------------------
// latency

int Latency(const Common& common, const std::string& corpus, const std::string& questions_path,
            int64_t target_chunks, int nqueries, int concurrency) {
  TempDir dir(common.data);
  asio::io_context io;
  auto model = OpenMiniLm(common);
  auto embedder = std::make_shared<SentenceMeanEmbedder>();
  embedder->model = model;
  gantry::rag::EmbedFn embed = [embedder](const RequestContext& ctx, EmbeddingRequest req) {
    return EmbedSentenceMean(embedder, ctx, std::move(req));
  };
  auto rag = OpenService(dir.path, model, embed, common.threads);

  // Sentence pool from the corpus' parsed text.
  std::vector<std::string> pool;
  {
    std::set<std::string> seen;
    for (const auto& f : LoadCorpus(corpus)) {
      auto doc = gantry::rag::ParseDocument(f.bytes, gantry::rag::FormatFromPath(f.source));
      if (!doc.ok()) continue;
      for (const auto& b : doc->blocks) {
        if (b.kind == gantry::rag::BlockKind::kHeading) continue;
        for (auto& s : Sentences(b.text)) {
          // Whole sentences only: a fragment without its full stop would merge
          // with the next one when the chunk is split again.
          const char end = s.empty() ? ' ' : s.back();
          if (s.size() >= 40 && s.size() <= 240 && (end == '.' || end == '?' || end == '!') &&
              seen.insert(s).second)
            pool.push_back(s);
        }
      }
    }
  }
  if (pool.size() < 100) Die("the corpus gives too few sentences for synthetic documents");
  const auto questions = LoadQuestions(questions_path);

  // Synthetic documents: 10 sections of 4 random pool sentences, headings
  // from small sets (so the heading prefixes are shared sentences too).
  constexpr int kSections = 10;
  const int64_t ndocs = (target_chunks + kSections - 1) / kSections;
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  const std::vector<std::string> topics = {"Operations", "Fleet",   "Safety", "Finance",
                                           "Research",   "Support", "Travel", "Platform"};
  std::vector<CorpusFile> files;
  files.reserve(static_cast<size_t>(ndocs));
  for (int64_t d = 0; d < ndocs; ++d) {
    std::string md = "# " + topics[static_cast<size_t>(d) % topics.size()] + " report\n\n";
    for (int s = 0; s < kSections; ++s) {
      md += "## Part " + std::to_string(s + 1) + "\n\n";
      for (int k = 0; k < 4; ++k) md += pool[pick(rng)] + " ";
      md += "\n\n";
    }
    files.push_back({"synthetic/doc" + std::to_string(d) + ".md", std::move(md)});
  }
  // team: 1 in 100 documents per value; year: 2015..2024, 1 in 10 each.
  auto metadata = [](size_t i) {
    return Json{{"team", "t" + std::to_string(i % 100)},
                {"year", 2015 + static_cast<int>((i / 7) % 10)}};
  };
  std::cerr << "ingesting " << files.size() << " synthetic documents from " << pool.size()
            << " sentences...\n";
  const auto t = IngestAll(io, *rag, "bench", files, concurrency, metadata, true);
  if (t.errors) Die(std::to_string(t.errors) + " synthetic documents failed");
  const auto f0 = Clock::now();
  if (auto s = rag->Flush(); !s.ok()) Die(s.message());
  const double flush_s = Seconds(Clock::now() - f0);

  // Reopen: the index loads from its saved file (what a restart costs).
  rag.reset();
  const auto o0 = Clock::now();
  rag = OpenService(dir.path, model, embed, common.threads);
  const double reopen_s = Seconds(Clock::now() - o0);
  embedder->direct = true;

  const auto ctx = BenchCtx();
  const std::vector<std::string> collections = {"bench"};
  struct Case {
    std::string name;
    SearchMode mode;
    Json filter;
  };
  const std::vector<Case> cases = {
      {"lexical", SearchMode::kLexical, nullptr},
      {"dense", SearchMode::kDense, nullptr},
      {"hybrid", SearchMode::kHybrid, nullptr},
      {"dense, filter 1% (exact)", SearchMode::kDense, {{"team", "t7"}}},
      {"dense, filter 30% (HNSW + re-check)", SearchMode::kDense, {{"year", {{"$gte", 2022}}}}},
      {"hybrid, filter 30%", SearchMode::kHybrid, {{"year", {{"$gte", 2022}}}}},
  };
  Json out = {{"chunks", t.chunks},
              {"documents", t.documents},
              {"mb", static_cast<double>(t.bytes) / 1e6},
              {"ingest_s", t.seconds},
              {"ingest_chunks_s", static_cast<double>(t.chunks) / t.seconds},
              {"ingest_mb_s", static_cast<double>(t.bytes) / 1e6 / t.seconds},
              {"sentences_embedded", embedder->sentences_embedded},
              {"flush_s", flush_s},
              {"reopen_s", reopen_s},
              {"cases", Json::array()}};
  // Query embedding alone, for reference.
  {
    std::vector<double> ms;
    for (int i = 0; i < nqueries; ++i) {
      EmbeddingRequest req;
      req.input = questions[static_cast<size_t>(i) % questions.size()].question;
      const auto q0 = Clock::now();
      Check(Run(io, model->Embed(ctx, req)), "embedding a query");
      ms.push_back(Seconds(Clock::now() - q0) * 1e3);
    }
    out["cases"].push_back({{"case", "query embedding only (MiniLM)"},
                            {"p50_ms", Percentile(ms, 0.5)},
                            {"p99_ms", Percentile(ms, 0.99)}});
  }
  for (const auto& c : cases) {
    gantry::rag::SearchRequest req;
    req.k = 10;
    req.mode = c.mode;
    if (!c.filter.is_null())
      req.filter = Check(gantry::store::MetadataFilter::Parse(c.filter), "filter");
    // Warm-up: the first queries page the database and index in.
    for (int i = 0; i < 5; ++i) {
      req.query = questions[static_cast<size_t>(i) % questions.size()].question;
      Check(Run(io, rag->Search(ctx, collections, req)), "search");
    }
    std::vector<double> ms;
    size_t hits = 0;
    for (int i = 0; i < nqueries; ++i) {
      req.query = questions[static_cast<size_t>(i) % questions.size()].question;
      const auto q0 = Clock::now();
      auto r = Check(Run(io, rag->Search(ctx, collections, req)), "search");
      ms.push_back(Seconds(Clock::now() - q0) * 1e3);
      hits += r.size();
    }
    out["cases"].push_back({{"case", c.name},
                            {"p50_ms", Percentile(ms, 0.5)},
                            {"p99_ms", Percentile(ms, 0.99)},
                            {"mean_hits", static_cast<double>(hits) / nqueries}});
  }
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gantry RAG benchmark"};
  app.require_subcommand(1);
  Common common;
  if (const char* m = std::getenv("GANTRY_MODELS")) common.models = m;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--models", common.models,
                    "models directory (default $GANTRY_MODELS or models)");
    sub->add_option("--data", common.data,
                    "keep the data directory here (default: a temporary one)");
    sub->add_option("--threads", common.threads, "MiniLM and worker threads")
        ->check(CLI::Range(1, 64));
  };
  std::string corpus = "examples/rag-eval/corpus";
  std::string questions = "examples/rag-eval/questions.jsonl";

  auto* quality = app.add_subcommand("quality", "retrieval quality on a golden question set");
  add_common(quality);
  std::string dump_chunks;
  bool json_out = false;
  quality->add_option("--corpus", corpus);
  quality->add_option("--questions", questions);
  quality->add_option("--dump-chunks", dump_chunks,
                      "write the chunks as JSONL (for bench/rag_ref.py)");
  quality->add_flag("--json", json_out, "one JSON object instead of tables");

  auto* ingest = app.add_subcommand("ingest", "ingestion throughput with the real MiniLM");
  add_common(ingest);
  int copies = 1, concurrency = 2;
  ingest->add_option("--corpus", corpus);
  ingest->add_option("--copies", copies, "ingest the corpus this many times")
      ->check(CLI::Range(1, 1000));
  ingest->add_option("--concurrency", concurrency, "documents in flight")->check(CLI::Range(1, 64));

  auto* latency = app.add_subcommand("latency", "search latency on a large synthetic collection");
  add_common(latency);
  int64_t chunks = 100000;
  int nqueries = 300;
  latency->add_option("--corpus", corpus, "source of the sentences");
  latency->add_option("--questions", questions, "queries");
  latency->add_option("--chunks", chunks)->check(CLI::Range(int64_t{100}, int64_t{10'000'000}));
  latency->add_option("--queries", nqueries)->check(CLI::Range(10, 100000));
  latency->add_option("--concurrency", concurrency, "documents in flight while building")
      ->check(CLI::Range(1, 64));

  CLI11_PARSE(app, argc, argv);
  if (*quality) return Quality(common, corpus, questions, dump_chunks, json_out);
  if (*ingest) return IngestThroughput(common, corpus, copies, concurrency);
  return Latency(common, corpus, questions, chunks, nqueries, concurrency);
}
