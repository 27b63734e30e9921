#include "providers/openai_codec.h"

#include <cmath>
#include <cstring>

#include "core/ids.h"

namespace gantry::providers {
namespace {

Status Bad(const std::string& field, const std::string& problem) {
  return InvalidArgument(field + ": " + problem);
}

std::string TypeName(const Json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  return v.type_name();
}

Status OptNumber(const Json& body, const char* key, double lo, double hi,
                 std::optional<double>* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return OkStatus();
  if (!it->is_number()) return Bad(key, "expected a number, got " + TypeName(*it));
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    return Bad(key, "must be between " + std::to_string(lo).substr(0, 4) + " and " +
                        std::to_string(hi).substr(0, 4));
  }
  *out = v;
  return OkStatus();
}

Status OptInt(const Json& body, const char* key, int64_t lo, int64_t hi,
              std::optional<int64_t>* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return OkStatus();
  if (!it->is_number_integer()) return Bad(key, "expected an integer, got " + TypeName(*it));
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) {
    return Bad(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  *out = v;
  return OkStatus();
}

Status OptBool(const Json& body, const char* key, bool* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return OkStatus();
  if (!it->is_boolean()) return Bad(key, "expected a boolean, got " + TypeName(*it));
  *out = it->get<bool>();
  return OkStatus();
}

Status OptString(const Json& body, const char* key, std::optional<std::string>* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return OkStatus();
  if (!it->is_string()) return Bad(key, "expected a string, got " + TypeName(*it));
  *out = it->get<std::string>();
  return OkStatus();
}

Result<ChatMessage> ParseMessage(const Json& m, const std::string& where) {
  if (!m.is_object()) return Bad(where, "expected an object, got " + TypeName(m));
  ChatMessage msg;
  auto role = m.find("role");
  if (role == m.end() || !role->is_string()) return Bad(where + ".role", "required string");
  msg.role = role->get<std::string>();
  static const char* kRoles[] = {"system", "developer", "user", "assistant", "tool", "function"};
  bool known = false;
  for (const char* r : kRoles) known = known || msg.role == r;
  if (!known) {
    return Bad(where + ".role",
               "'" + msg.role + "' is not one of system, developer, user, assistant, tool");
  }
  for (auto it = m.begin(); it != m.end(); ++it) {
    const std::string& k = it.key();
    if (k == "role") continue;
    if (k == "content") {
      if (!(it->is_string() || it->is_array() || it->is_null())) {
        return Bad(where + ".content", "expected a string or an array of content parts");
      }
      if (it->is_array()) {
        for (size_t i = 0; i < it->size(); ++i) {
          const Json& part = (*it)[i];
          if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
            return Bad(where + ".content[" + std::to_string(i) + "]",
                       "expected an object with a string 'type'");
          }
        }
      }
      msg.content = *it;
    } else if (k == "name") {
      if (!it->is_string()) return Bad(where + ".name", "expected a string");
      msg.name = it->get<std::string>();
    } else if (k == "tool_calls") {
      if (!(it->is_array() || it->is_null()))
        return Bad(where + ".tool_calls", "expected an array");
      msg.tool_calls = *it;
    } else if (k == "tool_call_id") {
      if (!it->is_string()) return Bad(where + ".tool_call_id", "expected a string");
      msg.tool_call_id = it->get<std::string>();
    } else {
      msg.extra[k] = *it;
    }
  }
  if (msg.content.is_null() && msg.role != "assistant") {
    return Bad(where + ".content", "required for role '" + msg.role + "'");
  }
  if (msg.role == "tool" && !msg.tool_call_id) {
    return Bad(where + ".tool_call_id", "required for role 'tool'");
  }
  return msg;
}

Json MessageToJson(const ChatMessage& m) {
  Json j = m.extra;
  j["role"] = m.role;
  j["content"] = m.content;
  if (m.name) j["name"] = *m.name;
  if (!m.tool_calls.is_null()) j["tool_calls"] = m.tool_calls;
  if (m.tool_call_id) j["tool_call_id"] = *m.tool_call_id;
  return j;
}

std::string StringOr(const Json& j, const char* key, std::string def = "") {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return def;
  return it->get<std::string>();
}

int64_t IntOr(const Json& j, const char* key, int64_t def = 0) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return def;
  return it->get<int64_t>();
}

}  // namespace

