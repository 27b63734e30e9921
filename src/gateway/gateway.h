// Gateway: the request pipeline between the server and the providers.
//
// It resolves a client-facing model name to a provider and the provider's
// name for the model, grounds requests that carry `rag` (gateway/rag_stage.h),
// then calls the provider; later stages (limits, guards, cache, routing with
// fallbacks) plug in here.
//
// Thread safety: thread-safe after construction; the model table is immutable.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/logging.h"
#include "providers/chat_model.h"
#include "rag/rag_service.h"

namespace gantry::gateway {

using providers::Awaitable;

enum class ModelKind { kChat, kEmbedding };

// One entry of the `models:` section.
struct ModelRoute {
  std::string name;            // what clients send as "model"
  std::string provider;        // a provider name from `providers:`
  std::string upstream_model;  // the provider's name for it (default: name)
  ModelKind kind = ModelKind::kChat;
  int64_t created = 0;
};

// What the gateway calls: one chat and/or embedding implementation per provider.
struct ProviderHandle {
  std::string name;
  std::string type;
  std::shared_ptr<providers::ChatModel> chat;            // null if it cannot chat
  std::shared_ptr<providers::EmbeddingModel> embedding;  // null if it cannot embed
};

class Gateway final {
 public:
  // Errors: kInvalidArgument when a route names an unknown provider or a
  // provider that cannot serve the route's kind, or when names repeat.
  static Result<std::unique_ptr<Gateway>> Create(std::vector<ProviderHandle> providers,
                                                 std::vector<ModelRoute> routes, LoggerPtr logger);

  // Enables the RAG stage (chat requests with a `rag` field). `rag` must
  // outlive the gateway; set before serving.
  void SetRag(rag::RagService* rag) { rag_ = rag; }
  rag::RagService* rag() const { return rag_; }

  std::vector<providers::ModelInfo> ListModels() const;
  bool HasModel(const std::string& name) const { return routes_.count(name) > 0; }
  // The embedding implementation behind a model name (null when the name is
  // not an embedding model), and the first embedding model configured ("" if none).
  std::shared_ptr<providers::EmbeddingModel> EmbeddingProvider(const std::string& model) const;
  std::string DefaultEmbeddingModel() const;

  // kNotFound for an unknown model; otherwise whatever the provider returns.
  Awaitable<Result<providers::ChatResponse>> Complete(const RequestContext& ctx,
                                                      providers::ChatRequest request);
  Awaitable<Result<providers::ChatStreamPtr>> Stream(const RequestContext& ctx,
                                                     providers::ChatRequest request);
  Awaitable<Result<providers::EmbeddingResponse>> Embed(const RequestContext& ctx,
                                                        providers::EmbeddingRequest request);

 private:
  Gateway() = default;
  Result<const ModelRoute*> Resolve(const std::string& model, ModelKind kind) const;

  std::map<std::string, ProviderHandle> providers_;
  std::map<std::string, ModelRoute> routes_;
  LoggerPtr logger_;
  rag::RagService* rag_ = nullptr;
};

}  // namespace gantry::gateway
