#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace gantry {

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

// Converts a YAML tree to JSON (scalars stay strings) and applies substitution.
struct ConfigBuilder {
  ConfigDoc& doc;
  const EnvLookup& env;

  std::string Where(const std::string& path, int line) const {
    std::string s = doc.file_;
    if (line > 0) s += ":" + std::to_string(line);
    s += ": ";
    s += path.empty() ? "<root>" : path;
    return s;
  }

  Result<std::string> Substitute(const std::string& in, const std::string& path, int line,
                                 bool* from_env) const {
    std::string out;
    out.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] != '$' || i + 1 >= in.size()) {
        out += in[i];
        continue;
      }
      if (in[i + 1] == '$') {
        out += '$';
        ++i;
        continue;
      }
      if (in[i + 1] != '{') {
        out += in[i];
        continue;
      }
      const size_t close = in.find('}', i + 2);
      if (close == std::string::npos) {
        return InvalidArgument(Where(path, line) +
                               ": unterminated '${' (write '$$' for a literal '$')");
      }
      std::string expr = in.substr(i + 2, close - i - 2);
      std::optional<std::string> fallback;
      if (auto p = expr.find(":-"); p != std::string::npos) {
        fallback = expr.substr(p + 2);
        expr = expr.substr(0, p);
      }
      if (expr.empty())
        return InvalidArgument(Where(path, line) + ": empty variable name in '${}'");
      for (char c : expr) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
          return InvalidArgument(Where(path, line) + ": invalid environment variable name '" +
                                 expr + "'");
        }
      }
      std::optional<std::string> value = env(expr);
      if (!value || value->empty()) {
        if (!fallback) {
          return InvalidArgument(Where(path, line) + ": environment variable " + expr +
                                 " is not set (set it, or write ${" + expr + ":-default})");
        }
        out += *fallback;
      } else {
        out += *value;
        *from_env = true;
      }
      i = close;
    }
    return out;
  }

  Result<nlohmann::json> Convert(const YAML::Node& node, const std::string& path) {
    const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    doc.lines_[path] = line;
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nlohmann::json(nullptr);
      case YAML::NodeType::Scalar: {
        bool from_env = false;
        auto s = Substitute(node.Scalar(), path, line, &from_env);
        if (!s.ok()) return s.status();
        if (from_env) {
          doc.env_paths_[path] = true;
          doc.secret_values_.push_back(*s);
        }
        return nlohmann::json(*s);
      }
      case YAML::NodeType::Sequence: {
        nlohmann::json arr = nlohmann::json::array();
        size_t i = 0;
        for (const auto& item : node) {
          auto v = Convert(item, path + "[" + std::to_string(i++) + "]");
          if (!v.ok()) return v.status();
          arr.push_back(std::move(*v));
        }
        return arr;
      }
      case YAML::NodeType::Map: {
        nlohmann::json obj = nlohmann::json::object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            return InvalidArgument(Where(path, line) + ": mapping keys must be plain strings");
          }
          const std::string key = kv.first.Scalar();
          if (obj.contains(key)) {
            return InvalidArgument(
                Where(path.empty() ? key : path + "." + key, kv.first.Mark().line + 1) +
                ": duplicate key");
          }
          auto v = Convert(kv.second, path.empty() ? key : path + "." + key);
          if (!v.ok()) return v.status();
          obj[key] = std::move(*v);
        }
        return obj;
      }
    }
    return nlohmann::json(nullptr);
  }
};

Result<std::shared_ptr<const ConfigDoc>> ConfigDoc::Load(const std::string& file,
                                                         const EnvLookup& env) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return NotFound("cannot read config file '" + file + "': " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), file, env);
}

Result<std::shared_ptr<const ConfigDoc>> ConfigDoc::Parse(std::string_view text,
                                                          const std::string& file_name,
                                                          const EnvLookup& env) {
  std::shared_ptr<ConfigDoc> doc(new ConfigDoc());
  doc->file_ = file_name;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(file_name + ":" + std::to_string(e.mark.line + 1) +
                           ": invalid YAML: " + e.msg);
  }
  ConfigBuilder b{*doc, env};
  auto converted = b.Convert(root, "");
  if (!converted.ok()) return converted.status();
  if (converted->is_null()) converted = nlohmann::json::object();
  if (!converted->is_object()) {
    return InvalidArgument(file_name + ": the top level must be a mapping of sections");
  }
  doc->root_ = std::move(*converted);
  return std::shared_ptr<const ConfigDoc>(std::move(doc));
}

ConfigNode ConfigDoc::Root() const { return ConfigNode(shared_from_this(), &root_, ""); }

int ConfigDoc::LineOf(const std::string& path) const {
  auto it = lines_.find(path);
  return it == lines_.end() ? 0 : it->second;
}

// ---- ConfigNode ----

