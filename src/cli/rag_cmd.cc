#include "cli/rag_cmd.h"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cli/rag_setup.h"
#include "core/ids.h"
#include "gateway/gateway_config.h"
#include "providers/http_client.h"
#include "providers/openai_codec.h"
#include "rag/document_parser.h"

namespace gantry::cli {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using Json = nlohmann::json;
template <typename T>
using Awaitable = asio::awaitable<T>;

// Both ways of reaching RAG: in-process on a data directory, or over HTTP.
class RagClient {
 public:
  virtual ~RagClient() = default;
  // {"status": "added|updated|unchanged", "chunks": N, ...} or an error.
  virtual Awaitable<Result<Json>> Ingest(const std::string& collection, rag::IngestInput in) = 0;
  // All documents of the collection ({"doc_id", "source"}).
  virtual Awaitable<Result<std::vector<Json>>> Documents(const std::string& collection) = 0;
  virtual Awaitable<Status> Delete(const std::string& collection, const std::string& doc_id) = 0;
  // The chat completion response (JSON) for a RAG request.
  virtual Awaitable<Result<Json>> Ask(const std::string& model, const std::string& question,
                                      const Json& rag, int max_tokens) = 0;
};

class LocalClient final : public RagClient {
 public:
  static Result<std::unique_ptr<LocalClient>> Open(const RagClientFlags& f) {
    auto log = Logger::Open(LogLevel::kWarn);
    if (!log.ok()) return log.status();
    auto doc = f.config_file.empty()
                   ? ConfigDoc::Parse(gateway::EmbeddedDefaultConfig(), "<embedded defaults>")
                   : ConfigDoc::Load(f.config_file);
    if (!doc.ok()) return doc.status();
    std::unique_ptr<LocalClient> c(new LocalClient());
    c->doc_ = *doc;
    const ConfigNode root = c->doc_->Root();
    ASSIGN_OR_RETURN(c->gw_, gateway::BuildGateway(root, *log));
    ASSIGN_OR_RETURN(c->rag_, OpenRag(root, *c->gw_, f.data_dir, *log));
    if (!c->rag_)
      return FailedPrecondition("retrieval is disabled in this configuration (no embedding model)");
    c->gw_->SetRag(c->rag_.get());
    return c;
  }
  ~LocalClient() override {
    rag_.reset();
    gw_.reset();
  }

  Awaitable<Result<Json>> Ingest(const std::string& collection, rag::IngestInput in) override {
    RequestContext ctx;
    auto r = co_await rag_->Ingest(ctx, collection, std::move(in));
    if (!r.ok()) co_return r.status();
    co_return Json{{"status", rag::IngestActionName(r->action)},
                   {"doc_id", r->document.doc_id},
                   {"chunks", r->document.chunk_count},
                   {"version", r->document.version}};
  }

  Awaitable<Result<std::vector<Json>>> Documents(const std::string& collection) override {
    RequestContext ctx;
    std::vector<Json> out;
    std::string after;
    for (;;) {
      auto page = co_await rag_->ListDocuments(ctx, collection, after, 1000);
      if (!page.ok()) co_return page.status();
      if (page->empty()) break;
      for (const auto& d : *page) out.push_back({{"doc_id", d.doc_id}, {"source", d.source}});
      after = page->back().doc_id;
    }
    co_return out;
  }

  Awaitable<Status> Delete(const std::string& collection, const std::string& doc_id) override {
    RequestContext ctx;
    co_return co_await rag_->DeleteDocument(ctx, collection, doc_id);
  }

  Awaitable<Result<Json>> Ask(const std::string& model, const std::string& question,
                              const Json& rag, int max_tokens) override {
    RequestContext ctx;
    providers::ChatRequest req;
    req.model = model.empty() ? FirstChatModel() : model;
    if (req.model.empty()) co_return FailedPrecondition("no chat model is configured");
    providers::ChatMessage m;
    m.role = "user";
    m.content = question;
    req.messages.push_back(std::move(m));
    req.temperature = 0;
    req.max_tokens = max_tokens;
    req.extra["rag"] = rag;
    auto r = co_await gw_->Complete(ctx, std::move(req));
    if (!r.ok()) co_return r.status();
    co_return providers::ChatResponseToJson(*r);
  }

