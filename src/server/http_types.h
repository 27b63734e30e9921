// The transport-neutral request and response that handlers see. Handlers parse,
// validate, call the gateway and serialize; they never touch sockets. A
// streaming response carries a BodyGenerator that the transport pulls from and
// writes as HTTP chunks.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/request_context.h"

namespace gantry::server {

template <typename T>
using Awaitable = boost::asio::awaitable<T>;

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;
  std::string path;   // without the query string
  std::string query;  // after '?', undecoded
  Headers headers;    // names lower-cased
  std::string body;
  bool peer_loopback = false;
  RequestContext ctx;

  std::optional<std::string> Header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers) {
      if (k == lower_name) return v;
    }
    return std::nullopt;
  }
};

// Produces the pieces of a streamed body; std::nullopt ends it. Errors after
// the headers were sent must be written in-band by the generator.
class BodyGenerator {
 public:
  virtual ~BodyGenerator() = default;
  virtual Awaitable<std::optional<std::string>> Next() = 0;
};

struct Response {
  int status = 200;
  Headers headers;  // content-type etc.
  std::string body;
  std::unique_ptr<BodyGenerator> stream;  // when set, body is ignored

  static Response Json(int status, std::string body) {
    Response r;
    r.status = status;
    r.headers.emplace_back("content-type", "application/json");
    r.body = std::move(body);
    return r;
  }
};

using Handler = std::function<Awaitable<Response>(Request&)>;

}  // namespace gantry::server
