// Configuration documents: YAML with ${ENV} substitution, read through typed,
// path-aware accessors whose errors name the file, line, key and problem.
//
//   ASSIGN_OR_RETURN(auto doc, ConfigDoc::Load("gantry.yaml"));
//   ConfigNode server = doc->Root().Map("server").value();
//   int port = server.Int("port", 8080, 1, 65535).value();
//
// Substitution: in any scalar, `${NAME}` is replaced by the environment variable
// NAME (an error if unset), `${NAME:-fallback}` by NAME or the fallback, and `$$`
// by `$`. It happens after YAML parsing, so a variable's value can never change
// the document's structure. Values that came from the environment are treated
// as secrets: SecretValues() lists them so the logger can scrub them, and no
// error message ever quotes a configured value.
//
// Thread safety: a loaded ConfigDoc is immutable and may be shared.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/secret.h"
#include "core/status.h"

namespace gantry {

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// Reads the process environment.
std::optional<std::string> ProcessEnv(const std::string& name);

class ConfigDoc;

class ConfigNode {
 public:
  // Dotted path of this node, e.g. "providers[0]" ("" for the root).
  const std::string& path() const { return path_; }
  bool Has(std::string_view key) const;
  bool IsMap() const { return node_->is_object(); }
  bool IsNull() const { return node_->is_null(); }

  // Scalar accessors. A missing key (or null) yields the default; without a
  // default it is an error. Wrong types and out-of-range values are errors.
  Result<std::string> String(std::string_view key,
                             std::optional<std::string> def = std::nullopt) const;
  Result<int64_t> Int(std::string_view key, std::optional<int64_t> def, int64_t min,
                      int64_t max) const;
  Result<double> Double(std::string_view key, std::optional<double> def, double min,
                        double max) const;
  Result<bool> Bool(std::string_view key, std::optional<bool> def = std::nullopt) const;
  Result<Secret> SecretValue(std::string_view key, bool required = false) const;
  Result<std::vector<std::string>> StringList(std::string_view key) const;
  // A mapping of string to string (empty when missing), in key order.
  Result<std::vector<std::pair<std::string, std::string>>> StringMap(std::string_view key) const;

  // A child mapping (an empty one when the key is missing).
  Result<ConfigNode> Map(std::string_view key) const;
  // A child sequence of mappings (empty when the key is missing).
  Result<std::vector<ConfigNode>> MapList(std::string_view key) const;
  // Every key of this mapping must be in `allowed` (catches typos).
  Status CheckKeys(std::initializer_list<std::string_view> allowed) const;

  // An InvalidArgument naming file, line, path and `problem`.
  Status Error(std::string_view key, std::string_view problem) const;

 private:
  friend class ConfigDoc;
  ConfigNode(std::shared_ptr<const ConfigDoc> doc, const nlohmann::json* node, std::string path)
      : doc_(std::move(doc)), node_(node), path_(std::move(path)) {}
  std::string ChildPath(std::string_view key) const;
  const nlohmann::json* Child(std::string_view key) const;

  std::shared_ptr<const ConfigDoc> doc_;
  const nlohmann::json* node_;
  std::string path_;
};

class ConfigDoc : public std::enable_shared_from_this<ConfigDoc> {
 public:
  // Errors: kNotFound (no such file), kInvalidArgument (YAML syntax, unset variable).
  static Result<std::shared_ptr<const ConfigDoc>> Load(const std::string& file,
                                                       const EnvLookup& env = ProcessEnv);
  static Result<std::shared_ptr<const ConfigDoc>> Parse(std::string_view text,
                                                        const std::string& file_name,
                                                        const EnvLookup& env = ProcessEnv);

  ConfigNode Root() const;
  const std::string& file() const { return file_; }
  // Line (1-based) of a node's path, 0 when unknown.
  int LineOf(const std::string& path) const;
  bool FromEnv(const std::string& path) const { return env_paths_.count(path) > 0; }
  const std::vector<std::string>& SecretValues() const { return secret_values_; }

 private:
  ConfigDoc() = default;
  friend struct ConfigBuilder;

  std::string file_;
  nlohmann::json root_;
  std::map<std::string, int> lines_;
  std::map<std::string, bool> env_paths_;
  std::vector<std::string> secret_values_;
};

}  // namespace gantry
