// One HTTP/1.1 keep-alive connection of gantry-mock-upstream: request parsing,
// routing, the OpenAI endpoints, the /_mock/* control endpoints and fault
// injection. Each connection runs as one coroutine on its own strand.

#ifndef GANTRY_TESTS_MOCK_UPSTREAM_CONNECTION_H_
#define GANTRY_TESTS_MOCK_UPSTREAM_CONNECTION_H_

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "mock_state.h"

namespace gantry::mock {

// Serves plain-TCP HTTP on `socket` until the peer goes away.
boost::asio::awaitable<void> ServePlain(boost::asio::ip::tcp::socket socket, ServerContext& ctx);

// Serves HTTPS on `socket` (server-side TLS handshake first).
boost::asio::awaitable<void> ServeTls(boost::asio::ip::tcp::socket socket,
                                      boost::asio::ssl::context& tls, ServerContext& ctx);

}  // namespace gantry::mock

#endif  // GANTRY_TESTS_MOCK_UPSTREAM_CONNECTION_H_
