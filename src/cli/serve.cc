#include "cli/serve.h"

#include <filesystem>
#include <iostream>

#include "cli/rag_setup.h"
#include "core/logging.h"
#include "gateway/gateway_config.h"
#include "server/handlers.h"

namespace gantry::cli {

Result<server::ServerOptions> ParseServerOptions(const ConfigNode& root) {
  server::ServerOptions o;
  ASSIGN_OR_RETURN(auto s, root.Map("server"));
  RETURN_IF_ERROR(s.CheckKeys({"host", "port", "io_threads", "max_body_bytes", "max_header_bytes",
                               "idle_timeout_ms", "read_timeout_ms", "request_timeout_ms",
                               "drain_timeout_ms", "max_inflight"}));
  ASSIGN_OR_RETURN(o.host, s.String("host", o.host));
  ASSIGN_OR_RETURN(int64_t port, s.Int("port", o.port, 0, 65535));
  o.port = static_cast<uint16_t>(port);
  ASSIGN_OR_RETURN(int64_t threads, s.Int("io_threads", o.io_threads, 1, 256));
  o.io_threads = static_cast<int>(threads);
  ASSIGN_OR_RETURN(int64_t body, s.Int("max_body_bytes", static_cast<int64_t>(o.max_body_bytes),
                                       1024, int64_t{1} << 32));
  o.max_body_bytes = static_cast<size_t>(body);
  ASSIGN_OR_RETURN(int64_t header, s.Int("max_header_bytes",
                                         static_cast<int64_t>(o.max_header_bytes), 1024, 1 << 20));
  o.max_header_bytes = static_cast<size_t>(header);
  ASSIGN_OR_RETURN(int64_t idle, s.Int("idle_timeout_ms", o.idle_timeout.count(), 1, 86'400'000));
  o.idle_timeout = Millis(idle);
  ASSIGN_OR_RETURN(int64_t read, s.Int("read_timeout_ms", o.read_timeout.count(), 1, 86'400'000));
  o.read_timeout = Millis(read);
  ASSIGN_OR_RETURN(int64_t req,
                   s.Int("request_timeout_ms", o.request_timeout.count(), 1, 86'400'000));
  o.request_timeout = Millis(req);
  ASSIGN_OR_RETURN(int64_t drain,
                   s.Int("drain_timeout_ms", o.drain_timeout.count(), 0, 86'400'000));
  o.drain_timeout = Millis(drain);
  ASSIGN_OR_RETURN(int64_t inflight, s.Int("max_inflight", o.max_inflight, 1, 1'000'000));
  o.max_inflight = static_cast<int>(inflight);
  return o;
}

namespace {

Result<std::shared_ptr<const ConfigDoc>> LoadConfig(const std::string& file) {
  if (file.empty())
    return ConfigDoc::Parse(gateway::EmbeddedDefaultConfig(), "<embedded defaults>");
  return ConfigDoc::Load(file);
}

int Fail(const Status& s, const std::string& hint = "") {
  std::cerr << "gantry: " << s.message() << "\n";
  if (!hint.empty()) std::cerr << hint << "\n";
  return 2;
}

}  // namespace

int RunServe(const ServeFlags& flags) {
  auto doc = LoadConfig(flags.config_file);
  if (!doc.ok()) return Fail(doc.status(), "Fix the config file and run `gantry serve` again.");
  const ConfigNode root = (*doc)->Root();
  if (Status s = root.CheckKeys({"server", "auth", "log", "providers", "models", "rag"}); !s.ok()) {
    return Fail(s);
  }

  auto log_section = root.Map("log");
  if (!log_section.ok()) return Fail(log_section.status());
  if (Status s = log_section->CheckKeys({"level", "file"}); !s.ok()) return Fail(s);
  auto level_name = log_section->String("level", "info");
  if (!level_name.ok()) return Fail(level_name.status());
  auto level = ParseLogLevel(flags.log_level.empty() ? *level_name : flags.log_level);
  if (!level.ok()) return Fail(level.status());
  auto log_file = log_section->String("file", "");
  if (!log_file.ok()) return Fail(log_file.status());
  auto logger = Logger::Open(*level, *log_file);
  if (!logger.ok()) return Fail(logger.status());
  LoggerPtr log = *logger;
  for (const auto& secret : (*doc)->SecretValues()) log->AddSecret(secret);

  auto options = ParseServerOptions(root);
  if (!options.ok()) return Fail(options.status());
  if (!flags.host.empty()) options->host = flags.host;
  if (flags.port >= 0) options->port = static_cast<uint16_t>(flags.port);

  auto auth_section = root.Map("auth");
  if (!auth_section.ok()) return Fail(auth_section.status());
  if (Status s = auth_section->CheckKeys({"api_keys", "keys"}); !s.ok()) return Fail(s);
  auto keys = auth_section->StringList("api_keys");
  if (!keys.ok()) return Fail(keys.status());
  std::vector<server::ApiKey> api_keys;
  for (auto& k : *keys) {
    log->AddSecret(k);
    api_keys.push_back({Secret(std::move(k)), "default", {}});
  }
  // auth.keys: [{key: ${KEY}, tenant: acme, groups: [eng]}]
  auto entries = auth_section->MapList("keys");
  if (!entries.ok()) return Fail(entries.status());
  for (const auto& e : *entries) {
    if (Status s = e.CheckKeys({"key", "tenant", "groups"}); !s.ok()) return Fail(s);
    auto key = e.String("key");
    auto tenant = e.String("tenant", "default");
    auto groups = e.StringList("groups");
    if (!key.ok()) return Fail(key.status());
    if (!tenant.ok()) return Fail(tenant.status());
    if (!groups.ok()) return Fail(groups.status());
    if (key->empty()) return Fail(e.Error("key", "must not be empty"));
    log->AddSecret(*key);
    api_keys.push_back({Secret(std::move(*key)), std::move(*tenant), std::move(*groups)});
  }
  auto auth = std::make_shared<const server::Authenticator>(api_keys);

  std::error_code ec;
  std::filesystem::create_directories(flags.data_dir, ec);
  if (ec) {
    return Fail(
        InvalidArgument("cannot create data directory '" + flags.data_dir + "': " + ec.message()),
        "Pass a writable directory with --data DIR.");
  }

  auto gw = gateway::BuildGateway(root, log);
  if (!gw.ok()) return Fail(gw.status(), "Fix the providers/models sections and try again.");
  if ((*gw)->ListModels().empty()) {
    log->Warn(
        "no models configured: /v1/models is empty; add providers and models to a config file "
        "(see examples/gantry.yaml) and pass it with --config",
        nullptr);
  }

  auto rag = OpenRag(root, **gw, flags.data_dir, log);
  if (!rag.ok()) return Fail(rag.status(), "Fix the rag section or the data directory.");
  (*gw)->SetRag(rag->get());

  server::Services services;
  services.gateway = gw->get();
  services.logger = log;
  auto srv = server::HttpServer::Create(*options, server::BuildRouter(services), auth, log);
  services.draining = [&srv] { return srv->draining(); };
  if (Status s = srv->Start(); !s.ok()) {
    return Fail(s, "Is another gantry already running on that port? Choose another with --port.");
  }
  if (auth->dev_mode()) {
    log->Warn(
        "dev mode: no API key configured; accepting any bearer token from loopback clients only",
        nullptr);
  }
  log->Info("listening",
            {{"host", options->host},
             {"port", srv->port()},
             {"data_dir", flags.data_dir},
             {"config", flags.config_file.empty() ? "<embedded defaults>" : flags.config_file},
             {"models", (*gw)->ListModels().size()}});
  srv->Run(/*handle_signals=*/true);
  // Providers keep pooled upstream sockets bound to the server's io_context: close them while
  // that context still exists (srv, declared after gw, would be destroyed first).
  rag->reset();  // saves the vector indexes; uses the gateway's embedding model
  gw->reset();
  return 0;
}

}  // namespace gantry::cli
