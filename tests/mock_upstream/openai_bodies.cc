// OpenAI request parsing and response bodies for gantry-mock-upstream.

#include "openai_bodies.h"

#include <array>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>

namespace gantry::mock {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr int64_t kCreatedModels = 1700000000;
constexpr int64_t kMaxDimensions = 65536;
constexpr std::array<std::string_view, 2> kModelIds = {"mock-chat", "mock-embed"};

ApiError BadRequest(std::string message, std::string param = "") {
  ApiError error;
  error.status = 400;
  error.message = std::move(message);
  error.param = std::move(param);
  return error;
}

ordered_json ModelJson(std::string_view id) {
  ordered_json model = ordered_json::object();
  model["id"] = id;
  model["object"] = "model";
  model["created"] = kCreatedModels;
  model["owned_by"] = "mock";
  return model;
}

// Words in a message `content`: a string, or an array of {"type":"text","text":...} parts.
int64_t ContentWords(const nlohmann::json& content) {
  if (content.is_string()) return CountWords(content.get_ref<const std::string&>());
  int64_t words = 0;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (!part.is_object()) continue;
      auto type = part.find("type");
      auto text = part.find("text");
      if (type != part.end() && *type == "text" && text != part.end() && text->is_string()) {
        words += CountWords(text->get_ref<const std::string&>());
      }
    }
  }
  return words;
}

std::optional<ApiError> OptionalNonNegativeInt(const nlohmann::json& body, const char* key,
                                               std::optional<int64_t>& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<int64_t>() < 0) {
    return BadRequest(std::string("'") + key + "' must be a non-negative integer", key);
  }
  out = it->get<int64_t>();
  return std::nullopt;
}

uint64_t Fnv1a64(std::string_view data) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

bool IsTokenArray(const nlohmann::json& value) {
  if (!value.is_array() || value.empty()) return false;
  for (const auto& v : value) {
    if (!v.is_number_integer()) return false;
  }
  return true;
}

}  // namespace

std::string ErrorBody(const ApiError& error) {
  ordered_json inner = ordered_json::object();
  inner["message"] = error.message;
  inner["type"] = error.type;
  inner["param"] = error.param.empty() ? ordered_json(nullptr) : ordered_json(error.param);
  inner["code"] = error.code.empty() ? ordered_json(nullptr) : ordered_json(error.code);
  ordered_json body = ordered_json::object();
  body["error"] = std::move(inner);
  return body.dump();
}

ApiError MockError(int status) {
  ApiError error;
  error.status = status;
  error.message = "mock error " + std::to_string(status);
  if (status >= 500) {
    error.type = "server_error";
  } else if (status == 429) {
    error.type = "rate_limit_error";
    error.code = "rate_limit_exceeded";
  } else {
    error.type = "invalid_request_error";
  }
  return error;
}

int64_t CountWords(std::string_view text) {
  int64_t words = 0;
  bool in_word = false;
  for (unsigned char c : text) {
    if (std::isspace(c)) {
      in_word = false;
    } else if (!in_word) {
      in_word = true;
      ++words;
    }
  }
  return words;
}

std::string ModelsBody() {
  ordered_json data = ordered_json::array();
  for (std::string_view id : kModelIds) data.push_back(ModelJson(id));
  ordered_json body = ordered_json::object();
  body["object"] = "list";
  body["data"] = std::move(data);
  return body.dump();
}

std::optional<std::string> ModelBody(std::string_view id) {
  for (std::string_view known : kModelIds) {
    if (known == id) return ModelJson(id).dump();
  }
  return std::nullopt;
}

