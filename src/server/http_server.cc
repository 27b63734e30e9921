#include "server/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "core/ids.h"
#include "server/errors.h"

namespace gantry::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

// Watches the client socket and the request deadline while a request is being
// handled; either event cancels the request. Runs on the connection's strand.
class RequestWatch : public std::enable_shared_from_this<RequestWatch> {
 public:
  RequestWatch(beast::tcp_stream& stream, beast::flat_buffer& buffer,
               std::shared_ptr<CancelSource> cancel, size_t max_pending)
      : stream_(stream),
        buffer_(buffer),
        cancel_(std::move(cancel)),
        max_pending_(max_pending),
        timer_(stream.get_executor()),
        read_done_(stream.get_executor()) {}

  void Start(Deadline deadline, Millis timeout) {
    if (!deadline.infinite()) {
      timer_.expires_at(deadline.when());
      timer_.async_wait([self = shared_from_this(), timeout](boost::system::error_code ec) {
        if (ec) return;
        self->cancel_->Cancel(DeadlineExceeded("request did not finish within " +
                                               std::to_string(timeout.count()) + " ms"));
      });
    }
    Read();
  }

  // Stops watching and waits until the socket has no read pending.
  Awaitable<void> Stop() {
    stopping_ = true;
    timer_.cancel();
    if (reading_) {
      read_done_.expires_at(SteadyTime::max());
      boost::system::error_code ec;
      stream_.socket().cancel(ec);
      if (reading_) co_await read_done_.async_wait(kTuple);
    }
  }

  bool disconnected() const { return disconnected_; }

 private:
  void Read() {
    if (buffer_.size() >= max_pending_) return;  // a pipelining client: stop reading ahead
    reading_ = true;
    stream_.socket().async_read_some(
        buffer_.prepare(4096), [self = shared_from_this()](boost::system::error_code ec, size_t n) {
          self->reading_ = false;
          if (!ec) {
            self->buffer_.commit(n);
            if (!self->stopping_) {
              self->Read();
              return;
            }
          } else if (ec != asio::error::operation_aborted && !self->stopping_) {
            self->disconnected_ = true;
            self->cancel_->Cancel(Cancelled("client disconnected"));
          }
          self->read_done_.cancel();
        });
  }

  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  std::shared_ptr<CancelSource> cancel_;
  size_t max_pending_;
  asio::steady_timer timer_;
  asio::steady_timer read_done_;
  bool reading_ = false;
  bool stopping_ = false;
  bool disconnected_ = false;
};

struct SessionState {
  asio::any_io_executor ex;
  beast::tcp_stream* stream = nullptr;
  bool idle = true;                      // on the strand only
  std::shared_ptr<CancelSource> cancel;  // current request, on the strand only
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

class HttpServerImpl final : public HttpServer {
 public:
  HttpServerImpl(ServerOptions o, Router router, std::shared_ptr<const Authenticator> auth,
                 LoggerPtr logger)
      : options_(std::move(o)),
        router_(std::move(router)),
        auth_(std::move(auth)),
        logger_(std::move(logger)),
        ioc_(options_.io_threads),
        control_(asio::make_strand(ioc_)),
        acceptor_(control_),
        signals_(control_),
        drain_timer_(control_) {}

  Status Start() override {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(options_.host, ec);
    if (ec) return InvalidArgument("server.host '" + options_.host + "' is not an IP address");
    tcp::endpoint ep(addr, options_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                         ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    return OkStatus();
  }

  uint16_t port() const override { return port_; }
  bool draining() const override { return draining_.load(); }
  int active_requests() const override { return active_.load(); }

  void Run(bool handle_signals) override {
    if (handle_signals) {
      signals_.add(SIGTERM);
      signals_.add(SIGINT);
      signals_.async_wait([this](boost::system::error_code ec, int sig) {
        if (ec) return;
        logger_->Info("shutdown requested", {{"signal", sig}});
        Shutdown();
      });
    }
    asio::co_spawn(control_, Accept(), asio::detached);
    std::vector<std::thread> threads;
    for (int i = 1; i < options_.io_threads; ++i) threads.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : threads) t.join();
    logger_->Info("server stopped", nullptr);
  }

