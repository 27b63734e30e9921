// gantry: one binary for the gateway, the local engine and the tools around them.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/serve.h"

int main(int argc, char** argv) {
  CLI::App app{"gantry: a production generative-AI platform in one binary"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "gantry 0.1.0");

  gantry::cli::ServeFlags serve;
  auto* s = app.add_subcommand("serve", "Serve the OpenAI-compatible API");
  s->add_option("--config", serve.config_file, "YAML config file (default: embedded defaults)");
  s->add_option("--data", serve.data_dir, "Data directory")->capture_default_str();
  s->add_option("--host", serve.host, "Address to listen on (default 127.0.0.1)");
  s->add_option("--port", serve.port, "Port to listen on (0 = any free port)")
      ->check(CLI::Range(0, 65535));
  s->add_option("--log-level", serve.log_level, "debug, info, warn, error or off");

  CLI11_PARSE(app, argc, argv);
  if (s->parsed()) return gantry::cli::RunServe(serve);
  return 0;
}
