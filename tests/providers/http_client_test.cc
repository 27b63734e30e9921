#include "providers/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "fakes/run_sync.h"

namespace gantry::providers {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------- HttpUrl

TEST(HttpUrlTest, DefaultsAndExplicitPorts) {
  auto a = HttpUrl::Parse("http://example.com");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->scheme, "http");
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, 80);
  EXPECT_EQ(a->path, "");
  EXPECT_FALSE(a->tls());

  auto b = HttpUrl::Parse("https://api.openai.com/v1/");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->tls());
  EXPECT_EQ(b->port, 443);
  EXPECT_EQ(b->path, "/v1");  // trailing slash trimmed

  auto c = HttpUrl::Parse("http://localhost:8080/a/b//");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "localhost");
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->path, "/a/b");

  auto d = HttpUrl::Parse("HTTPS://Example.com/");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->scheme, "https");
  EXPECT_EQ(d->path, "");

  auto e = HttpUrl::Parse("http://h:/x");  // an empty port means the default (RFC 3986)
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->port, 80);
}

TEST(HttpUrlTest, Ipv6) {
  auto a = HttpUrl::Parse("http://[::1]:8080/v1");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->path, "/v1");
  EXPECT_EQ(a->HostHeader(), "[::1]:8080");

  auto b = HttpUrl::Parse("https://[2001:db8::1]");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "2001:db8::1");
  EXPECT_EQ(b->port, 443);
  EXPECT_EQ(b->HostHeader(), "[2001:db8::1]");

  EXPECT_FALSE(HttpUrl::Parse("http://[::1").ok());
  EXPECT_FALSE(HttpUrl::Parse("http://[::1]x").ok());
}

TEST(HttpUrlTest, Rejects) {
  for (const char* url : {"ftp://example.com", "example.com", "://x", "http://", "http://:80",
                          "http://h:0", "http://h:65536", "http://h:99999", "http://h:abc",
                          "http://h:-1", "http://user:pw@h", "https://key@api.example.com/v1"}) {
    auto r = HttpUrl::Parse(url);
    EXPECT_FALSE(r.ok()) << url;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << url;
    }
  }
  auto cred = HttpUrl::Parse("http://user:hunter2@h/v1");
  EXPECT_THAT(cred.status().message(), ::testing::Not(::testing::HasSubstr("hunter2")));
}

TEST(HttpUrlTest, HostHeader) {
  EXPECT_EQ(HttpUrl::Parse("http://h")->HostHeader(), "h");
  EXPECT_EQ(HttpUrl::Parse("http://h:80")->HostHeader(), "h");
  EXPECT_EQ(HttpUrl::Parse("http://h:443")->HostHeader(), "h:443");
  EXPECT_EQ(HttpUrl::Parse("https://h:443")->HostHeader(), "h");
  EXPECT_EQ(HttpUrl::Parse("https://h:8443")->HostHeader(), "h:8443");
  EXPECT_EQ(HttpUrl::Parse("http://127.0.0.1:9000/x")->HostHeader(), "127.0.0.1:9000");
}

// ---------------------------------------------------------------- a tiny server

enum class Mode { kEcho, kSilent, kChunked };

struct SeenRequest {
  std::string method, target, body, host, custom;
};

