#include "gateway/gateway_config.h"

#include "providers/openai_provider.h"
#include "providers/scripted_provider.h"

namespace gantry::gateway {

Result<std::vector<ProviderHandle>> BuildProviders(const ConfigNode& root) {
  std::vector<ProviderHandle> out;
  ASSIGN_OR_RETURN(auto list, root.MapList("providers"));
  for (const auto& p : list) {
    ASSIGN_OR_RETURN(std::string name, p.String("name"));
    ASSIGN_OR_RETURN(std::string type, p.String("type", "openai"));
    if (type == "openai") {
      RETURN_IF_ERROR(
          p.CheckKeys({"name", "type", "base_url", "api_key", "timeout_ms", "connect_timeout_ms",
                       "max_idle_connections", "ca_file", "verify_tls", "headers"}));
      providers::OpenAIProviderOptions o;
      o.name = name;
      ASSIGN_OR_RETURN(o.base_url, p.String("base_url"));
      if (auto u = providers::HttpUrl::Parse(o.base_url); !u.ok()) {
        return p.Error("base_url", u.status().message());
      }
      ASSIGN_OR_RETURN(o.api_key, p.SecretValue("api_key"));
      ASSIGN_OR_RETURN(int64_t timeout, p.Int("timeout_ms", 600'000, 1, 86'400'000));
      o.timeout = Millis(timeout);
      ASSIGN_OR_RETURN(int64_t connect, p.Int("connect_timeout_ms", 10'000, 1, 600'000));
      o.http.connect_timeout = Millis(connect);
      ASSIGN_OR_RETURN(int64_t idle, p.Int("max_idle_connections", 64, 0, 100'000));
      o.http.max_idle_per_host = static_cast<size_t>(idle);
      ASSIGN_OR_RETURN(o.http.ca_file, p.String("ca_file", ""));
      ASSIGN_OR_RETURN(o.http.verify_tls, p.Bool("verify_tls", true));
      ASSIGN_OR_RETURN(auto headers, p.StringMap("headers"));
      for (auto& [k, v] : headers) o.extra_headers.emplace_back(k, v);
      ASSIGN_OR_RETURN(auto provider, providers::OpenAIProvider::Create(std::move(o)));
      std::shared_ptr<providers::OpenAIProvider> shared(std::move(provider));
      out.push_back({name, type, shared, shared});
    } else if (type == "scripted") {
      RETURN_IF_ERROR(p.CheckKeys({"name", "type", "reply", "token_delay_ms",
                                   "first_token_delay_ms", "embedding_dimensions"}));
      providers::ScriptedOptions o;
      ASSIGN_OR_RETURN(o.reply, p.String("reply", ""));
      ASSIGN_OR_RETURN(int64_t d, p.Int("token_delay_ms", 0, 0, 600'000));
      o.token_delay = Millis(d);
      ASSIGN_OR_RETURN(int64_t f, p.Int("first_token_delay_ms", 0, 0, 600'000));
      o.first_token_delay = Millis(f);
      ASSIGN_OR_RETURN(int64_t dims, p.Int("embedding_dimensions", 8, 1, 65'536));
      o.embedding_dimensions = static_cast<size_t>(dims);
      auto shared = std::make_shared<providers::ScriptedProvider>(std::move(o));
      out.push_back({name, type, shared, shared});
    } else {
      return p.Error("type", "unknown provider type '" + type + "' (expected openai or scripted)");
    }
  }
  return out;
}

Result<std::vector<ModelRoute>> ParseModelRoutes(const ConfigNode& root) {
  std::vector<ModelRoute> out;
  ASSIGN_OR_RETURN(auto list, root.MapList("models"));
  for (const auto& m : list) {
    RETURN_IF_ERROR(m.CheckKeys({"name", "provider", "upstream_model", "kind"}));
    ModelRoute r;
    ASSIGN_OR_RETURN(r.name, m.String("name"));
    ASSIGN_OR_RETURN(r.provider, m.String("provider"));
    ASSIGN_OR_RETURN(r.upstream_model, m.String("upstream_model", ""));
    ASSIGN_OR_RETURN(std::string kind, m.String("kind", "chat"));
    if (kind == "chat") {
      r.kind = ModelKind::kChat;
    } else if (kind == "embedding") {
      r.kind = ModelKind::kEmbedding;
    } else {
      return m.Error("kind", "must be chat or embedding");
    }
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::unique_ptr<Gateway>> BuildGateway(const ConfigNode& root, LoggerPtr logger) {
  ASSIGN_OR_RETURN(auto providers, BuildProviders(root));
  ASSIGN_OR_RETURN(auto routes, ParseModelRoutes(root));
  auto g = Gateway::Create(std::move(providers), std::move(routes), std::move(logger));
  if (!g.ok()) return InvalidArgument(root.Error("models", g.status().message()).message());
  return g;
}

}  // namespace gantry::gateway
