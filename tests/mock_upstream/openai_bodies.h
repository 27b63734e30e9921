// Request parsing and response-body building for the OpenAI API subset that
// gantry-mock-upstream serves. Pure functions, no I/O.

#ifndef GANTRY_TESTS_MOCK_UPSTREAM_OPENAI_BODIES_H_
#define GANTRY_TESTS_MOCK_UPSTREAM_OPENAI_BODIES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace gantry::mock {

// An OpenAI-style error: {"error":{"message","type","param","code"}}.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // "" = null.
  std::string code;   // "" = null.
};

std::string ErrorBody(const ApiError& error);

// The error injected by the `error_status` knob.
ApiError MockError(int status);

// Number of whitespace-separated words in `text`.
int64_t CountWords(std::string_view text);

// ---- /v1/models ----

std::string ModelsBody();
// Body for GET /v1/models/<id>, or nullopt if the model is unknown.
std::optional<std::string> ModelBody(std::string_view id);

// ---- /v1/chat/completions ----

struct ChatRequest {
  std::string model;
  bool stream = false;
  bool include_usage = false;
  std::optional<int64_t> max_tokens;  // max_completion_tokens, else max_tokens.
  int64_t prompt_tokens = 0;
};

// Validates `body` and fills `out`; returns the 400 error on failure.
std::optional<ApiError> ParseChatRequest(const nlohmann::json& body, ChatRequest& out);

// Token i of a completion: "tok0", " tok1", " tok2", ...
std::string CompletionToken(int64_t index);

std::string ChatCompletionBody(std::string_view id, int64_t created, const ChatRequest& request,
                               int64_t completion_tokens, std::string_view finish_reason);

// Builds the JSON payloads (without "data: ") of chat.completion.chunk events.
class ChunkBuilder {
 public:
  ChunkBuilder(std::string_view id, int64_t created, std::string_view model, bool include_usage);

  std::string RoleChunk() const;
  std::string TokenChunk(int64_t index) const;
  std::string FinishChunk(std::string_view finish_reason) const;
  std::string UsageChunk(int64_t prompt_tokens, int64_t completion_tokens) const;

 private:
  std::string prefix_;  // Everything up to and including `"choices":[`.
  std::string suffix_;  // `}` or `,"usage":null}`.
};

// ---- /v1/embeddings ----

struct EmbeddingRequest {
  std::string model;
  std::vector<std::string> inputs;  // String form of each input (hash source).
  int64_t prompt_tokens = 0;
  int64_t dimensions = 8;
  bool base64 = false;
};

std::optional<ApiError> ParseEmbeddingRequest(const nlohmann::json& body, EmbeddingRequest& out);

// Deterministic unit vector for `input`: FNV-1a 64 seeds splitmix64, values in [-1, 1].
std::vector<float> EmbeddingVector(std::string_view input, int64_t dimensions);

std::string Base64Floats(const std::vector<float>& values);

std::string EmbeddingsBody(const EmbeddingRequest& request);

}  // namespace gantry::mock

#endif  // GANTRY_TESTS_MOCK_UPSTREAM_OPENAI_BODIES_H_
