#include "providers/http_client.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <charconv>
#include <deque>
#include <map>
#include <mutex>

namespace gantry::providers {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> FindHeader(const HttpHeaders& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (IEquals(k, name)) return v;
  }
  return std::nullopt;
}

template <class Fields>
HttpHeaders CopyHeaders(const Fields& fields) {
  HttpHeaders out;
  for (const auto& f : fields)
    out.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return out;
}

// One upstream connection, plain or TLS.
class Connection {
 public:
  Connection(asio::any_io_executor ex, ssl::context* tls_ctx, std::string key)
      : key_(std::move(key)) {
    if (tls_ctx != nullptr) {
      tls_.emplace(ex, *tls_ctx);
    } else {
      plain_.emplace(ex);
    }
  }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
  ssl::stream<tcp::socket>* tls() { return tls_ ? &*tls_ : nullptr; }
  template <class F>
  auto WithStream(F&& f) {
    return tls_ ? f(*tls_) : f(*plain_);
  }
  void Close() {
    boost::system::error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }
  // True when an idle connection still looks usable: open, no EOF, no stray bytes.
  bool LooksIdleAndOpen() {
    if (!socket().is_open() || buffer.size() != 0) return false;
    char c;
    const ssize_t n = ::recv(socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  const std::string& key() const { return key_; }

  beast::flat_buffer buffer;
  SteadyTime idle_since{};
  bool reused = false;

 private:
  std::string key_;
  std::optional<tcp::socket> plain_;
  std::optional<ssl::stream<tcp::socket>> tls_;
};
using ConnPtr = std::shared_ptr<Connection>;

// Runs `on_fire` at a deadline unless re-armed or disarmed first, and on
// cancellation of the request. Both paths run on the coroutine's executor.
class Watchdog {
 public:
  Watchdog(asio::any_io_executor ex, std::function<void()> on_fire,
           const std::shared_ptr<CancelSource>& cancel)
      : timer_(ex), state_(std::make_shared<State>()) {
    state_->on_fire = std::move(on_fire);
    if (cancel) {
      std::weak_ptr<State> weak = state_;
      reg_ = cancel->OnCancel([ex, weak] {
        asio::post(ex, [weak] {
          if (auto s = weak.lock()) {
            s->cancelled = true;
            if (s->on_fire) s->on_fire();
          }
        });
      });
    }
  }
  ~Watchdog() {
    state_->on_fire = nullptr;
    timer_.cancel();
  }
  void Arm(Deadline d) {
    if (d.infinite()) {
      timer_.cancel();
      return;
    }
    timer_.expires_at(d.when());
    std::weak_ptr<State> weak = state_;
    timer_.async_wait([weak](boost::system::error_code ec) {
      if (ec) return;
      if (auto s = weak.lock()) {
        s->fired = true;
        if (s->on_fire) s->on_fire();
      }
    });
  }
  void Disarm() { timer_.cancel(); }
  void SetAction(std::function<void()> f) { state_->on_fire = std::move(f); }
  bool fired() const { return state_->fired; }
  bool cancelled() const { return state_->cancelled; }

 private:
  struct State {
    std::function<void()> on_fire;
    bool fired = false;
    bool cancelled = false;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
  CancelSource::Registration reg_;
};

// Why an I/O step failed, phrased for the person reading the error.
Status IoError(const Watchdog& dog, const std::shared_ptr<CancelSource>& cancel,
               const std::string& what, const boost::system::error_code& ec) {
  if (cancel && cancel->cancelled()) return cancel->reason();
  if (dog.cancelled()) return Cancelled("request cancelled");
  if (dog.fired()) return DeadlineExceeded(what + ": timed out");
  return UpstreamError(what + ": " + ec.message());
}

class Pool {
 public:
  Pool(size_t max_idle, Millis ttl) : max_idle_(max_idle), ttl_(ttl) {}
  ConnPtr Take(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& q = it->second;
    const auto now = std::chrono::steady_clock::now();
    while (!q.empty()) {
      ConnPtr c = std::move(q.back());
      q.pop_back();
      --count_;
      if (now - c->idle_since < ttl_ && c->LooksIdleAndOpen()) {
        c->reused = true;
        return c;
      }
      c->Close();
    }
    return nullptr;
  }
  void Put(ConnPtr c) {
    std::lock_guard lock(mu_);
    auto& q = idle_[c->key()];
    if (q.size() >= max_idle_) {
      c->Close();
      return;
    }
    c->idle_since = std::chrono::steady_clock::now();
    q.push_back(std::move(c));
    ++count_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  size_t max_idle_;
  Millis ttl_;
  mutable std::mutex mu_;
  std::map<std::string, std::deque<ConnPtr>> idle_;  // GUARDED_BY(mu_)
  size_t count_ = 0;                                 // GUARDED_BY(mu_)
};

http::request<http::string_body> BuildRequest(const HttpRequest& r) {
  http::request<http::string_body> req;
  req.method_string(r.method);
  req.target(r.url.path.empty() ? "/" : r.url.path);
  req.version(11);
  req.set(http::field::host, r.url.HostHeader());
  req.set(http::field::user_agent, "gantry/0.1");
  for (const auto& [k, v] : r.headers) req.set(k, v);
  req.keep_alive(true);
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT") {
    req.body() = r.body;
    req.prepare_payload();
  }
  return req;
}

class BodyStreamImpl;

class HttpClientImpl final : public HttpClient,
                             public std::enable_shared_from_this<HttpClientImpl> {
 public:
  HttpClientImpl(const HttpClientOptions& o, std::unique_ptr<ssl::context> tls)
      : options_(o), tls_ctx_(std::move(tls)), pool_(o.max_idle_per_host, o.idle_ttl) {}

  asio::awaitable<Result<HttpResponse>> Send(HttpRequest request) override {
    for (int attempt = 0;; ++attempt) {
      auto ex = co_await asio::this_coro::executor;
      auto conn_r = co_await Acquire(ex, request);
      if (!conn_r.ok()) co_return conn_r.status();
      ConnPtr conn = std::move(*conn_r);
      Watchdog dog(
          ex, [conn] { conn->Close(); }, request.cancel);
      dog.Arm(request.deadline);
      auto req = BuildRequest(request);
      auto [wec, wn] =
          co_await conn->WithStream([&](auto& s) { return http::async_write(s, req, kTuple); });
      (void)wn;
      if (wec) {
        if (conn->reused && attempt == 0 && !dog.fired() && !dog.cancelled()) continue;
        co_return IoError(dog, request.cancel, "sending request to " + request.url.HostHeader(),
                          wec);
      }
      http::response_parser<http::string_body> parser;
      parser.header_limit(64 * 1024);
      parser.body_limit(options_.max_response_bytes);
      auto [rec, rn] = co_await conn->WithStream(
          [&](auto& s) { return http::async_read(s, conn->buffer, parser, kTuple); });
      (void)rn;
      if (rec) {
        const bool nothing_read = !parser.got_some();
        if (conn->reused && attempt == 0 && nothing_read && !dog.fired() && !dog.cancelled() &&
            (rec == http::error::end_of_stream || rec == asio::error::connection_reset ||
             rec == asio::error::eof)) {
          continue;  // stale pooled connection: the request was never processed
        }
        conn->Close();
        if (rec == http::error::body_limit) {
          co_return UpstreamError("response from " + request.url.HostHeader() + " exceeds " +
                                  std::to_string(options_.max_response_bytes) + " bytes");
        }
        co_return IoError(dog, request.cancel, "reading response from " + request.url.HostHeader(),
                          rec);
      }
      dog.Disarm();
      dog.SetAction(nullptr);  // the connection may go back to the pool
      auto msg = parser.release();
      HttpResponse resp;
      resp.status = static_cast<int>(msg.result_int());
      resp.headers = CopyHeaders(msg);
      resp.body = std::move(msg.body());
      if (msg.keep_alive()) {
        pool_.Put(std::move(conn));
      } else {
        conn->Close();
      }
      co_return resp;
    }
  }

  asio::awaitable<Result<std::unique_ptr<HttpBodyStream>>> Open(HttpRequest request) override;

  size_t idle_connections() const override { return pool_.size(); }

  void Release(ConnPtr c) { pool_.Put(std::move(c)); }

  asio::awaitable<Result<ConnPtr>> Acquire(asio::any_io_executor ex, const HttpRequest& r) {
    const std::string key = r.url.scheme + "://" + r.url.HostHeader();
    if (ConnPtr c = pool_.Take(key)) co_return c;
    if (r.url.tls() && !tls_ctx_) co_return InternalError("TLS is not initialised");
    auto conn = std::make_shared<Connection>(ex, r.url.tls() ? tls_ctx_.get() : nullptr, key);
    const Deadline deadline = r.deadline.MinAfter(SystemClock::Get(), options_.connect_timeout);
    const std::string where = r.url.HostHeader();

    tcp::resolver resolver(ex);
    Watchdog dog(
        ex, [&resolver] { resolver.cancel(); }, r.cancel);
    dog.Arm(deadline);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(r.url.host, std::to_string(r.url.port), kTuple);
    if (rec) co_return IoError(dog, r.cancel, "resolving " + where, rec);

    dog.SetAction([conn] { conn->Close(); });
    auto [cec, ep] = co_await asio::async_connect(conn->socket(), endpoints, kTuple);
    (void)ep;
    if (cec) {
      Status s = IoError(dog, r.cancel, "connecting to " + where, cec);
      if (s.code() == StatusCode::kUpstream) s = Unavailable(s.message());
      co_return s;
    }
    conn->socket().set_option(tcp::no_delay(true));
    if (auto* tls = conn->tls()) {
      if (!SSL_set_tlsext_host_name(tls->native_handle(), r.url.host.c_str())) {
        co_return UpstreamError("TLS: cannot set SNI host name for " + where);
      }
      if (options_.verify_tls) tls->set_verify_callback(ssl::host_name_verification(r.url.host));
      auto [hec] = co_await tls->async_handshake(ssl::stream_base::client, kTuple);
      if (hec) {
        conn->Close();
        co_return IoError(dog, r.cancel, "TLS handshake with " + where, hec);
      }
    }
    co_return conn;
  }

  const HttpClientOptions& options() const { return options_; }

 private:
  HttpClientOptions options_;
  std::unique_ptr<ssl::context> tls_ctx_;
  Pool pool_;
};

class BodyStreamImpl final : public HttpBodyStream {
 public:
  BodyStreamImpl(std::weak_ptr<HttpClientImpl> client, ConnPtr conn,
                 std::unique_ptr<http::response_parser<http::buffer_body>> parser,
                 std::shared_ptr<CancelSource> cancel, asio::any_io_executor ex)
      : client_(std::move(client)),
        conn_(std::move(conn)),
        parser_(std::move(parser)),
        cancel_(std::move(cancel)),
        dog_(
            ex, [c = conn_] { c->Close(); }, cancel_) {
    status_ = static_cast<int>(parser_->get().result_int());
    headers_ = CopyHeaders(parser_->get().base());
  }
  ~BodyStreamImpl() override {
    if (conn_ && !done_) conn_->Close();  // abandoned mid-body: the upstream stops
  }
  int status() const override { return status_; }
  const HttpHeaders& headers() const override { return headers_; }

  asio::awaitable<Result<std::optional<std::string>>> Read(Deadline deadline) override {
    if (done_) co_return std::optional<std::string>();
    char buf[16 * 1024];
    dog_.Arm(deadline);
    for (;;) {
      if (parser_->is_done()) {
        Finish();
        co_return std::optional<std::string>();
      }
      parser_->get().body().data = buf;
      parser_->get().body().size = sizeof(buf);
      auto [ec, n] = co_await conn_->WithStream(
          [&](auto& s) { return http::async_read_some(s, conn_->buffer, *parser_, kTuple); });
      (void)n;
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        done_ = true;
        conn_->Close();
        co_return IoError(dog_, cancel_, "reading response stream", ec);
      }
      const size_t got = sizeof(buf) - parser_->get().body().size;
      if (got > 0) {
        dog_.Disarm();
        co_return std::optional<std::string>(std::string(buf, got));
      }
    }
  }

 private:
  void Finish() {
    done_ = true;
    dog_.Disarm();
    dog_.SetAction(nullptr);  // the connection may go back to the pool
    auto client = client_.lock();
    if (client && parser_->get().keep_alive()) {
      client->Release(std::move(conn_));
    } else {
      conn_->Close();
    }
  }

  std::weak_ptr<HttpClientImpl> client_;
  ConnPtr conn_;
  std::unique_ptr<http::response_parser<http::buffer_body>> parser_;
  std::shared_ptr<CancelSource> cancel_;
  Watchdog dog_;
  int status_ = 0;
  HttpHeaders headers_;
  bool done_ = false;
};

asio::awaitable<Result<std::unique_ptr<HttpBodyStream>>> HttpClientImpl::Open(HttpRequest request) {
  for (int attempt = 0;; ++attempt) {
    auto ex = co_await asio::this_coro::executor;
    auto conn_r = co_await Acquire(ex, request);
    if (!conn_r.ok()) co_return conn_r.status();
    ConnPtr conn = std::move(*conn_r);
    Watchdog dog(
        ex, [conn] { conn->Close(); }, request.cancel);
    dog.Arm(request.deadline);
    auto req = BuildRequest(request);
    auto [wec, wn] =
        co_await conn->WithStream([&](auto& s) { return http::async_write(s, req, kTuple); });
    (void)wn;
    if (wec) {
      if (conn->reused && attempt == 0 && !dog.fired() && !dog.cancelled()) continue;
      co_return IoError(dog, request.cancel, "sending request to " + request.url.HostHeader(), wec);
    }
    auto parser = std::make_unique<http::response_parser<http::buffer_body>>();
    parser->header_limit(64 * 1024);
    parser->body_limit(boost::none);
    auto [rec, rn] = co_await conn->WithStream(
        [&](auto& s) { return http::async_read_header(s, conn->buffer, *parser, kTuple); });
    (void)rn;
    if (rec) {
      if (conn->reused && attempt == 0 && !parser->got_some() && !dog.fired() && !dog.cancelled() &&
          (rec == http::error::end_of_stream || rec == asio::error::connection_reset ||
           rec == asio::error::eof)) {
        continue;
      }
      conn->Close();
      co_return IoError(dog, request.cancel, "reading response from " + request.url.HostHeader(),
                        rec);
    }
    dog.Disarm();
    co_return std::unique_ptr<HttpBodyStream>(std::make_unique<BodyStreamImpl>(
        weak_from_this(), std::move(conn), std::move(parser), request.cancel, ex));
  }
}

}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  return FindHeader(headers, name);
}