std::string ChatMessage::Text() const {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
          part["text"].is_string()) {
        if (!out.empty()) out += "\n";
        out += part["text"].get<std::string>();
      }
    }
  }
  return out;
}

size_t EmbeddingRequest::InputCount() const {
  if (input.is_string()) return 1;
  if (input.is_array() && !input.empty() && input[0].is_number_integer()) return 1;
  return input.is_array() ? input.size() : 0;
}

Result<ChatRequest> ParseChatRequest(const Json& body) {
  if (!body.is_object()) return InvalidArgument("request body must be a JSON object");
  ChatRequest r;
  static const char* kKnown[] = {"model",
                                 "messages",
                                 "stream",
                                 "stream_options",
                                 "temperature",
                                 "top_p",
                                 "presence_penalty",
                                 "frequency_penalty",
                                 "max_tokens",
                                 "max_completion_tokens",
                                 "n",
                                 "seed",
                                 "stop",
                                 "logprobs",
                                 "top_logprobs",
                                 "response_format",
                                 "tools",
                                 "tool_choice",
                                 "user"};
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool known = false;
    for (const char* k : kKnown) known = known || it.key() == k;
    if (!known) r.extra[it.key()] = *it;
  }
  auto model = body.find("model");
  if (model == body.end() || !model->is_string() || model->get<std::string>().empty()) {
    return Bad("model", "required non-empty string");
  }
  r.model = model->get<std::string>();
  auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array()) return Bad("messages", "required array");
  if (messages->empty()) return Bad("messages", "must contain at least one message");
  for (size_t i = 0; i < messages->size(); ++i) {
    auto m = ParseMessage((*messages)[i], "messages[" + std::to_string(i) + "]");
    if (!m.ok()) return m.status();
    r.messages.push_back(std::move(*m));
  }
  RETURN_IF_ERROR(OptBool(body, "stream", &r.stream));
  if (auto so = body.find("stream_options"); so != body.end() && !so->is_null()) {
    if (!so->is_object()) return Bad("stream_options", "expected an object");
    RETURN_IF_ERROR(OptBool(*so, "include_usage", &r.include_usage).WithContext("stream_options"));
    if (!r.stream) return Bad("stream_options", "only allowed when stream is true");
  }
  RETURN_IF_ERROR(OptNumber(body, "temperature", 0, 2, &r.temperature));
  RETURN_IF_ERROR(OptNumber(body, "top_p", 0, 1, &r.top_p));
  RETURN_IF_ERROR(OptNumber(body, "presence_penalty", -2, 2, &r.presence_penalty));
  RETURN_IF_ERROR(OptNumber(body, "frequency_penalty", -2, 2, &r.frequency_penalty));
  RETURN_IF_ERROR(OptInt(body, "max_tokens", 1, INT32_MAX, &r.max_tokens));
  std::optional<int64_t> mct;
  RETURN_IF_ERROR(OptInt(body, "max_completion_tokens", 1, INT32_MAX, &mct));
  if (mct) r.max_tokens = mct;
  RETURN_IF_ERROR(OptInt(body, "n", 1, 128, &r.n));
  RETURN_IF_ERROR(OptInt(body, "seed", INT64_MIN, INT64_MAX, &r.seed));
  if (auto stop = body.find("stop"); stop != body.end() && !stop->is_null()) {
    if (stop->is_string()) {
      r.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      if (stop->size() > 4) return Bad("stop", "at most 4 stop sequences");
      for (const auto& s : *stop) {
        if (!s.is_string()) return Bad("stop", "expected a string or an array of strings");
        r.stop.push_back(s.get<std::string>());
      }
    } else {
      return Bad("stop", "expected a string or an array of strings");
    }
  }
  RETURN_IF_ERROR(OptBool(body, "logprobs", &r.logprobs));
  RETURN_IF_ERROR(OptInt(body, "top_logprobs", 0, 20, &r.top_logprobs));
  if (auto rf = body.find("response_format"); rf != body.end() && !rf->is_null()) {
    if (!rf->is_object() || !rf->contains("type") || !(*rf)["type"].is_string()) {
      return Bad("response_format", "expected an object with a string 'type'");
    }
    const std::string t = (*rf)["type"].get<std::string>();
    if (t != "text" && t != "json_object" && t != "json_schema") {
      return Bad("response_format.type",
                 "'" + t + "' is not one of text, json_object, json_schema");
    }
    r.response_format = *rf;
  }
  if (auto tools = body.find("tools"); tools != body.end() && !tools->is_null()) {
    if (!tools->is_array()) return Bad("tools", "expected an array");
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& t = (*tools)[i];
      if (!t.is_object() || t.value("type", "") != "function" || !t.contains("function") ||
          !t["function"].is_object() || !t["function"].contains("name") ||
          !t["function"]["name"].is_string()) {
        return Bad("tools[" + std::to_string(i) + "]",
                   "expected {\"type\": \"function\", \"function\": {\"name\": ...}}");
      }
    }
    r.tools = *tools;
  }
  if (auto tc = body.find("tool_choice"); tc != body.end() && !tc->is_null()) {
    if (!tc->is_string() && !tc->is_object())
      return Bad("tool_choice", "expected a string or an object");
    r.tool_choice = *tc;
  }
  RETURN_IF_ERROR(OptString(body, "user", &r.user));
  return r;
}

