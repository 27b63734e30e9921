// ScriptedProvider: a deterministic ChatModel/EmbeddingModel for tests and
// offline demos. It replies with `reply` (or "echo: <last user message>"),
// one word per streamed chunk, `token_delay` apart, and honours cancellation
// and deadlines like a real provider. It counts calls and cancellations so
// tests can check that a client disconnect reached the provider.
//
// Thread safety: thread-safe.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "providers/chat_model.h"

namespace gantry::providers {

struct ScriptedOptions {
  std::string reply;  // "" = echo the last user message
  Millis token_delay{0};
  Millis first_token_delay{0};
  Status error;  // returned by every call when not OK
  size_t embedding_dimensions = 8;
};

class ScriptedProvider final : public ChatModel, public EmbeddingModel {
 public:
  explicit ScriptedProvider(ScriptedOptions options) : options_(std::move(options)) {}

  Awaitable<Result<ChatResponse>> Complete(const RequestContext& ctx,
                                           const ChatRequest& request) override;
  Awaitable<Result<ChatStreamPtr>> Stream(const RequestContext& ctx,
                                          const ChatRequest& request) override;
  Awaitable<Result<EmbeddingResponse>> Embed(const RequestContext& ctx,
                                             const EmbeddingRequest& request) override;

  int calls() const { return calls_.load(); }
  int cancellations() const { return cancellations_.load(); }
  void CountCancellation() { ++cancellations_; }
  const ScriptedOptions& options() const { return options_; }

 private:
  ScriptedOptions options_;
  std::atomic<int> calls_{0};
  std::atomic<int> cancellations_{0};
};

// Waits `d` on the current executor, returning early with the request's
// cancellation reason, or kDeadlineExceeded when its deadline passes first.
Awaitable<Status> SleepFor(const RequestContext& ctx, Millis d);

}  // namespace gantry::providers