std::optional<std::string> HttpBodyStream::Header(std::string_view name) const {
  return FindHeader(headers(), name);
}

Result<HttpUrl> HttpUrl::Parse(std::string_view url) {
  HttpUrl u;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    // Never echo the URL: it may carry a token in its query string.
    return InvalidArgument("URL has no scheme (expected http:// or https://)");
  }
  u.scheme = std::string(url.substr(0, scheme_end));
  for (auto& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https") {
    return InvalidArgument("URL scheme is not http or https");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  u.path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (!u.path.empty() && u.path.back() == '/') u.path.pop_back();
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgument("URL must not contain credentials (use api_key)");
  }
  std::string_view port_str;
  if (!authority.empty() && authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return InvalidArgument("URL has an unterminated IPv6 host");
    u.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':')
        return InvalidArgument("URL has garbage after the IPv6 host");
      port_str = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_str = authority.substr(colon + 1);
  }
  if (u.host.empty()) return InvalidArgument("URL has no host");
  if (port_str.empty()) {
    u.port = u.tls() ? 443 : 80;
  } else {
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port_str.data(), port_str.data() + port_str.size(), p);
    if (ec != std::errc() || ptr != port_str.data() + port_str.size() || p == 0 || p > 65535) {
      return InvalidArgument("URL port is not a number in 1-65535");
    }
    u.port = static_cast<uint16_t>(p);
  }
  return u;
}

std::string HttpUrl::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls() ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

Result<std::shared_ptr<HttpClient>> HttpClient::Create(const HttpClientOptions& options) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);
  if (!options.ca_file.empty()) {
    ctx->load_verify_file(options.ca_file, ec);
    if (ec) {
      return InvalidArgument("cannot load CA file '" + options.ca_file + "': " + ec.message());
    }
  }
  ctx->set_verify_mode(options.verify_tls ? ssl::verify_peer : ssl::verify_none);
  return std::shared_ptr<HttpClient>(std::make_shared<HttpClientImpl>(options, std::move(ctx)));
}

}  // namespace gantry::providers