std::optional<ApiError> ParseChatRequest(const nlohmann::json& body, ChatRequest& out) {
  if (!body.is_object()) return BadRequest("request body must be a JSON object");
  auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array()) {
    return BadRequest("'messages' must be an array", "messages");
  }
  auto model = body.find("model");
  out.model = (model != body.end() && model->is_string()) ? model->get<std::string>() : "mock-chat";
  auto stream = body.find("stream");
  out.stream = stream != body.end() && stream->is_boolean() && stream->get<bool>();
  out.include_usage = false;
  if (auto options = body.find("stream_options"); options != body.end() && options->is_object()) {
    auto usage = options->find("include_usage");
    out.include_usage = usage != options->end() && usage->is_boolean() && usage->get<bool>();
  }
  std::optional<int64_t> max_completion_tokens;
  std::optional<int64_t> max_tokens;
  if (auto error = OptionalNonNegativeInt(body, "max_completion_tokens", max_completion_tokens)) {
    return error;
  }
  if (auto error = OptionalNonNegativeInt(body, "max_tokens", max_tokens)) return error;
  out.max_tokens = max_completion_tokens ? max_completion_tokens : max_tokens;
  out.prompt_tokens = 0;
  for (const auto& message : *messages) {
    if (!message.is_object()) return BadRequest("each message must be an object", "messages");
    if (auto content = message.find("content"); content != message.end()) {
      out.prompt_tokens += ContentWords(*content);
    }
  }
  return std::nullopt;
}

std::string CompletionToken(int64_t index) {
  return (index == 0 ? "tok" : " tok") + std::to_string(index);
}

std::string ChatCompletionBody(std::string_view id, int64_t created, const ChatRequest& request,
                               int64_t completion_tokens, std::string_view finish_reason) {
  std::string content;
  content.reserve(static_cast<size_t>(completion_tokens) * 6);
  for (int64_t i = 0; i < completion_tokens; ++i) content += CompletionToken(i);

  ordered_json message = ordered_json::object();
  message["role"] = "assistant";
  message["content"] = std::move(content);
  message["refusal"] = nullptr;
  ordered_json choice = ordered_json::object();
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason;
  ordered_json usage = ordered_json::object();
  usage["prompt_tokens"] = request.prompt_tokens;
  usage["completion_tokens"] = completion_tokens;
  usage["total_tokens"] = request.prompt_tokens + completion_tokens;

  ordered_json body = ordered_json::object();
  body["id"] = id;
  body["object"] = "chat.completion";
  body["created"] = created;
  body["model"] = request.model;
  body["choices"] = ordered_json::array({std::move(choice)});
  body["usage"] = std::move(usage);
  body["system_fingerprint"] = "mock";
  return body.dump();
}

ChunkBuilder::ChunkBuilder(std::string_view id, int64_t created, std::string_view model,
                           bool include_usage)
    : suffix_(include_usage ? ",\"usage\":null}" : "}") {
  prefix_ = "{\"id\":" + nlohmann::json(id).dump() +
            ",\"object\":\"chat.completion.chunk\",\"created\":" + std::to_string(created) +
            ",\"model\":" + nlohmann::json(model).dump() +
            ",\"system_fingerprint\":\"mock\",\"choices\":[";
}

std::string ChunkBuilder::RoleChunk() const {
  return prefix_ +
         "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
         "\"finish_reason\":null}]" +
         suffix_;
}

std::string ChunkBuilder::TokenChunk(int64_t index) const {
  return prefix_ + "{\"index\":0,\"delta\":{\"content\":\"" + CompletionToken(index) +
         "\"},\"logprobs\":null,\"finish_reason\":null}]" + suffix_;
}

std::string ChunkBuilder::FinishChunk(std::string_view finish_reason) const {
  return prefix_ + "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"" +
         std::string(finish_reason) + "\"}]" + suffix_;
}

std::string ChunkBuilder::UsageChunk(int64_t prompt_tokens, int64_t completion_tokens) const {
  return prefix_ + "],\"usage\":{\"prompt_tokens\":" + std::to_string(prompt_tokens) +
         ",\"completion_tokens\":" + std::to_string(completion_tokens) +
         ",\"total_tokens\":" + std::to_string(prompt_tokens + completion_tokens) + "}}";
}

