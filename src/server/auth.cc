#include "server/auth.h"

#include "core/ids.h"

namespace gantry::server {

Authenticator::Authenticator(const std::vector<ApiKey>& keys) {
  for (const auto& k : keys) {
    if (!k.key.empty()) keys_.push_back({Sha256Hex(k.key.Reveal()), k.tenant, k.groups});
  }
}

Status Authenticator::Authenticate(const Request& request, RequestContext* ctx) const {
  auto header = request.Header("authorization");
  if (!header) {
    return Unauthenticated(
        "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.");
  }
  constexpr std::string_view kBearer = "Bearer ";
  std::string_view h = *header;
  if (h.size() <= kBearer.size() || h.substr(0, kBearer.size()) != kBearer) {
    return Unauthenticated("The Authorization header must be 'Bearer YOUR_KEY'.");
  }
  std::string_view token = h.substr(kBearer.size());
  if (dev_mode()) {
    if (!request.peer_loopback) {
      return Unauthenticated(
          "gantry is in dev mode (no API key configured) and accepts only loopback clients; "
          "configure auth.api_keys to serve other hosts.");
    }
    ctx->key_id = "dev";
    return OkStatus();
  }
  const std::string digest = Sha256Hex(token);
  for (const auto& k : keys_) {
    if (ConstantTimeEquals(digest, k.hash)) {
      ctx->key_id = "key_" + k.hash.substr(0, 12);
      ctx->tenant = k.tenant;
      ctx->principals = k.groups;
      return OkStatus();
    }
  }
  return Unauthenticated("Incorrect API key provided.");
}

}  // namespace gantry::server