 private:
  LocalClient() = default;
  std::string FirstChatModel() const {
    for (const auto& m : gw_->ListModels()) {
      if (!gw_->EmbeddingProvider(m.id)) return m.id;
    }
    return "";
  }
  std::shared_ptr<const ConfigDoc> doc_;
  std::unique_ptr<gateway::Gateway> gw_;
  std::unique_ptr<rag::RagService> rag_;
};

std::string UrlEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

class HttpRagClient final : public RagClient {
 public:
  static Result<std::unique_ptr<HttpRagClient>> Open(const RagClientFlags& f) {
    std::unique_ptr<HttpRagClient> c(new HttpRagClient());
    std::string base = f.server;
    while (!base.empty() && base.back() == '/') base.pop_back();
    c->base_ = base;
    ASSIGN_OR_RETURN(auto url, providers::HttpUrl::Parse(base));
    (void)url;
    c->key_ = f.api_key;
    if (c->key_.empty()) c->key_ = ProcessEnv("GANTRY_API_KEY").value_or("dev");
    providers::HttpClientOptions o;
    o.max_response_bytes = 256u << 20;
    ASSIGN_OR_RETURN(c->http_, providers::HttpClient::Create(o));
    return c;
  }

  Awaitable<Result<Json>> Ingest(const std::string& collection, rag::IngestInput in) override {
    Json doc = {{"source", in.source},
                {"content_base64", Base64Encode(in.bytes)},
                {"metadata", in.metadata},
                {"acl", in.acl}};
    if (!in.format.empty()) doc["format"] = in.format;
    auto r = co_await Call("POST", "/v1/collections/" + UrlEncode(collection) + "/documents",
                           doc.dump());
    if (!r.ok()) co_return r.status();
    if (!r->contains("data") || (*r)["data"].empty()) co_return UpstreamError("empty reply");
    Json d = (*r)["data"][0];
    co_return Json{{"status", d.value("status", "")},
                   {"doc_id", d.value("doc_id", "")},
                   {"chunks", d.value("chunks", 0)},
                   {"version", d.value("version", 0)}};
  }

  Awaitable<Result<std::vector<Json>>> Documents(const std::string& collection) override {
    std::vector<Json> out;
    std::string after;
    for (;;) {
      auto r = co_await Call("GET",
                             "/v1/collections/" + UrlEncode(collection) +
                                 "/documents?limit=1000&after=" + UrlEncode(after),
                             "");
      if (!r.ok()) co_return r.status();
      const Json& data = (*r)["data"];
      if (!data.is_array() || data.empty()) break;
      for (const auto& d : data) out.push_back(d);
      after = data.back().value("doc_id", "");
    }
    co_return out;
  }

  Awaitable<Status> Delete(const std::string& collection, const std::string& doc_id) override {
    auto r = co_await Call(
        "DELETE", "/v1/collections/" + UrlEncode(collection) + "/documents/" + UrlEncode(doc_id),
        "");
    co_return r.status();
  }

  Awaitable<Result<Json>> Ask(const std::string& model, const std::string& question,
                              const Json& rag, int max_tokens) override {
    std::string chosen = model;
    if (chosen.empty()) {
      auto models = co_await Call("GET", "/v1/models", "");
      if (!models.ok()) co_return models.status();
      // The first model that is not the embedding default.
      for (const auto& m : (*models)["data"]) {
        std::string id = m.value("id", "");
        if (id != gateway::kDefaultEmbeddingModelName) {
          chosen = id;
          break;
        }
      }
      if (chosen.empty()) co_return FailedPrecondition("the server has no chat model");
    }
    Json body = {{"model", chosen},
                 {"messages", Json::array({{{"role", "user"}, {"content", question}}})},
                 {"temperature", 0},
                 {"max_tokens", max_tokens},
                 {"rag", rag}};
    co_return co_await Call("POST", "/v1/chat/completions", body.dump());
  }

 private:
  HttpRagClient() = default;

