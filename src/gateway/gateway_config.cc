#include "gateway/gateway_config.h"

#include <sched.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "providers/local_provider.h"
#include "providers/openai_provider.h"
#include "providers/scripted_provider.h"

namespace gantry::gateway {

std::string DefaultModelsDir() {
  auto env = ProcessEnv("GANTRY_MODELS");
  return env && !env->empty() ? *env : std::string("models");
}

namespace {

// The CPUs this process may run on (its affinity mask, which container CPU sets
// narrow), not every CPU of the host: compute teams spin, and oversubscribing them
// stalls every parallel section.
int DefaultThreads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int n = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(n, 1, 64);
}

Result<ProviderHandle> BuildLocalProvider(const ConfigNode& p, const std::string& name) {
  RETURN_IF_ERROR(
      p.CheckKeys({"name", "type", "models_dir", "chat_model", "embedding_model", "threads",
                   "max_sequences", "max_batch_tokens", "max_queue", "context_length",
                   "kv_cache_mb", "embedding_threads", "embedding_max_queue", "embedding_batch"}));
  ASSIGN_OR_RETURN(std::string dir, p.String("models_dir", DefaultModelsDir()));
  auto resolve = [&](const std::string& f) {
    return f.empty() || std::filesystem::path(f).is_absolute()
               ? f
               : (std::filesystem::path(dir) / f).string();
  };
  ASSIGN_OR_RETURN(std::string chat, p.String("chat_model", std::string(kDefaultChatModelFile)));
  ASSIGN_OR_RETURN(std::string embed,
                   p.String("embedding_model", std::string(kDefaultEmbeddingModelDir)));
  if (chat.empty() && embed.empty()) {
    return p.Error("chat_model", "a local provider needs a chat_model or an embedding_model");
  }
  ProviderHandle h{name, "local", nullptr, nullptr};
  if (!chat.empty()) {
    providers::LocalChatOptions o;
    o.model_path = resolve(chat);
    engine::SchedulerOptions& so = o.scheduler;
    ASSIGN_OR_RETURN(int64_t threads, p.Int("threads", DefaultThreads(), 1, 1024));
    so.threads = static_cast<int>(threads);
    ASSIGN_OR_RETURN(int64_t seqs, p.Int("max_sequences", so.max_sequences, 1, 4096));
    so.max_sequences = static_cast<int>(seqs);
    ASSIGN_OR_RETURN(int64_t batch, p.Int("max_batch_tokens", so.max_batch_tokens, 1, 65536));
    so.max_batch_tokens = static_cast<int>(batch);
    ASSIGN_OR_RETURN(int64_t queue, p.Int("max_queue", so.max_queue, 1, 1'000'000));
    so.max_queue = static_cast<int>(queue);
    ASSIGN_OR_RETURN(int64_t ctx, p.Int("context_length", so.context_length, 2, 1 << 24));
    so.context_length = static_cast<int>(ctx);
    ASSIGN_OR_RETURN(int64_t kv, p.Int("kv_cache_mb", static_cast<int64_t>(so.kv_cache_bytes >> 20),
                                       1, 1 << 24));
    so.kv_cache_bytes = static_cast<size_t>(kv) << 20;
    if (Status s = so.Validate(); !s.ok()) return p.Error("max_batch_tokens", s.message());
    auto model = providers::LocalChatModel::Create(std::move(o));
    if (!model.ok()) return p.Error("chat_model", model.status().message());
    h.chat = *model;
  }
  if (!embed.empty()) {
    providers::LocalEmbeddingOptions o;
    o.model_dir = resolve(embed);
    ASSIGN_OR_RETURN(int64_t threads, p.Int("embedding_threads", DefaultThreads(), 1, 1024));
    o.threads = static_cast<int>(threads);
    ASSIGN_OR_RETURN(int64_t queue, p.Int("embedding_max_queue", o.max_queue, 1, 1'000'000));
    o.max_queue = static_cast<int>(queue);
    ASSIGN_OR_RETURN(int64_t batch, p.Int("embedding_batch", o.max_batch_texts, 1, 4096));
    o.max_batch_texts = static_cast<int>(batch);
    auto model = providers::LocalEmbeddingModel::Create(std::move(o));
    if (!model.ok()) return p.Error("embedding_model", model.status().message());
    h.embedding = *model;
  }
  return h;
}

}  // namespace

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
    } else if (type == "local") {
      ASSIGN_OR_RETURN(auto h, BuildLocalProvider(p, name));
      out.push_back(std::move(h));
    } else {
      return p.Error("type",
                     "unknown provider type '" + type + "' (expected openai, local or scripted)");
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

std::string EmbeddedDefaultConfig() {
  return std::string(
             "providers:\n"
             "  - name: local\n"
             "    type: local\n"
             "models:\n"
             "  - name: ") +
         kDefaultChatModelName +
         "\n"
         "    provider: local\n"
         "    kind: chat\n"
         "  - name: " +
         kDefaultEmbeddingModelName +
         "\n"
         "    provider: local\n"
         "    kind: embedding\n";
}

Result<std::unique_ptr<Gateway>> BuildGateway(const ConfigNode& root, LoggerPtr logger) {
  ASSIGN_OR_RETURN(auto providers, BuildProviders(root));
  ASSIGN_OR_RETURN(auto routes, ParseModelRoutes(root));
  auto g = Gateway::Create(std::move(providers), std::move(routes), std::move(logger));
  if (!g.ok()) return InvalidArgument(root.Error("models", g.status().message()).message());
  return g;
}

}  // namespace gantry::gateway
