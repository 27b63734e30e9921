// Reads the `providers:` and `models:` sections of the config and builds the
// provider objects the Gateway routes to.
//
//   providers:
//     - name: openai
//       type: openai                 # openai (any OpenAI-compatible server) | local | scripted
//       base_url: https://api.openai.com/v1
//       api_key: ${OPENAI_API_KEY}
//       timeout_ms: 600000           # per attempt
//       connect_timeout_ms: 10000
//       max_idle_connections: 64
//       ca_file: /etc/ssl/my-ca.pem  # optional extra trust
//       verify_tls: true
//       headers: {OpenAI-Organization: org-123}
//     - name: local                  # the embedded engine (see providers/local_provider.h)
//       type: local
//       models_dir: models           # default $GANTRY_MODELS, else ./models
//       chat_model: gemma-3-270m-q4_k_m.gguf     # relative to models_dir; "" = none
//       embedding_model: all-MiniLM-L6-v2        # a directory; "" = none
//       threads: 2                   # compute threads (default: the CPU count)
//       max_sequences: 8             # sequences decoded together
//       max_batch_tokens: 256        # tokens per forward pass
//       max_queue: 64                # waiting requests; beyond, 429
//       context_length: 8192         # per sequence
//       kv_cache_mb: 1024            # KV cache of all running sequences
//       embedding_threads: 2
//       embedding_max_queue: 256     # texts waiting; beyond, 429
//       embedding_batch: 64          # texts per encoder run
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

inline constexpr const char* kDefaultChatModelFile = "gemma-3-270m-q4_k_m.gguf";
inline constexpr const char* kDefaultEmbeddingModelDir = "all-MiniLM-L6-v2";
// The client-facing names of the embedded defaults.
inline constexpr const char* kDefaultChatModelName = "gemma-3-270m";
inline constexpr const char* kDefaultEmbeddingModelName = "all-MiniLM-L6-v2";

// $GANTRY_MODELS, else "models".
std::string DefaultModelsDir();

// The configuration used when `gantry serve` gets no --config: one local provider
// with the default models from DefaultModelsDir(), named as above.
std::string EmbeddedDefaultConfig();

Result<std::vector<ProviderHandle>> BuildProviders(const ConfigNode& root);
Result<std::vector<ModelRoute>> ParseModelRoutes(const ConfigNode& root);
// Both of the above plus Gateway::Create.
Result<std::unique_ptr<Gateway>> BuildGateway(const ConfigNode& root, LoggerPtr logger);

}  // namespace gantry::gateway
