// Reads the `providers:` and `models:` sections of the config and builds the
// provider objects the Gateway routes to.
//
//   providers:
//     - name: openai
//       type: openai                 # openai (any OpenAI-compatible server) | scripted (tests)
//       base_url: https://api.openai.com/v1
//       api_key: ${OPENAI_API_KEY}
//       timeout_ms: 600000           # per attempt
//       connect_timeout_ms: 10000
//       max_idle_connections: 64
//       ca_file: /etc/ssl/my-ca.pem  # optional extra trust
//       verify_tls: true
//       headers: {OpenAI-Organization: org-123}
//   models:
//     - name: gpt-4o-mini            # what clients send
//       provider: openai
//       upstream_model: gpt-4o-mini  # optional
//       kind: chat                   # chat | embedding
//
// Errors name the file, line and key (see core/config.h).
#pragma once

#include <memory>
#include <vector>

#include "core/config.h"
#include "core/logging.h"
#include "gateway/gateway.h"

namespace gantry::gateway {

Result<std::vector<ProviderHandle>> BuildProviders(const ConfigNode& root);
Result<std::vector<ModelRoute>> ParseModelRoutes(const ConfigNode& root);
// Both of the above plus Gateway::Create.
Result<std::unique_ptr<Gateway>> BuildGateway(const ConfigNode& root, LoggerPtr logger);

}  // namespace gantry::gateway