std::optional<ApiError> ParseEmbeddingRequest(const nlohmann::json& body, EmbeddingRequest& out) {
  if (!body.is_object()) return BadRequest("request body must be a JSON object");
  auto model = body.find("model");
  out.model =
      (model != body.end() && model->is_string()) ? model->get<std::string>() : "mock-embed";

  auto input = body.find("input");
  if (input == body.end()) return BadRequest("'input' is required", "input");
  out.inputs.clear();
  out.prompt_tokens = 0;
  const ApiError bad_input = BadRequest(
      "'input' must be a non-empty string, array of strings, array of integers or array of "
      "arrays of integers",
      "input");
  if (input->is_string()) {
    const auto& text = input->get_ref<const std::string&>();
    if (text.empty()) return bad_input;
    out.inputs.push_back(text);
    out.prompt_tokens = CountWords(text);
  } else if (IsTokenArray(*input)) {
    out.inputs.push_back(input->dump());
    out.prompt_tokens = static_cast<int64_t>(input->size());
  } else if (input->is_array() && !input->empty()) {
    const bool strings = (*input)[0].is_string();
    for (const auto& item : *input) {
      if (strings && item.is_string() && !item.get_ref<const std::string&>().empty()) {
        out.inputs.push_back(item.get<std::string>());
        out.prompt_tokens += CountWords(item.get_ref<const std::string&>());
      } else if (!strings && IsTokenArray(item)) {
        out.inputs.push_back(item.dump());
        out.prompt_tokens += static_cast<int64_t>(item.size());
      } else {
        return bad_input;
      }
    }
  } else {
    return bad_input;
  }

  out.dimensions = 8;
  if (auto dims = body.find("dimensions"); dims != body.end() && !dims->is_null()) {
    if (!dims->is_number_integer() || dims->get<int64_t>() < 1 ||
        dims->get<int64_t>() > kMaxDimensions) {
      return BadRequest("'dimensions' must be an integer in [1, 65536]", "dimensions");
    }
    out.dimensions = dims->get<int64_t>();
  }
  out.base64 = false;
  if (auto format = body.find("encoding_format"); format != body.end() && !format->is_null()) {
    if (*format == "base64") {
      out.base64 = true;
    } else if (*format != "float") {
      return BadRequest("'encoding_format' must be \"float\" or \"base64\"", "encoding_format");
    }
  }
  return std::nullopt;
}

std::vector<float> EmbeddingVector(std::string_view input, int64_t dimensions) {
  uint64_t state = Fnv1a64(input);
  std::vector<double> raw(static_cast<size_t>(dimensions));
  double norm = 0.0;
  for (double& v : raw) {
    v = static_cast<double>(SplitMix64(state) >> 11) * 0x1.0p-52 - 1.0;  // [-1, 1)
    norm += v * v;
  }
  norm = std::sqrt(norm);
  std::vector<float> out(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    out[i] = static_cast<float>(norm > 0.0 ? raw[i] / norm : raw[i]);
  }
  return out;
}

std::string Base64Floats(const std::vector<float>& values) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<unsigned char> bytes;
  bytes.reserve(values.size() * 4);
  for (float v : values) {
    const auto bits = std::bit_cast<uint32_t>(v);
    for (int shift = 0; shift < 32; shift += 8) {
      bytes.push_back(static_cast<unsigned char>((bits >> shift) & 0xff));
    }
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = uint32_t{bytes[i]} << 16;
    if (i + 1 < bytes.size()) n |= uint32_t{bytes[i + 1]} << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += (i + 1 < bytes.size()) ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string EmbeddingsBody(const EmbeddingRequest& request) {
  ordered_json data = ordered_json::array();
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const std::vector<float> vec = EmbeddingVector(request.inputs[i], request.dimensions);
    ordered_json item = ordered_json::object();
    item["object"] = "embedding";
    item["index"] = i;
    if (request.base64) {
      item["embedding"] = Base64Floats(vec);
    } else {
      item["embedding"] = vec;
    }
    data.push_back(std::move(item));
  }
  ordered_json usage = ordered_json::object();
  usage["prompt_tokens"] = request.prompt_tokens;
  usage["total_tokens"] = request.prompt_tokens;
  ordered_json body = ordered_json::object();
  body["object"] = "list";
  body["data"] = std::move(data);
  body["model"] = request.model;
  body["usage"] = std::move(usage);
  return body.dump();
}

}  // namespace gantry::mock