  Awaitable<Result<Json>> Call(const std::string& method, const std::string& path,
                               std::string body) {
    providers::HttpRequest req;
    req.method = method;
    auto url = providers::HttpUrl::Parse(base_ + path);
    if (!url.ok()) co_return url.status();
    req.url = *url;
    req.headers = {{"authorization", "Bearer " + key_}, {"content-type", "application/json"}};
    req.body = std::move(body);
    req.deadline = Deadline::After(SystemClock::Get(), Millis(600'000));
    auto resp = co_await http_->Send(std::move(req));
    if (!resp.ok())
      co_return Unavailable("cannot reach gantry at " + base_ + ": " + resp.status().message() +
                            " (is `gantry serve` running there?)");
    Json j = Json::parse(resp->body, nullptr, false);
    if (resp->status / 100 != 2) {
      std::string msg = j.is_object() && j.contains("error") && j["error"].is_object()
                            ? j["error"].value("message", resp->body)
                            : resp->body;
      StatusCode code = resp->status == 404   ? StatusCode::kNotFound
                        : resp->status == 401 ? StatusCode::kUnauthenticated
                        : resp->status == 400 ? StatusCode::kInvalidArgument
                                              : StatusCode::kUpstream;
      co_return Status(code, msg);
    }
    if (j.is_discarded()) co_return UpstreamError("gantry answered with invalid JSON");
    co_return j;
  }

  std::string base_;
  std::string key_;
  std::shared_ptr<providers::HttpClient> http_;
};

Result<std::unique_ptr<RagClient>> OpenClient(const RagClientFlags& f) {
  if (!f.server.empty() && !f.data_dir.empty())
    return InvalidArgument("give either --server or --data, not both");
  if (!f.server.empty()) {
    ASSIGN_OR_RETURN(auto c, HttpRagClient::Open(f));
    return std::unique_ptr<RagClient>(std::move(c));
  }
  RagClientFlags local = f;
  if (local.data_dir.empty()) local.data_dir = "data";
  ASSIGN_OR_RETURN(auto c, LocalClient::Open(local));
  return std::unique_ptr<RagClient>(std::move(c));
}

template <typename T>
Awaitable<std::optional<T>> WrapOptional(Awaitable<T> aw) {
  co_return std::optional<T>(co_await std::move(aw));
}

// Runs `aw` to completion on `io`. The client must be destroyed before `io`
// (pooled sockets belong to it).
template <typename T>
T RunSync(asio::io_context& io, Awaitable<T> aw) {
  auto fut = asio::co_spawn(io, WrapOptional(std::move(aw)), asio::use_future);
  io.run();
  return std::move(*fut.get());
}

struct FileItem {
  std::string path;    // as found on disk
  std::string source;  // lineage: the path as given / walked, with '/'
  bool supported = true;
};

// Files under the given paths, sorted per root; unsupported files are listed
// (skipped) only when named directly.
Result<std::vector<FileItem>> CollectFiles(const std::vector<std::string>& paths, int* skipped) {
  std::vector<FileItem> out;
  for (const auto& p : paths) {
    std::error_code ec;
    auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) return NotFound("no such file or directory: " + p);
    if (fs::is_directory(st)) {
      std::vector<FileItem> found;
      for (auto it = fs::recursive_directory_iterator(
               p, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') continue;
        std::string path = it->path().generic_string();
        if (rag::FormatFromPath(path).empty()) {
          ++*skipped;
          continue;
        }
        found.push_back({path, rag::RagService::DocIdForSource(path), true});
      }
      if (ec) return Unavailable("cannot walk " + p + ": " + ec.message());
      std::sort(found.begin(), found.end(),
                [](const FileItem& a, const FileItem& b) { return a.path < b.path; });
      out.insert(out.end(), found.begin(), found.end());
    } else {
      std::string path = fs::path(p).generic_string();
      out.push_back(
          {path, rag::RagService::DocIdForSource(path), !rag::FormatFromPath(path).empty()});
    }
  }
  return out;
}

Result<std::string> ReadFile(const std::string& path, int64_t max_bytes) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return Unavailable("cannot read: " + ec.message());
  if (static_cast<int64_t>(size) > max_bytes)
    return InvalidArgument("file is " + std::to_string(size) + " bytes, over the limit of " +
                           std::to_string(max_bytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable("cannot open the file");
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size)) return Unavailable("short read");
  return bytes;
}

std::string HumanBytes(double b) {
  char buf[32];
  if (b >= 1 << 20) {
    std::snprintf(buf, sizeof buf, "%.1f MB", b / (1 << 20));
  } else if (b >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KB", b / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f B", b);
  }
  return buf;
}

class Progress {
 public:
  Progress(std::ostream& err, size_t total, bool quiet)
      : err_(err), total_(total), quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}
  void Update(size_t done, const std::string& current, const std::string& status) {
    if (quiet_) return;
    if (!tty_) {
      if (status.empty()) return;  // a line per finished file
      err_ << "[" << done << "/" << total_ << "] " << current << ": " << status << "\n";
      return;
    }
    const int width = 30;
    const int filled = total_ ? static_cast<int>(width * done / total_) : width;
    std::string bar(static_cast<size_t>(filled), '=');
    if (filled < width) bar += '>';
    bar.resize(width, ' ');
    std::string name = current.size() > 40 ? "…" + current.substr(current.size() - 39) : current;
    err_ << "\r\033[K[" << bar << "] " << done << "/" << total_ << "  " << name << std::flush;
  }
  void Done() {
    if (!quiet_ && tty_) err_ << "\r\033[K" << std::flush;
  }

