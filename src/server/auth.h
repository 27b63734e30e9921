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

class Authenticator {
 public:
  explicit Authenticator(const std::vector<Secret>& keys);
  bool dev_mode() const { return key_hashes_.empty(); }
  // Sets ctx->key_id on success. kUnauthenticated with a message that says
  // what to do, otherwise.
  Status Authenticate(const Request& request, RequestContext* ctx) const;

 private:
  std::vector<std::string> key_hashes_;
};

}  // namespace gantry::server
