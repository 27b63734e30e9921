// HttpClient: an HTTP/1.1 client for upstream providers, on Boost.Beast with
// C++20 coroutines. Keeps a pool of idle keep-alive connections per
// scheme/host/port, speaks TLS (system trust store plus an optional CA file,
// SNI, host-name verification), and enforces deadlines and cancellation by
// closing the connection, so no call can hang past its deadline.
//
// A pooled connection that turns out to be closed by the peer before any byte
// of the response arrived is retried once on a fresh connection (the request
// was never processed); other failures are returned to the caller.
//
// Thread safety: HttpClient is thread-safe (the pool is locked). Each call runs
// on the calling coroutine's executor; an HttpBodyStream belongs to the
// coroutine that opened it and must be destroyed on that executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/status.h"

namespace gantry::providers {

struct HttpUrl {
  std::string scheme;  // http | https
  std::string host;
  uint16_t port = 0;
  std::string path;  // path (and query), no trailing '/', "" for the root

  bool tls() const { return scheme == "https"; }
  // Accepts http(s)://host[:port][/path]; IPv6 hosts in brackets.
  static Result<HttpUrl> Parse(std::string_view url);
  std::string HostHeader() const;
};

struct HttpClientOptions {
  Millis connect_timeout{10'000};
  size_t max_idle_per_host = 64;
  Millis idle_ttl{30'000};  // drop pooled connections idle longer than this
  std::string ca_file;      // extra trusted CA bundle (PEM); "" = system store only
  bool verify_tls = true;
  size_t max_response_bytes = 64u << 20;  // non-streaming bodies
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "POST";
  HttpUrl url;  // full target: host, port and path
  HttpHeaders headers;
  std::string body;
  Deadline deadline;                     // Send: whole exchange; Open: until headers
  std::shared_ptr<CancelSource> cancel;  // may be null
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
  std::optional<std::string> Header(std::string_view name) const;  // case-insensitive
};

// The body of a response, read incrementally (for streaming).
class HttpBodyStream {
 public:
  virtual ~HttpBodyStream() = default;
  virtual int status() const = 0;
  virtual const HttpHeaders& headers() const = 0;
  std::optional<std::string> Header(std::string_view name) const;
  // The next piece of the body (chunked encoding removed), std::nullopt at the
  // end. Fails with kDeadlineExceeded if nothing arrives by `deadline`.
  virtual boost::asio::awaitable<Result<std::optional<std::string>>> Read(Deadline deadline) = 0;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  static Result<std::shared_ptr<HttpClient>> Create(const HttpClientOptions& options);

  // Sends the request and reads the whole response.
  virtual boost::asio::awaitable<Result<HttpResponse>> Send(HttpRequest request) = 0;
  // Sends the request and returns once the response headers arrived.
  virtual boost::asio::awaitable<Result<std::unique_ptr<HttpBodyStream>>> Open(
      HttpRequest request) = 0;
  // Idle pooled connections (for tests and metrics).
  virtual size_t idle_connections() const = 0;
};

}  // namespace gantry::providers