 private:
  std::ostream& err_;
  size_t total_;
  bool quiet_;
  bool tty_;
};

Awaitable<int> IngestMain(const IngestFlags& flags, RagClient& client, std::ostream& out,
                          std::ostream& err) {
  int skipped = 0;
  auto files = CollectFiles(flags.paths, &skipped);
  if (!files.ok()) {
    err << "gantry ingest: " << files.status().message() << "\n";
    co_return 2;
  }
  Json metadata = Json::object();
  if (!flags.metadata_json.empty()) {
    metadata = Json::parse(flags.metadata_json, nullptr, false);
    if (!metadata.is_object()) {
      err << "gantry ingest: --metadata must be a JSON object\n";
      co_return 2;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  Progress progress(err, files->size(), flags.quiet);
  int added = 0, updated = 0, unchanged = 0;
  int64_t chunks = 0, bytes = 0;
  std::vector<std::pair<std::string, std::string>> failures;
  std::set<std::string> seen;
  for (size_t i = 0; i < files->size(); ++i) {
    const FileItem& f = (*files)[i];
    seen.insert(f.source);
    progress.Update(i, f.path, "");
    std::string status;
    if (!f.supported) {
      failures.emplace_back(f.path,
                            "unsupported file type (supported: .txt .md .html .pdf .json .jsonl)");
      progress.Update(i + 1, f.path, "failed");
      continue;
    }
    auto data = ReadFile(f.path, rag::ParseOptions().max_bytes);
    if (!data.ok()) {
      failures.emplace_back(f.path, data.status().message());
      progress.Update(i + 1, f.path, "failed");
      continue;
    }
    bytes += static_cast<int64_t>(data->size());
    rag::IngestInput in;
    in.source = f.source;
    in.bytes = std::move(*data);
    in.metadata = metadata;
    in.acl = flags.acl;
    auto r = co_await client.Ingest(flags.collection, std::move(in));
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kUnavailable ||
          r.status().code() == StatusCode::kUnauthenticated) {
        progress.Done();
        err << "gantry ingest: " << r.status().message() << "\n";
        co_return 2;
      }
      failures.emplace_back(f.path, r.status().message());
      progress.Update(i + 1, f.path, "failed: " + r.status().message());
      continue;
    }
    status = r->value("status", "");
    if (status == "added") ++added;
    if (status == "updated") ++updated;
    if (status == "unchanged") ++unchanged;
    if (status != "unchanged") chunks += r->value("chunks", 0);
    progress.Update(i + 1, f.path, status);
  }
  int pruned = 0;
  if (flags.prune) {
    std::vector<std::string> roots;
    for (const auto& p : flags.paths) {
      if (fs::is_directory(p)) {
        std::string root = rag::RagService::DocIdForSource(fs::path(p).generic_string());
        if (!root.empty() && root.back() != '/') root += '/';
        roots.push_back(root);
      }
    }
    auto docs = co_await client.Documents(flags.collection);
    if (!docs.ok()) {
      err << "gantry ingest: cannot list documents to prune: " << docs.status().message() << "\n";
    } else {
      for (const auto& d : *docs) {
        const std::string source = d.value("source", "");
        const bool under = std::any_of(roots.begin(), roots.end(), [&](const std::string& r) {
          return r == "/" || source.rfind(r, 0) == 0 || (r == "./" && source.find('/') == 0);
        });
        if (!under || seen.count(source)) continue;
        Status s = co_await client.Delete(flags.collection, d.value("doc_id", ""));
        if (s.ok()) ++pruned;
      }
    }
  }
  progress.Done();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out << "collection " << flags.collection << ": " << added << " added, " << updated << " updated, "
      << unchanged << " unchanged, " << failures.size() << " failed";
  if (flags.prune) out << ", " << pruned << " removed";
  if (skipped) out << " (" << skipped << " other files skipped)";
  out << "\n";
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.2f MB/s", secs > 0 ? bytes / secs / (1 << 20) : 0.0);
  out << chunks << " chunks from " << HumanBytes(static_cast<double>(bytes)) << " in "
      << static_cast<int64_t>(secs * 1000) / 1000.0 << " s (" << rate << ")\n";
  for (const auto& [path, msg] : failures) out << "  failed: " << path << ": " << msg << "\n";
  co_return failures.empty() ? 0 : 1;
}

