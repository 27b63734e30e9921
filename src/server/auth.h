// Authenticator: checks the bearer token of a request.
//
// With no API key configured, gantry runs in dev mode: any bearer token is
// accepted, but only from a loopback peer. Once a key exists, only a matching
// key is accepted. Keys are held as SHA-256 digests and compared in constant
// time; a token is never logged.
//
// Thread safety: immutable after construction; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/secret.h"
#include "core/status.h"
#include "server/http_types.h"

namespace gantry::server {

// A configured key: the tenant it belongs to and the groups it acts as (for
// document ACLs).
struct ApiKey {
  ApiKey(Secret k, std::string t = "default", std::vector<std::string> g = {})  // NOLINT
      : key(std::move(k)), tenant(std::move(t)), groups(std::move(g)) {}
  Secret key;
  std::string tenant;
  std::vector<std::string> groups;
};

class Authenticator {
 public:
  explicit Authenticator(const std::vector<ApiKey>& keys);
  bool dev_mode() const { return keys_.empty(); }
  // Sets ctx->key_id, ctx->tenant and ctx->principals (the key's groups) on success.
  // kUnauthenticated with a message that says what to do, otherwise.
  Status Authenticate(const Request& request, RequestContext* ctx) const;

 private:
  struct Entry {
    std::string hash;
    std::string tenant;
    std::vector<std::string> groups;
  };
  std::vector<Entry> keys_;
};

}  // namespace gantry::server