Json ChatRequestToJson(const ChatRequest& r, const std::string& model) {
  Json j = r.extra;
  j["model"] = model;
  Json msgs = Json::array();
  for (const auto& m : r.messages) msgs.push_back(MessageToJson(m));
  j["messages"] = std::move(msgs);
  if (r.stream) {
    j["stream"] = true;
    j["stream_options"] = {{"include_usage", r.include_usage}};
  }
  if (r.temperature) j["temperature"] = *r.temperature;
  if (r.top_p) j["top_p"] = *r.top_p;
  if (r.presence_penalty) j["presence_penalty"] = *r.presence_penalty;
  if (r.frequency_penalty) j["frequency_penalty"] = *r.frequency_penalty;
  if (r.max_tokens) j["max_tokens"] = *r.max_tokens;
  if (r.n) j["n"] = *r.n;
  if (r.seed) j["seed"] = *r.seed;
  if (!r.stop.empty()) j["stop"] = r.stop;
  if (r.logprobs) j["logprobs"] = true;
  if (r.top_logprobs) j["top_logprobs"] = *r.top_logprobs;
  if (!r.response_format.is_null()) j["response_format"] = r.response_format;
  if (!r.tools.is_null()) j["tools"] = r.tools;
  if (!r.tool_choice.is_null()) j["tool_choice"] = r.tool_choice;
  if (r.user) j["user"] = *r.user;
  return j;
}

Result<Usage> ParseUsage(const Json& j) {
  if (!j.is_object()) return InvalidArgument("usage: expected an object");
  Usage u;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "prompt_tokens" || it.key() == "completion_tokens" ||
        it.key() == "total_tokens") {
      if (!it->is_number_integer() || it->get<int64_t>() < 0) {
        return InvalidArgument("usage." + it.key() + ": expected a non-negative integer");
      }
    } else {
      u.extra[it.key()] = *it;
    }
  }
  u.prompt_tokens = IntOr(j, "prompt_tokens");
  u.completion_tokens = IntOr(j, "completion_tokens");
  u.total_tokens = IntOr(j, "total_tokens", u.prompt_tokens + u.completion_tokens);
  return u;
}