Awaitable<int> AskMain(const AskFlags& flags, RagClient& client, std::ostream& out,
                       std::ostream& err) {
  Json rag = {{"collections", flags.collections}, {"k", flags.k}, {"mode", flags.mode}};
  if (!flags.filter_json.empty()) {
    Json f = Json::parse(flags.filter_json, nullptr, false);
    if (!f.is_object()) {
      err << "gantry ask: --filter must be a JSON object\n";
      co_return 2;
    }
    rag["filter"] = f;
  }
  auto r = co_await client.Ask(flags.model, flags.question, rag, flags.max_tokens);
  if (!r.ok()) {
    err << "gantry ask: " << r.status().message() << "\n";
    co_return 2;
  }
  if (flags.json) {
    out << r->dump(2) << "\n";
    co_return 0;
  }
  std::string answer;
  if ((*r)["choices"].is_array() && !(*r)["choices"].empty())
    answer = (*r)["choices"][0]["message"].value("content", "");
  out << answer << "\n";
  const Json report = r->value("rag", Json::object());
  const Json sources = report.value("sources", Json::array());
  if (!sources.empty()) out << "\nSources:\n";
  for (const auto& s : sources) {
    out << "  [" << s.value("number", 0) << "] " << s.value("title", "") << " — "
        << s.value("source", "");
    const Json span = s.value("span", Json::object());
    if (span.contains("page_start")) {
      out << " (pages " << span.value("page_start", 0) << "-" << span.value("page_end", 0) << ")";
    } else {
      out << " (bytes " << span.value("byte_start", 0) << "-" << span.value("byte_end", 0) << ")";
    }
    if (!s.value("cited", false)) out << " (not cited)";
    out << "\n";
  }
  const Json invalid = report.value("invalid_citations", Json::array());
  if (!invalid.empty())
    out << "\nRemoved citations of sources that were not given: " << invalid.dump() << "\n";
  co_return report.value("grounded", false) ? 0 : 1;
}

}  // namespace

int RunIngest(const IngestFlags& flags, std::ostream& out, std::ostream& err) {
  asio::io_context io;
  auto client = OpenClient(flags.client);
  if (!client.ok()) {
    err << "gantry ingest: " << client.status().message() << "\n";
    if (client.status().code() == StatusCode::kNotFound)
      err << "Run `gantry models pull` first, or ingest through a server with --server URL.\n";
    return 2;
  }
  return RunSync(io, IngestMain(flags, **client, out, err));
}

int RunAsk(const AskFlags& flags, std::ostream& out, std::ostream& err) {
  asio::io_context io;
  auto client = OpenClient(flags.client);
  if (!client.ok()) {
    err << "gantry ask: " << client.status().message() << "\n";
    if (client.status().code() == StatusCode::kNotFound)
      err << "Run `gantry models pull` first, or ask a running server with --server URL.\n";
    return 2;
  }
  return RunSync(io, AskMain(flags, **client, out, err));
}

}  // namespace gantry::cli