  void Shutdown() override {
    asio::post(control_, [this] {
      if (draining_.exchange(true)) return;
      logger_->Info("draining", {{"active_requests", active_.load()},
                                 {"drain_timeout_ms", options_.drain_timeout.count()}});
      boost::system::error_code ec;
      acceptor_.close(ec);
      signals_.cancel(ec);
      std::lock_guard lock(mu_);
      for (auto& [id, weak] : sessions_) {
        if (auto st = weak.lock()) {
          asio::post(st->ex, [st] {
            boost::system::error_code ec3;
            if (st->idle && st->stream) st->stream->socket().close(ec3);
          });
        }
      }
      if (sessions_.empty()) return;
      drain_timer_.expires_after(options_.drain_timeout);
      drain_timer_.async_wait([this](boost::system::error_code ec2) {
        if (ec2) return;
        ForceClose();
      });
    });
  }

 private:
  void ForceClose() {
    std::lock_guard lock(mu_);
    logger_->Warn("drain timeout: cancelling remaining requests", {{"sessions", sessions_.size()}});
    for (auto& [id, weak] : sessions_) {
      if (auto st = weak.lock()) {
        asio::post(st->ex, [st] {
          if (st->cancel) st->cancel->Cancel(Unavailable("server is shutting down"));
          boost::system::error_code ec;
          if (st->stream) st->stream->socket().close(ec);
        });
      }
    }
  }

  uint64_t Register(const std::shared_ptr<SessionState>& st) {
    std::lock_guard lock(mu_);
    const uint64_t id = next_session_++;
    sessions_[id] = st;
    return id;
  }

  void Unregister(uint64_t id) {
    std::lock_guard lock(mu_);
    sessions_.erase(id);
    if (draining_.load() && sessions_.empty()) {
      asio::post(control_, [this] { drain_timer_.cancel(); });
    }
  }