Json UsageToJson(const Usage& u) {
  Json j = u.extra;
  j["prompt_tokens"] = u.prompt_tokens;
  j["completion_tokens"] = u.completion_tokens;
  j["total_tokens"] = u.total_tokens;
  return j;
}

Result<ChatResponse> ParseChatResponse(const Json& body) {
  if (!body.is_object()) return InvalidArgument("response is not a JSON object");
  auto choices = body.find("choices");
  if (choices == body.end() || !choices->is_array()) {
    return InvalidArgument("response has no 'choices' array");
  }
  ChatResponse r;
  r.id = StringOr(body, "id", NewId("chatcmpl-"));
  r.created = IntOr(body, "created");
  r.model = StringOr(body, "model");
  r.system_fingerprint = StringOr(body, "system_fingerprint");
  for (size_t i = 0; i < choices->size(); ++i) {
    const Json& c = (*choices)[i];
    if (!c.is_object() || !c.contains("message")) {
      return InvalidArgument("choices[" + std::to_string(i) + "] has no 'message'");
    }
    ChatChoice choice;
    choice.index = IntOr(c, "index", static_cast<int64_t>(i));
    Json m = c["message"];
    if (m.is_object() && !m.contains("role")) m["role"] = "assistant";
    auto msg = ParseMessage(m, "choices[" + std::to_string(i) + "].message");
    if (!msg.ok()) return msg.status();
    choice.message = std::move(*msg);
    choice.finish_reason = StringOr(c, "finish_reason", "stop");
    if (c.contains("logprobs")) choice.logprobs = c["logprobs"];
    r.choices.push_back(std::move(choice));
  }
  if (auto u = body.find("usage"); u != body.end() && !u->is_null()) {
    auto usage = ParseUsage(*u);
    if (!usage.ok()) return usage.status();
    r.usage = std::move(*usage);
  }
  return r;
}

Json ChatResponseToJson(const ChatResponse& r) {
  Json choices = Json::array();
  for (const auto& c : r.choices) {
    Json msg = MessageToJson(c.message);
    if (!msg.contains("refusal")) msg["refusal"] = nullptr;
    choices.push_back({{"index", c.index},
                       {"message", std::move(msg)},
                       {"logprobs", c.logprobs},
                       {"finish_reason", c.finish_reason}});
  }
  Json j = {{"id", r.id},
            {"object", "chat.completion"},
            {"created", r.created},
            {"model", r.model},
            {"choices", std::move(choices)}};
  if (r.usage) j["usage"] = UsageToJson(*r.usage);
  if (!r.system_fingerprint.empty()) j["system_fingerprint"] = r.system_fingerprint;
  for (auto it = r.extra.begin(); it != r.extra.end(); ++it) {
    if (!j.contains(it.key())) j[it.key()] = it.value();
  }
  return j;
}

