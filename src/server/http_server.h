// HttpServer: the HTTP/1.1 transport (Boost.Beast, C++20 coroutines, a strand
// per connection, a few I/O threads; no thread per connection).
//
// It enforces header and body size limits (431/413), an idle timeout between
// keep-alive requests, a read timeout for a request's bytes, a whole-request
// timeout (the RequestContext deadline), and a cap on requests in flight (429).
// While a request is handled it watches the client socket: a disconnect
// cancels the request's CancelSource, which stops the upstream call.
// Shutdown() (also on SIGTERM/SIGINT) stops accepting, closes idle
// connections, lets in-flight requests finish for up to drain_timeout, then
// cancels what is left and returns from Run().
//
// Thread safety: Start()/Run() from one thread; Shutdown() and the accessors
// from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/logging.h"
#include "core/status.h"
#include "server/auth.h"
#include "server/router.h"

namespace gantry::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 = any free port (see port())
  int io_threads = 2;
  size_t max_body_bytes = 8u << 20;
  size_t max_header_bytes = 16u << 10;
  Millis idle_timeout{60'000};      // keep-alive connection with no request
  Millis read_timeout{30'000};      // receiving one request's header and body
  Millis request_timeout{600'000};  // handling one request, streaming included
  Millis drain_timeout{30'000};     // graceful shutdown
  int max_inflight = 4096;          // beyond this, 429
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  static std::unique_ptr<HttpServer> Create(ServerOptions options, Router router,
                                            std::shared_ptr<const Authenticator> auth,
                                            LoggerPtr logger);
  // Binds and listens. kUnavailable if the address is in use.
  virtual Status Start() = 0;
  // The bound port (after Start()).
  virtual uint16_t port() const = 0;
  // Serves until shutdown completes. If `handle_signals`, SIGTERM/SIGINT start it.
  virtual void Run(bool handle_signals = true) = 0;
  virtual void Shutdown() = 0;
  virtual bool draining() const = 0;
  virtual int active_requests() const = 0;
};

}  // namespace gantry::server
