// OpenAIProvider: chat and embeddings against any OpenAI-compatible server
// (OpenAI, vLLM, llama.cpp server, Ollama, LiteLLM, ...), given its base URL.
//
// Streams incrementally (each upstream event becomes a chunk as soon as it
// arrives), reuses connections, speaks TLS, and applies a per-attempt timeout:
// non-streaming calls must finish within it; streaming calls must receive their
// headers within it and then at least one event per `timeout` interval. The
// request's own deadline and cancellation always apply as well.
//
// Upstream errors are mapped to Status codes: 400/404/409/413/422 keep the
// upstream's meaning (kInvalidArgument / kNotFound); 401/403 become kUpstream (the
// gateway's credentials are wrong, not the client's); 429 is kResourceExhausted
// with Retry-After; 5xx, resets, truncated or malformed bodies are kUpstream;
// timeouts are kDeadlineExceeded. Messages name the provider; the API key never
// appears in any message.
//
// Thread safety: thread-safe.
#pragma once

#include <memory>
#include <string>

#include "core/secret.h"
#include "providers/chat_model.h"
#include "providers/http_client.h"

namespace gantry::providers {

struct OpenAIProviderOptions {
  std::string name = "openai";  // used in error messages and logs
  std::string base_url;         // e.g. https://api.openai.com/v1
  Secret api_key;               // sent as "Authorization: Bearer ..." when set
  HttpHeaders extra_headers;    // e.g. OpenAI-Organization
  Millis timeout{600'000};      // per attempt (see above)
  HttpClientOptions http;
};

class OpenAIProvider final : public ChatModel, public EmbeddingModel {
 public:
  static Result<std::unique_ptr<OpenAIProvider>> Create(OpenAIProviderOptions options);

  Awaitable<Result<ChatResponse>> Complete(const RequestContext& ctx,
                                           const ChatRequest& request) override;
  Awaitable<Result<ChatStreamPtr>> Stream(const RequestContext& ctx,
                                          const ChatRequest& request) override;
  Awaitable<Result<EmbeddingResponse>> Embed(const RequestContext& ctx,
                                             const EmbeddingRequest& request) override;

  const std::string& name() const { return options_.name; }
  HttpClient& http() { return *http_; }

 private:
  OpenAIProvider(OpenAIProviderOptions options, HttpUrl base, std::shared_ptr<HttpClient> http)
      : options_(std::move(options)), base_(std::move(base)), http_(std::move(http)) {}
  HttpRequest MakeRequest(const RequestContext& ctx, const std::string& path,
                          std::string body) const;

  OpenAIProviderOptions options_;
  HttpUrl base_;
  std::shared_ptr<HttpClient> http_;
};

// Maps a non-2xx upstream answer to a Status (see the header comment).
Status MapUpstreamError(const std::string& provider, int http_status, const std::string& body,
                        const std::optional<std::string>& retry_after);

}  // namespace gantry::providers
