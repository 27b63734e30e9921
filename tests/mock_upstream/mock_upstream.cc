// gantry-mock-upstream: a mock OpenAI-compatible upstream on loopback, used by
// gantry's integration tests (to exercise every upstream fault) and benchmarks.
// Boost.Beast + C++20 coroutines, one strand per connection, HTTP/1.1 keep-alive.
//
// Usage:
//   gantry-mock-upstream --port N [--host 127.0.0.1] [--threads 1]
//       [--require-key KEY] [--tls-cert FILE --tls-key FILE] [--<knob> VALUE ...]
// `--port 0` picks a free port. Once listening it prints exactly one line,
// `listening on HOST:PORT`, to stdout. SIGTERM/SIGINT exit 0.
//
// Endpoints:
//   GET  /v1/models, /v1/models/{id}
//   POST /v1/chat/completions   content "tok0 tok1 ..." (`tokens` tokens, capped by
//                               max_completion_tokens/max_tokens => "length"),
//                               SSE when "stream":true (stream_options.include_usage)
//   POST /v1/embeddings         deterministic unit vectors (FNV-1a + splitmix64),
//                               `dimensions` (default 8), encoding_format float|base64
//   POST /_mock/config          JSON object of knobs, merged into the defaults
//   GET  /_mock/config          current knobs
//   POST /_mock/reset           restore CLI defaults, zero stats
//   GET  /_mock/stats           counters and the last /v1 request
// With --require-key, /v1/* needs `Authorization: Bearer KEY` (else 401).
//
// Knobs (JSON key / CLI `--latency-ms` / per-request header `x-mock-latency-ms`):
//   latency_ms          int    0   delay before the response headers
//   tokens              int    16  completion tokens
//   tokens_per_second   double 0   pacing of streamed tokens (0 = unpaced)
//   error_status        int    0   respond with this status + OpenAI error body
//   error_count         int    0   >0: only the next N chat/embedding requests fail
//   retry_after         int    0   Retry-After seconds sent with errors
//   reset_after_tokens  int    -1  stream: RST after N token chunks; else RST instead
//                                  of answering (any value >= 0)
//   malformed           string ""  "json": truncated body; "sse": broken event after
//                                  the first token
//   slow_headers_ms     int    0   delay between response header lines
//   hang                bool   false  never answer (until the client goes away)

#include <csignal>
#include <cstdint>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "connection.h"
#include "knobs.h"
#include "mock_state.h"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using gantry::mock::ServerContext;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> AcceptLoop(asio::io_context& ioc, tcp::acceptor& acceptor, ServerContext& ctx,
                                 asio::ssl::context* tls) {
  for (;;) {
    tcp::socket socket(asio::make_strand(ioc));
    auto [ec] = co_await acceptor.async_accept(socket, kAsTuple);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {  // E.g. EMFILE: back off a little instead of spinning.
      asio::steady_timer backoff(ioc, std::chrono::milliseconds(10));
      co_await backoff.async_wait(kAsTuple);
      continue;
    }
    ++ctx.state.stats().connections;
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const auto executor = socket.get_executor();
    if (tls != nullptr) {
      asio::co_spawn(executor, gantry::mock::ServeTls(std::move(socket), *tls, ctx),
                     asio::detached);
    } else {
      asio::co_spawn(executor, gantry::mock::ServePlain(std::move(socket), ctx), asio::detached);
    }
  }
}

std::optional<tcp::endpoint> ResolveListenEndpoint(asio::io_context& ioc, const std::string& host,
                                                   uint16_t port) {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, port);
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) return std::nullopt;
  return results.begin()->endpoint();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gantry-mock-upstream: mock OpenAI-compatible upstream for gantry tests"};
  int port = 0;
  std::string host = "127.0.0.1";
  int threads = 1;
  std::string require_key;
  std::string tls_cert;
  std::string tls_key;
  gantry::mock::Knobs knobs;
  app.add_option("--port", port, "TCP port to listen on (0 = pick a free one)")
      ->required()
      ->check(CLI::Range(0, 65535));
  app.add_option("--host", host, "address to listen on")->capture_default_str();
  app.add_option("--threads", threads, "io threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--require-key", require_key, "require `Authorization: Bearer KEY` on /v1/*");
  auto* cert_option = app.add_option("--tls-cert", tls_cert, "PEM certificate chain (enables TLS)")
                          ->check(CLI::ExistingFile);
  auto* key_option =
      app.add_option("--tls-key", tls_key, "PEM private key")->check(CLI::ExistingFile);
  cert_option->needs(key_option);
  key_option->needs(cert_option);
  gantry::mock::AddKnobOptions(app, knobs);
  CLI11_PARSE(app, argc, argv);
  if (std::string error = gantry::mock::ValidateKnobs(knobs); !error.empty()) {
    std::cerr << "gantry-mock-upstream: " << error << "\n";
    return 2;
  }

  std::signal(SIGPIPE, SIG_IGN);
  ServerContext ctx(knobs, require_key);
  std::optional<asio::ssl::context> tls;
  if (!tls_cert.empty()) {
    try {
      tls.emplace(asio::ssl::context::tls_server);
      tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use);
      tls->use_certificate_chain_file(tls_cert);
      tls->use_private_key_file(tls_key, asio::ssl::context::pem);
    } catch (const std::exception& e) {
      std::cerr << "gantry-mock-upstream: TLS setup failed: " << e.what() << "\n";
      return 1;
    }
  }

  asio::io_context ioc(threads);
  const std::optional<tcp::endpoint> endpoint =
      ResolveListenEndpoint(ioc, host, static_cast<uint16_t>(port));
  if (!endpoint) {
    std::cerr << "gantry-mock-upstream: cannot resolve host '" << host << "'\n";
    return 1;
  }
  tcp::acceptor acceptor(ioc);
  try {
    acceptor.open(endpoint->protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(*endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    std::cerr << "gantry-mock-upstream: cannot listen on " << host << ":" << port << ": "
              << e.what() << "\n";
    return 1;
  }

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&ioc](const boost::system::error_code&, int) { ioc.stop(); });
  asio::co_spawn(ioc, AcceptLoop(ioc, acceptor, ctx, tls ? &*tls : nullptr), asio::detached);

  const tcp::endpoint local = acceptor.local_endpoint();
  const std::string address = local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                                      : local.address().to_string();
  std::cout << "listening on " << address << ":" << local.port() << std::endl;

  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads - 1));
  for (int i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (std::thread& thread : pool) thread.join();
  return 0;
}