Result<ChatChunk> ParseChatChunk(const Json& body) {
  if (!body.is_object()) return InvalidArgument("stream chunk is not a JSON object");
  ChatChunk c;
  c.id = StringOr(body, "id");
  c.created = IntOr(body, "created");
  c.model = StringOr(body, "model");
  c.system_fingerprint = StringOr(body, "system_fingerprint");
  if (auto choices = body.find("choices"); choices != body.end() && !choices->is_null()) {
    if (!choices->is_array()) return InvalidArgument("stream chunk 'choices' is not an array");
    for (size_t i = 0; i < choices->size(); ++i) {
      const Json& ch = (*choices)[i];
      if (!ch.is_object()) return InvalidArgument("stream chunk choice is not an object");
      ChunkChoice cc;
      cc.index = IntOr(ch, "index", static_cast<int64_t>(i));
      if (auto d = ch.find("delta"); d != ch.end() && d->is_object()) {
        for (auto it = d->begin(); it != d->end(); ++it) {
          if (it.key() == "role" && it->is_string()) {
            cc.delta.role = it->get<std::string>();
          } else if (it.key() == "content") {
            if (it->is_string())
              cc.delta.content = it->get<std::string>();
            else if (!it->is_null())
              return InvalidArgument("stream chunk delta.content is not a string");
          } else if (it.key() == "tool_calls") {
            cc.delta.tool_calls = *it;
          } else {
            cc.delta.extra[it.key()] = *it;
          }
        }
      }
      if (auto fr = ch.find("finish_reason"); fr != ch.end() && fr->is_string()) {
        cc.finish_reason = fr->get<std::string>();
      }
      if (ch.contains("logprobs")) cc.logprobs = ch["logprobs"];
      c.choices.push_back(std::move(cc));
    }
  }
  if (auto u = body.find("usage"); u != body.end() && !u->is_null()) {
    auto usage = ParseUsage(*u);
    if (!usage.ok()) return usage.status();
    c.usage = std::move(*usage);
  }
  return c;
}

Json ChatChunkToJson(const ChatChunk& c, bool usage_field) {
  Json choices = Json::array();
  for (const auto& ch : c.choices) {
    Json delta = ch.delta.extra;
    if (ch.delta.role) delta["role"] = *ch.delta.role;
    if (ch.delta.content) delta["content"] = *ch.delta.content;
    if (!ch.delta.tool_calls.is_null()) delta["tool_calls"] = ch.delta.tool_calls;
    Json jc = {{"index", ch.index}, {"delta", std::move(delta)}, {"logprobs", ch.logprobs}};
    jc["finish_reason"] = ch.finish_reason ? Json(*ch.finish_reason) : Json(nullptr);
    choices.push_back(std::move(jc));
  }
  Json j = {{"id", c.id},
            {"object", "chat.completion.chunk"},
            {"created", c.created},
            {"model", c.model},
            {"choices", std::move(choices)}};
  if (!c.system_fingerprint.empty()) j["system_fingerprint"] = c.system_fingerprint;
  if (usage_field) j["usage"] = c.usage ? UsageToJson(*c.usage) : Json(nullptr);
  for (auto it = c.extra.begin(); it != c.extra.end(); ++it) {
    if (!j.contains(it.key())) j[it.key()] = it.value();
  }
  return j;
}

Result<EmbeddingRequest> ParseEmbeddingRequest(const Json& body) {
  if (!body.is_object()) return InvalidArgument("request body must be a JSON object");
  EmbeddingRequest r;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    if (k != "model" && k != "input" && k != "dimensions" && k != "encoding_format" &&
        k != "user") {
      r.extra[k] = *it;
    }
  }
  auto model = body.find("model");
  if (model == body.end() || !model->is_string() || model->get<std::string>().empty()) {
    return Bad("model", "required non-empty string");
  }
  r.model = model->get<std::string>();
  auto input = body.find("input");
  if (input == body.end() || input->is_null()) return Bad("input", "required");
  const Json& in = *input;
  auto bad_input = [] {
    return Bad("input", "expected a string, an array of strings, or token arrays");
  };
  if (in.is_string()) {
    if (in.get<std::string>().empty()) return Bad("input", "must not be empty");
  } else if (in.is_array()) {
    if (in.empty()) return Bad("input", "must not be empty");
    if (in.size() > 2048) return Bad("input", "at most 2048 inputs per request");
    const bool tokens = in[0].is_number_integer();
    for (size_t i = 0; i < in.size(); ++i) {
      const Json& e = in[i];
      if (tokens) {
        if (!e.is_number_integer()) return bad_input();
      } else if (e.is_string()) {
        if (e.get<std::string>().empty()) {
          return Bad("input[" + std::to_string(i) + "]", "must not be empty");
        }
      } else if (e.is_array()) {
        if (e.empty()) return Bad("input[" + std::to_string(i) + "]", "must not be empty");
        for (const auto& t : e) {
          if (!t.is_number_integer()) return bad_input();
        }
      } else {
        return bad_input();
      }
    }
  } else {
    return bad_input();
  }
  r.input = in;
  RETURN_IF_ERROR(OptInt(body, "dimensions", 1, 65536, &r.dimensions));
  std::optional<std::string> fmt;
  RETURN_IF_ERROR(OptString(body, "encoding_format", &fmt));
  if (fmt) {
    if (*fmt != "float" && *fmt != "base64") {
      return Bad("encoding_format", "'" + *fmt + "' is not one of float, base64");
    }
    r.encoding_format = *fmt;
  }
  RETURN_IF_ERROR(OptString(body, "user", &r.user));
  return r;
}

