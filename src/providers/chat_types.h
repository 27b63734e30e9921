// Typed chat and embedding requests/responses shared by every provider.
//
// Field names and meanings follow the OpenAI Chat Completions and Embeddings
// APIs. Fields gantry does not interpret are kept in `extra` and passed through
// to upstream providers unchanged, so a client can use a provider feature before
// gantry knows about it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gantry::providers {

using Json = nlohmann::json;

struct ChatMessage {
  std::string role;  // system, developer, user, assistant, tool
  Json content;      // string, array of content parts, or null
  std::optional<std::string> name;
  Json tool_calls;                          // null or array (assistant)
  std::optional<std::string> tool_call_id;  // tool
  Json extra = Json::object();              // other fields (refusal, audio, ...)

  // The concatenated text of `content` (string, or the text parts).
  std::string Text() const;
};

struct ChatRequest {
  std::string model;
  std::vector<ChatMessage> messages;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<double> presence_penalty;
  std::optional<double> frequency_penalty;
  std::optional<int64_t> max_tokens;  // max_completion_tokens, or legacy max_tokens
  std::optional<int64_t> n;
  std::optional<int64_t> seed;
  std::vector<std::string> stop;
  bool logprobs = false;
  std::optional<int64_t> top_logprobs;
  Json response_format;  // null when absent
  Json tools;            // null when absent
  Json tool_choice;      // null when absent
  std::optional<std::string> user;
  Json extra = Json::object();  // everything else, passed through
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  Json extra = Json::object();  // prompt_tokens_details etc.
};

struct ChatChoice {
  int64_t index = 0;
  ChatMessage message;
  std::string finish_reason;  // stop, length, tool_calls, content_filter
  Json logprobs;              // null when absent
};

struct ChatResponse {
  std::string id;
  int64_t created = 0;
  std::string model;
  std::vector<ChatChoice> choices;
  std::optional<Usage> usage;
  std::string system_fingerprint;
  Json extra = Json::object();  // gantry extensions (e.g. "rag"), top-level fields
};

struct ChatDelta {
  std::optional<std::string> role;
  std::optional<std::string> content;
  Json tool_calls;              // null or array of partial tool calls
  Json extra = Json::object();  // refusal etc.
};

struct ChunkChoice {
  int64_t index = 0;
  ChatDelta delta;
  std::optional<std::string> finish_reason;
  Json logprobs;
};

struct ChatChunk {
  std::string id;
  int64_t created = 0;
  std::string model;
  std::vector<ChunkChoice> choices;  // empty in the final usage-only chunk
  std::optional<Usage> usage;
  std::string system_fingerprint;
  Json extra = Json::object();  // gantry extensions (e.g. "rag"), top-level fields
};

struct EmbeddingRequest {
  std::string model;
  Json input;  // string, [string], [int] or [[int]] as sent
  std::optional<int64_t> dimensions;
  std::string encoding_format = "float";  // float | base64 (how the client wants it)
  std::optional<std::string> user;
  Json extra = Json::object();

  // Number of inputs (1 for a single string or token array).
  size_t InputCount() const;
};

struct EmbeddingResponse {
  std::string model;
  std::vector<std::vector<float>> data;  // one vector per input, in order
  Usage usage;
};

struct ModelInfo {
  std::string id;
  std::string owned_by;
  int64_t created = 0;
};

}  // namespace gantry::providers
