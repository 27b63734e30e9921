// `gantry ingest` and `gantry ask`: the RAG client commands.
//
//   gantry ingest PATH... --collection C [--server URL | --data DIR]
//   gantry ask "question" --collection C [--server URL | --data DIR]
//
// With --server they go through a running gantry (its HTTP API, bearer key
// from --api-key or $GANTRY_API_KEY); with --data they open the data
// directory directly (embedded defaults or --config), which must not be
// served by a running gantry at the same time.
//
// ingest walks directories for .txt .md .html .pdf .json .jsonl files, shows a
// progress bar on a terminal (a line per file otherwise), and ends with a
// summary: added / updated / unchanged / failed, chunks, bytes, MB/s. A file
// that fails (corrupt, binary, wrong encoding, too large) is listed with its
// error and never stops the rest. --prune deletes documents whose source was
// under an ingested directory but no longer exists.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace gantry::cli {

struct RagClientFlags {
  std::string server;       // base URL of a running gantry, e.g. http://127.0.0.1:8080
  std::string data_dir;     // or a data directory opened in-process
  std::string config_file;  // with --data: "" = embedded defaults
  std::string api_key;      // with --server: "" = $GANTRY_API_KEY, else "dev"
};

struct IngestFlags {
  RagClientFlags client;
  std::vector<std::string> paths;
  std::string collection;
  std::string metadata_json;     // applied to every document
  std::vector<std::string> acl;  // principals allowed to read them
  bool prune = false;
  bool quiet = false;
};

struct AskFlags {
  RagClientFlags client;
  std::string question;
  std::vector<std::string> collections;
  std::string model;  // "" = the first chat model
  int k = 5;
  std::string mode = "hybrid";
  std::string filter_json;
  int max_tokens = 256;
  bool json = false;  // print the whole response
};

// Exit codes: 0 success, 1 some files failed (ingest) / no answer, 2 usage or
// setup error.
int RunIngest(const IngestFlags& flags, std::ostream& out, std::ostream& err);
int RunAsk(const AskFlags& flags, std::ostream& out, std::ostream& err);

}  // namespace gantry::cli