  Awaitable<void> Accept() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(asio::make_strand(ioc_), kTuple);
      if (ec) {
        if (draining_.load() || ec == asio::error::operation_aborted) co_return;
        logger_->Warn("accept failed", {{"error", ec.message()}});
        // E.g. EMFILE: back off instead of spinning on a listener that stays readable.
        asio::steady_timer backoff(ioc_, std::chrono::milliseconds(50));
        co_await backoff.async_wait(kTuple);
        continue;
      }
      // SSE writes are small and latency-bound: do not let Nagle hold tokens back.
      boost::system::error_code ignored;
      sock.set_option(asio::ip::tcp::no_delay(true), ignored);
      auto ex = sock.get_executor();
      asio::co_spawn(ex, Session(std::move(sock)), asio::detached);
    }
  }

  Awaitable<bool> WriteResponse(beast::tcp_stream& stream, Response& resp,
                                const std::string& request_id, bool keep_alive, bool head) {
    http::response<http::string_body> res;
    res.result(static_cast<unsigned>(resp.status));
    res.version(11);
    res.set(http::field::server, "gantry");
    res.set("x-request-id", request_id);
    for (const auto& [k, v] : resp.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = head ? std::string() : std::move(resp.body);
    res.prepare_payload();
    auto [ec, n] = co_await http::async_write(stream, res, kTuple);
    (void)n;
    co_return !ec;
  }

  // Writes headers, then each generated piece as one HTTP chunk.
  Awaitable<bool> WriteStream(beast::tcp_stream& stream, Response& resp,
                              const std::string& request_id, bool keep_alive) {
    http::response<http::empty_body> res;
    res.result(static_cast<unsigned>(resp.status));
    res.version(11);
    res.set(http::field::server, "gantry");
    res.set("x-request-id", request_id);
    for (const auto& [k, v] : resp.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr(res);
    auto [ec, n] = co_await http::async_write_header(stream, sr, kTuple);
    (void)n;
    if (ec) co_return false;
    for (;;) {
      std::optional<std::string> piece = co_await resp.stream->Next();
      if (!piece) break;
      if (piece->empty()) continue;
      auto [wec, wn] =
          co_await asio::async_write(stream, http::make_chunk(asio::buffer(*piece)), kTuple);
      (void)wn;
      if (wec) co_return false;
    }
    auto [lec, ln] = co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
    (void)ln;
    co_return !lec;
  }

  Awaitable<Response> Dispatch(Request& req) {
    bool path_known = false;
    const Route* route = router_.Find(req.method, req.path, &path_known);
    if (route == nullptr && req.method == "HEAD")
      route = router_.Find("GET", req.path, &path_known);
    if (route == nullptr) {
      if (!path_known) {
        co_return HttpErrorResponse(404, "Unknown request URL: " + req.method + " " + req.path,
                                    "invalid_request_error", "unknown_url");
      }
      Response r = HttpErrorResponse(405, "Method " + req.method + " is not allowed on " + req.path,
                                     "invalid_request_error", "method_not_allowed");
      r.headers.emplace_back("allow", router_.AllowedMethods(req.path));
      co_return r;
    }
    if (route->requires_auth) {
      Status s = auth_->Authenticate(req, &req.ctx);
      if (!s.ok()) co_return ErrorResponse(s);
    }
    try {
      co_return co_await route->handler(req);
    } catch (const std::exception& e) {
      logger_->Error("handler threw", {{"request_id", req.ctx.request_id}, {"error", e.what()}});
      co_return ErrorResponse(InternalError("internal error (request " + req.ctx.request_id + ")"));
    }
  }

  Awaitable<void> Session(tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    beast::flat_buffer buffer;
    auto st = std::make_shared<SessionState>();
    st->ex = stream.get_executor();
    st->stream = &stream;
    const uint64_t id = Register(st);
    boost::system::error_code ep_ec;
    const auto remote = stream.socket().remote_endpoint(ep_ec);
    const bool loopback = !ep_ec && remote.address().is_loopback();
    if (draining_.load()) stream.socket().close(ep_ec);

    for (;;) {
      st->idle = true;
      if (draining_.load() || !stream.socket().is_open()) break;
      stream.expires_after(options_.idle_timeout);
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
      parser.body_limit(options_.max_body_bytes);
      auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kTuple);
      (void)hn;
      st->idle = false;
      const std::string request_id_fallback = NewId("req_");
      if (hec) {
        if (hec == http::error::body_limit) {
          Response r = HttpErrorResponse(
              413, "Request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes",
              "invalid_request_error", "request_too_large");
          co_await WriteResponse(stream, r, request_id_fallback, false, false);
        } else if (hec == http::error::header_limit) {
          Response r = HttpErrorResponse(
              431, "Request headers exceed " + std::to_string(options_.max_header_bytes) + " bytes",
              "invalid_request_error", "headers_too_large");
          co_await WriteResponse(stream, r, request_id_fallback, false, false);
        } else if (hec.category() == http::make_error_code(http::error::bad_target).category() &&
                   hec != http::error::end_of_stream && hec != http::error::partial_message) {
          Response r = HttpErrorResponse(400, "Malformed HTTP request: " + hec.message(),
                                         "invalid_request_error", "bad_request");
          co_await WriteResponse(stream, r, request_id_fallback, false, false);
        }
        break;  // EOF, idle timeout, reset, or an answered protocol error
      }
      auto& head = parser.get();
      if (parser.content_length() && *parser.content_length() > options_.max_body_bytes) {
        Response r = HttpErrorResponse(
            413, "Request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes",
            "invalid_request_error", "request_too_large");
        co_await WriteResponse(stream, r, request_id_fallback, false, false);
        break;
      }
      if (beast::iequals(head[http::field::expect], "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        auto [cec, cn] = co_await asio::async_write(stream, asio::buffer(kContinue), kTuple);
        (void)cn;
        if (cec) break;
      }
      if (!parser.is_done()) {
        stream.expires_after(options_.read_timeout);
        auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kTuple);
        (void)bn;
        if (bec) {
          if (bec == http::error::body_limit) {
            Response r = HttpErrorResponse(
                413, "Request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes",
                "invalid_request_error", "request_too_large");
            co_await WriteResponse(stream, r, request_id_fallback, false, false);
          } else if (bec.category() == http::make_error_code(http::error::bad_target).category() &&
                     bec != http::error::end_of_stream && bec != http::error::partial_message) {
            Response r = HttpErrorResponse(400, "Malformed HTTP request: " + bec.message(),
                                           "invalid_request_error", "bad_request");
            co_await WriteResponse(stream, r, request_id_fallback, false, false);
          }
          break;
        }
      }
      stream.expires_never();
      auto msg = parser.release();
      const bool keep_alive = msg.keep_alive();

      Request req;
      req.method = std::string(msg.method_string());
      const std::string target(msg.target());
      const auto q = target.find('?');
      req.path = target.substr(0, q);
      if (q != std::string::npos) req.query = target.substr(q + 1);
      for (const auto& f : msg)
        req.headers.emplace_back(Lower(f.name_string()), std::string(f.value()));
      req.body = std::move(msg.body());
      req.peer_loopback = loopback;
      auto rid = req.Header("x-request-id");
      req.ctx.request_id = rid && ValidRequestId(*rid) ? *rid : request_id_fallback;
      req.ctx.deadline = Deadline::After(*req.ctx.clock, options_.request_timeout);
      st->cancel = req.ctx.cancel;

      const auto started = std::chrono::steady_clock::now();
      const int inflight = ++active_;
      Response resp;
      bool streamed = false;
      auto watch = std::make_shared<RequestWatch>(stream, buffer, req.ctx.cancel, 64 * 1024);
      if (inflight > options_.max_inflight) {
        resp = ErrorResponse(ResourceExhausted("gantry is at its limit of " +
                                               std::to_string(options_.max_inflight) +
                                               " requests in flight; retry shortly")
                                 .set_retry_after_s(1));
      } else {
        watch->Start(req.ctx.deadline, options_.request_timeout);
        resp = co_await Dispatch(req);
      }
      const bool keep = keep_alive && !draining_.load();
      bool ok = true;
      if (resp.stream) {
        streamed = true;
        ok = co_await WriteStream(stream, resp, req.ctx.request_id, keep);
        resp.stream.reset();  // releases the upstream before the next request
        co_await watch->Stop();
      } else {
        co_await watch->Stop();
        if (!watch->disconnected()) {
          ok = co_await WriteResponse(stream, resp, req.ctx.request_id, keep, req.method == "HEAD");
        }
      }
      --active_;
      st->cancel.reset();
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count();
      const bool gone = watch->disconnected() || !ok;
      if (logger_->Enabled(LogLevel::kInfo)) {
        logger_->Info("request", {{"request_id", req.ctx.request_id},
                                  {"method", req.method},
                                  {"path", req.path},
                                  {"status", gone ? 499 : resp.status},
                                  {"latency_ms", ms},
                                  {"tenant", req.ctx.tenant},
                                  {"key_id", req.ctx.key_id},
                                  {"stream", streamed},
                                  {"client_disconnected", gone}});
      }
      if (!keep || gone) break;
    }
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.socket().close(ec);
    st->stream = nullptr;
    Unregister(id);
  }

  ServerOptions options_;
  Router router_;
  std::shared_ptr<const Authenticator> auth_;
  LoggerPtr logger_;
  asio::io_context ioc_;
  asio::strand<asio::io_context::executor_type> control_;  // acceptor, signals, drain timer
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer drain_timer_;
  uint16_t port_ = 0;
  std::atomic<bool> draining_{false};
  std::atomic<int> active_{0};
  std::mutex mu_;
  std::map<uint64_t, std::weak_ptr<SessionState>> sessions_;  // GUARDED_BY(mu_)
  uint64_t next_session_ = 1;                                 // GUARDED_BY(mu_)
};

}  // namespace

std::unique_ptr<HttpServer> HttpServer::Create(ServerOptions options, Router router,
                                               std::shared_ptr<const Authenticator> auth,
                                               LoggerPtr logger) {
  return std::make_unique<HttpServerImpl>(std::move(options), std::move(router), std::move(auth),
                                          std::move(logger));
}

}  // namespace gantry::server
