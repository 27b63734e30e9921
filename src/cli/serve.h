// `gantry serve`: loads the config (or embedded defaults), builds the gateway
// and the HTTP server, and serves until SIGTERM/SIGINT.
#pragma once

#include <string>

#include "core/config.h"
#include "core/status.h"
#include "server/http_server.h"

namespace gantry::cli {

struct ServeFlags {
  std::string config_file;  // "" = embedded defaults
  std::string data_dir = "data";
  std::string host;       // "" = from config (default 127.0.0.1)
  int port = -1;          // -1 = from config (default 8080)
  std::string log_level;  // "" = from config (default info)
};

// Reads the `server:` section.
Result<server::ServerOptions> ParseServerOptions(const ConfigNode& root);

// Returns the process exit code.
int RunServe(const ServeFlags& flags);

}  // namespace gantry::cli