class TestServer {
 public:
  explicit TestServer(Mode mode) : mode_(mode), acceptor_(io_) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    io_.stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  int accepts() const { return accepts_.load(); }
  std::vector<SeenRequest> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(kTuple);
      if (ec) co_return;
      ++accepts_;
      asio::co_spawn(io_, Serve(std::make_shared<tcp::socket>(std::move(sock))), asio::detached);
    }
  }

  asio::awaitable<void> Serve(std::shared_ptr<tcp::socket> sock) {
    boost::beast::flat_buffer buf;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(*sock, buf, req, kTuple);
      (void)n;
      if (ec) co_return;
      {
        std::lock_guard lock(mu_);
        seen_.push_back({std::string(req.method_string()), std::string(req.target()), req.body(),
                         std::string(req[http::field::host]), std::string(req["x-custom"])});
      }
      if (mode_ == Mode::kSilent) {
        held_.push_back(sock);  // never answer; keep the connection open
        co_return;
      }
      if (mode_ == Mode::kChunked) {
        co_await Chunked(*sock);
        continue;
      }
      http::response<http::string_body> resp{http::status::ok, 11};
      resp.set(http::field::content_type, "text/plain");
      resp.set("X-Test", "yes");
      resp.body() = "echo " + std::string(req.target()) + " " + req.body();
      resp.keep_alive(req.keep_alive());
      resp.prepare_payload();
      auto [wec, wn] = co_await http::async_write(*sock, resp, kTuple);
      (void)wn;
      if (wec) co_return;
    }
  }

  asio::awaitable<void> Pause(std::chrono::milliseconds d) {
    asio::steady_timer t(io_, d);
    co_await t.async_wait(kTuple);
  }

  asio::awaitable<void> Write(tcp::socket& s, const std::string& data) {
    co_await asio::async_write(s, asio::buffer(data), kTuple);
  }

  asio::awaitable<void> Chunked(tcp::socket& s) {
    co_await Write(s,
                   "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n");
    for (const char* piece : {"one", "two", "three"}) {
      co_await Pause(30ms);
      std::ostringstream chunk;
      chunk << std::hex << std::strlen(piece) << "\r\n" << piece << "\r\n";
      co_await Write(s, chunk.str());
    }
    co_await Pause(30ms);
    co_await Write(s, "0\r\n\r\n");
  }

  Mode mode_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<int> accepts_{0};
  mutable std::mutex mu_;
  std::vector<SeenRequest> seen_;
  std::vector<std::shared_ptr<tcp::socket>> held_;  // server thread only
  std::thread thread_;
};

// ---------------------------------------------------------------- client fixture

class HttpClientIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = HttpClient::Create(HttpClientOptions{});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = *c;
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    io_.stop();
    thread_.join();
    client_.reset();  // pooled sockets go before their io_context
  }

  // Runs `aw` on the client's io thread and waits for it.
  template <typename T>
  T Run(asio::awaitable<T> aw) {
    auto fut = asio::co_spawn(io_, gantry::testing::WrapOptional(std::move(aw)), asio::use_future);
    if (fut.wait_for(10s) != std::future_status::ready) {
      std::fprintf(stderr, "client coroutine did not finish within 10 s\n");
      std::abort();
    }
    return std::move(*fut.get());
  }

  HttpRequest Request(uint16_t port, std::string path, std::string body = "") {
    HttpRequest r;
    r.method = "POST";
    auto url = HttpUrl::Parse("http://127.0.0.1:" + std::to_string(port) + path);
    EXPECT_TRUE(url.ok());
    r.url = *url;
    r.headers.emplace_back("x-custom", "custom-value");
    r.body = std::move(body);
    return r;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  std::shared_ptr<HttpClient> client_;
};