std::string ConfigNode::ChildPath(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const nlohmann::json* ConfigNode::Child(std::string_view key) const {
  if (!node_->is_object()) return nullptr;
  auto it = node_->find(std::string(key));
  if (it == node_->end() || it->is_null()) return nullptr;
  return &*it;
}

bool ConfigNode::Has(std::string_view key) const { return Child(key) != nullptr; }

Status ConfigNode::Error(std::string_view key, std::string_view problem) const {
  const std::string p = key.empty() ? path_ : ChildPath(key);
  int line = doc_->LineOf(p);
  if (line == 0) line = doc_->LineOf(path_);
  std::string msg = doc_->file();
  if (line > 0) msg += ":" + std::to_string(line);
  msg += ": ";
  msg += p.empty() ? "<root>" : p;
  msg += ": ";
  // Defence in depth: a value substituted from the environment may be a secret, so it never
  // appears in an error even if a validator quoted it.
  std::string text(problem);
  for (const auto& secret : doc_->SecretValues()) {
    if (secret.size() < 4) continue;
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
      text.replace(pos, secret.size(), "[from environment]");
      pos += 18;
    }
  }
  msg += text;
  return InvalidArgument(std::move(msg));
}

Result<std::string> ConfigNode::String(std::string_view key, std::optional<std::string> def) const {
  const auto* c = Child(key);
  if (c == nullptr) {
    if (def) return *def;
    return Error(key, "missing required key");
  }
  if (!c->is_string()) return Error(key, "expected a string, got a " + std::string(c->type_name()));
  return c->get<std::string>();
}

Result<int64_t> ConfigNode::Int(std::string_view key, std::optional<int64_t> def, int64_t min,
                                int64_t max) const {
  const auto* c = Child(key);
  if (c == nullptr) {
    if (def) return *def;
    return Error(key, "missing required key");
  }
  if (!c->is_string())
    return Error(key, "expected an integer, got a " + std::string(c->type_name()));
  const std::string& s = c->get_ref<const std::string&>();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return Error(key, "expected an integer");
  if (v < min || v > max) {
    return Error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return v;
}

Result<double> ConfigNode::Double(std::string_view key, std::optional<double> def, double min,
                                  double max) const {
  const auto* c = Child(key);
  if (c == nullptr) {
    if (def) return *def;
    return Error(key, "missing required key");
  }
  if (!c->is_string()) return Error(key, "expected a number, got a " + std::string(c->type_name()));
  const std::string& s = c->get_ref<const std::string&>();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v)) {
    return Error(key, "expected a number");
  }
  if (v < min || v > max) {
    return Error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return v;
}

Result<bool> ConfigNode::Bool(std::string_view key, std::optional<bool> def) const {
  const auto* c = Child(key);
  if (c == nullptr) {
    if (def) return *def;
    return Error(key, "missing required key");
  }
  if (c->is_string()) {
    const std::string& s = c->get_ref<const std::string&>();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  return Error(key, "expected true or false");
}

Result<Secret> ConfigNode::SecretValue(std::string_view key, bool required) const {
  const auto* c = Child(key);
  if (c == nullptr) {
    if (required) return Error(key, "missing required key");
    return Secret();
  }
  if (!c->is_string()) return Error(key, "expected a string");
  return Secret(c->get<std::string>());
}

Result<std::vector<std::string>> ConfigNode::StringList(std::string_view key) const {
  std::vector<std::string> out;
  const auto* c = Child(key);
  if (c == nullptr) return out;
  if (!c->is_array()) return Error(key, "expected a list of strings");
  for (const auto& item : *c) {
    if (!item.is_string()) return Error(key, "expected a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> ConfigNode::StringMap(
    std::string_view key) const {
  std::vector<std::pair<std::string, std::string>> out;
  const auto* c = Child(key);
  if (c == nullptr) return out;
  if (!c->is_object()) return Error(key, "expected a mapping of names to strings");
  for (auto it = c->begin(); it != c->end(); ++it) {
    if (!it->is_string()) return Error(std::string(key) + "." + it.key(), "expected a string");
    out.emplace_back(it.key(), it->get<std::string>());
  }
  return out;
}

Result<ConfigNode> ConfigNode::Map(std::string_view key) const {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const auto* c = Child(key);
  if (c == nullptr) return ConfigNode(doc_, &kEmpty, ChildPath(key));
  if (!c->is_object()) return Error(key, "expected a mapping (key: value lines)");
  return ConfigNode(doc_, c, ChildPath(key));
}

Result<std::vector<ConfigNode>> ConfigNode::MapList(std::string_view key) const {
  std::vector<ConfigNode> out;
  const auto* c = Child(key);
  if (c == nullptr) return out;
  if (!c->is_array()) return Error(key, "expected a list");
  const std::string base = ChildPath(key);
  for (size_t i = 0; i < c->size(); ++i) {
    const std::string p = base + "[" + std::to_string(i) + "]";
    if (!(*c)[i].is_object()) {
      return ConfigNode(doc_, &(*c)[i], p).Error("", "expected a mapping");
    }
    out.push_back(ConfigNode(doc_, &(*c)[i], p));
  }
  return out;
}

Status ConfigNode::CheckKeys(std::initializer_list<std::string_view> allowed) const {
  if (!node_->is_object()) return OkStatus();
  for (auto it = node_->begin(); it != node_->end(); ++it) {
    bool ok = false;
    for (auto a : allowed) ok = ok || a == it.key();
    if (!ok) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Error(it.key(), "unknown key (allowed here: " + list + ")");
    }
  }
  return OkStatus();
}

}  // namespace gantry
