// FakeChatModel: a ChatModel/EmbeddingModel that records what it was asked and
// answers with a canned reply (or a canned error).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "providers/chat_model.h"

namespace gantry::testing {

class FakeChatModel final : public providers::ChatModel, public providers::EmbeddingModel {
 public:
  // Every call returns this error when it is not OK.
  Status error;
  // Model name put in responses ("" leaves it for the gateway to fill in).
  std::string response_model;

  providers::Awaitable<Result<providers::ChatResponse>> Complete(
      const RequestContext&, const providers::ChatRequest& request) override {
    Record(request);
    if (!error.ok()) co_return error;
    providers::ChatResponse r;
    r.id = "chatcmpl-fake";
    r.model = response_model;
    providers::ChatChoice c;
    c.message.role = "assistant";
    c.message.content = "fake reply";
    c.finish_reason = "stop";
    r.choices.push_back(std::move(c));
    co_return r;
  }

  providers::Awaitable<Result<providers::ChatStreamPtr>> Stream(
      const RequestContext&, const providers::ChatRequest& request) override {
    Record(request);
    if (!error.ok()) co_return error;
    co_return providers::ChatStreamPtr(std::make_unique<EmptyStream>());
  }

  providers::Awaitable<Result<providers::EmbeddingResponse>> Embed(
      const RequestContext&, const providers::EmbeddingRequest& request) override {
    {
      std::lock_guard lock(mu_);
      embedding_requests_.push_back(request);
    }
    if (!error.ok()) co_return error;
    providers::EmbeddingResponse r;
    r.model = response_model;
    r.data.push_back({1.0f, 0.0f});
    co_return r;
  }

  std::vector<providers::ChatRequest> chat_requests() const {
    std::lock_guard lock(mu_);
    return chat_requests_;
  }
  std::vector<providers::EmbeddingRequest> embedding_requests() const {
    std::lock_guard lock(mu_);
    return embedding_requests_;
  }

 private:
  class EmptyStream final : public providers::ChatStream {
   public:
    providers::Awaitable<Result<std::optional<providers::ChatChunk>>> Next() override {
      co_return std::optional<providers::ChatChunk>();
    }
  };

  void Record(const providers::ChatRequest& r) {
    std::lock_guard lock(mu_);
    chat_requests_.push_back(r);
  }

  mutable std::mutex mu_;
  std::vector<providers::ChatRequest> chat_requests_;
  std::vector<providers::EmbeddingRequest> embedding_requests_;
};

}  // namespace gantry::testing