Json EmbeddingRequestToJson(const EmbeddingRequest& r, const std::string& model) {
  Json j = r.extra;
  j["model"] = model;
  j["input"] = r.input;
  j["encoding_format"] = "float";  // gantry re-encodes for its client
  if (r.dimensions) j["dimensions"] = *r.dimensions;
  if (r.user) j["user"] = *r.user;
  return j;
}

Result<EmbeddingResponse> ParseEmbeddingResponse(const Json& body) {
  if (!body.is_object()) return InvalidArgument("response is not a JSON object");
  auto data = body.find("data");
  if (data == body.end() || !data->is_array())
    return InvalidArgument("response has no 'data' array");
  EmbeddingResponse r;
  r.model = StringOr(body, "model");
  r.data.resize(data->size());
  std::vector<bool> seen(data->size(), false);
  for (size_t i = 0; i < data->size(); ++i) {
    const Json& d = (*data)[i];
    if (!d.is_object() || !d.contains("embedding")) {
      return InvalidArgument("data[" + std::to_string(i) + "] has no 'embedding'");
    }
    const int64_t idx = IntOr(d, "index", static_cast<int64_t>(i));
    if (idx < 0 || static_cast<size_t>(idx) >= r.data.size() || seen[idx]) {
      return InvalidArgument("data[" + std::to_string(i) + "].index is out of range or repeated");
    }
    seen[idx] = true;
    const Json& e = d["embedding"];
    std::vector<float> v;
    if (e.is_array()) {
      v.reserve(e.size());
      for (const auto& x : e) {
        if (!x.is_number()) return InvalidArgument("embedding contains a non-number");
        v.push_back(x.get<float>());
      }
    } else if (e.is_string()) {
      auto bytes = Base64Decode(e.get<std::string>());
      if (!bytes.ok() || bytes->size() % 4 != 0)
        return InvalidArgument("embedding is not valid base64 float32");
      v.resize(bytes->size() / 4);
      std::memcpy(v.data(), bytes->data(), bytes->size());
    } else {
      return InvalidArgument("embedding is neither an array nor base64");
    }
    r.data[idx] = std::move(v);
  }
  if (auto u = body.find("usage"); u != body.end() && !u->is_null()) {
    auto usage = ParseUsage(*u);
    if (!usage.ok()) return usage.status();
    r.usage = std::move(*usage);
  }
  return r;
}

Json EmbeddingResponseToJson(const EmbeddingResponse& r, const std::string& encoding_format) {
  Json data = Json::array();
  for (size_t i = 0; i < r.data.size(); ++i) {
    Json e;
    if (encoding_format == "base64") {
      static_assert(sizeof(float) == 4);
      e = Base64Encode(std::string_view(reinterpret_cast<const char*>(r.data[i].data()),
                                        r.data[i].size() * sizeof(float)));
    } else {
      e = r.data[i];
    }
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(e)}});
  }
  return {{"object", "list"},
          {"data", std::move(data)},
          {"model", r.model},
          {"usage",
           {{"prompt_tokens", r.usage.prompt_tokens}, {"total_tokens", r.usage.total_tokens}}}};
}

}  // namespace gantry::providers