TEST_F(HttpClientIoTest, SendGetsStatusHeadersAndBody) {
  TestServer server(Mode::kEcho);
  auto r = Run(client_->Send(Request(server.port(), "/v1/echo", "payload")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "echo /v1/echo payload");
  EXPECT_EQ(r->Header("x-test"), "yes");
  EXPECT_EQ(r->Header("CONTENT-TYPE"), "text/plain");
  EXPECT_FALSE(r->Header("missing").has_value());
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/v1/echo");
  EXPECT_EQ(seen[0].body, "payload");
  EXPECT_EQ(seen[0].host, "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen[0].custom, "custom-value");
}

TEST_F(HttpClientIoTest, SecondSendReusesPooledConnection) {
  TestServer server(Mode::kEcho);
  EXPECT_EQ(client_->idle_connections(), 0u);
  auto a = Run(client_->Send(Request(server.port(), "/a")));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(client_->idle_connections(), 1u);
  auto b = Run(client_->Send(Request(server.port(), "/b")));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->body, "echo /b ");
  EXPECT_EQ(client_->idle_connections(), 1u);
  EXPECT_EQ(server.accepts(), 1);
  EXPECT_EQ(server.seen().size(), 2u);
}

TEST_F(HttpClientIoTest, SilentServerHitsDeadline) {
  TestServer server(Mode::kSilent);
  HttpRequest req = Request(server.port(), "/slow");
  req.deadline = Deadline::After(SystemClock::Get(), 200ms);
  const auto start = std::chrono::steady_clock::now();
  auto r = Run(client_->Send(req));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_GE(elapsed, 180ms);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_EQ(client_->idle_connections(), 0u);  // a timed-out connection is not pooled
}

TEST_F(HttpClientIoTest, CancelFromAnotherThread) {
  TestServer server(Mode::kSilent);
  HttpRequest req = Request(server.port(), "/slow");
  req.cancel = CancelSource::Create();
  std::thread canceller([c = req.cancel] {
    std::this_thread::sleep_for(100ms);
    c->Cancel(Cancelled("client went away"));
  });
  const auto start = std::chrono::steady_clock::now();
  auto r = Run(client_->Send(req));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  canceller.join();
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  EXPECT_GE(elapsed, 80ms);
  EXPECT_LT(elapsed, 1000ms);
}

TEST_F(HttpClientIoTest, AlreadyCancelledFailsFast) {
  TestServer server(Mode::kSilent);
  HttpRequest req = Request(server.port(), "/slow");
  req.cancel = CancelSource::Create();
  req.cancel->Cancel(Cancelled("gone"));
  const auto start = std::chrono::steady_clock::now();
  auto r = Run(client_->Send(req));
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1000ms);
}

TEST_F(HttpClientIoTest, ClosedPortIsUnavailable) {
  uint16_t port;
  {
    asio::io_context tmp;
    tcp::acceptor a(tmp, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed again: nothing listens there now
  HttpRequest req = Request(port, "/x");
  req.deadline = Deadline::After(SystemClock::Get(), 2000ms);
  auto r = Run(client_->Send(req));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

asio::awaitable<Result<std::vector<std::string>>> ReadAll(std::shared_ptr<HttpClient> client,
                                                          HttpRequest req, int* status,
                                                          std::string* content_type) {
  auto body = co_await client->Open(std::move(req));
  if (!body.ok()) co_return body.status();
  *status = (*body)->status();
  *content_type = (*body)->Header("Content-Type").value_or("");
  std::vector<std::string> pieces;
  for (;;) {
    auto piece = co_await (*body)->Read(Deadline::After(SystemClock::Get(), 2000ms));
    if (!piece.ok()) co_return piece.status();
    if (!piece->has_value()) break;
    pieces.push_back(**piece);
  }
  // After the end, Read keeps answering "end".
  auto again = co_await (*body)->Read(Deadline::After(SystemClock::Get(), 100ms));
  if (!again.ok() || again->has_value()) co_return InternalError("Read after the end did not end");
  co_return pieces;
}

TEST_F(HttpClientIoTest, OpenStreamsChunkedBodyPieceByPiece) {
  TestServer server(Mode::kChunked);
  int status = 0;
  std::string content_type;
  auto r = Run(ReadAll(client_, Request(server.port(), "/stream", "{}"), &status, &content_type));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(content_type, "text/event-stream");
  EXPECT_THAT(*r, ::testing::ElementsAre("one", "two", "three"));
  EXPECT_EQ(client_->idle_connections(), 1u);  // a fully read body frees the connection
}

asio::awaitable<Result<std::string>> ReadWithShortDeadline(std::shared_ptr<HttpClient> client,
                                                           HttpRequest req) {
  auto body = co_await client->Open(std::move(req));
  if (!body.ok()) co_return body.status();
  // The server sends its first piece after 30 ms: a 5 ms wait must time out.
  auto piece = co_await (*body)->Read(Deadline::After(SystemClock::Get(), 5ms));
  if (piece.ok()) co_return std::string("no timeout");
  co_return std::string(StatusCodeName(piece.status().code()));
}

TEST_F(HttpClientIoTest, StreamReadHonoursItsDeadline) {
  TestServer server(Mode::kChunked);
  auto r = Run(ReadWithShortDeadline(client_, Request(server.port(), "/stream")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "DEADLINE_EXCEEDED");
}

}  // namespace
}  // namespace gantry::providers
