#include "gateway/gateway.h"

#include "gateway/rag_stage.h"

namespace gantry::gateway {

Result<std::unique_ptr<Gateway>> Gateway::Create(std::vector<ProviderHandle> providers,
                                                 std::vector<ModelRoute> routes, LoggerPtr logger) {
  std::unique_ptr<Gateway> g(new Gateway());
  g->logger_ = std::move(logger);
  for (auto& p : providers) {
    if (g->providers_.count(p.name))
      return InvalidArgument("provider '" + p.name + "' is defined twice");
    std::string name = p.name;
    g->providers_.emplace(std::move(name), std::move(p));
  }
  for (auto& r : routes) {
    if (g->routes_.count(r.name)) return InvalidArgument("model '" + r.name + "' is defined twice");
    auto it = g->providers_.find(r.provider);
    if (it == g->providers_.end()) {
      return InvalidArgument("model '" + r.name + "' names unknown provider '" + r.provider + "'");
    }
    if (r.kind == ModelKind::kChat && !it->second.chat) {
      return InvalidArgument("model '" + r.name + "': provider '" + r.provider +
                             "' cannot serve chat");
    }
    if (r.kind == ModelKind::kEmbedding && !it->second.embedding) {
      return InvalidArgument("model '" + r.name + "': provider '" + r.provider +
                             "' cannot serve embeddings");
    }
    if (r.upstream_model.empty()) r.upstream_model = r.name;
    std::string name = r.name;
    g->routes_.emplace(std::move(name), std::move(r));
  }
  return g;
}

std::vector<providers::ModelInfo> Gateway::ListModels() const {
  std::vector<providers::ModelInfo> out;
  for (const auto& [name, r] : routes_) out.push_back({name, "gantry:" + r.provider, r.created});
  return out;
}

std::shared_ptr<providers::EmbeddingModel> Gateway::EmbeddingProvider(
    const std::string& model) const {
  auto it = routes_.find(model);
  if (it == routes_.end() || it->second.kind != ModelKind::kEmbedding) return nullptr;
  return providers_.at(it->second.provider).embedding;
}

std::string Gateway::DefaultEmbeddingModel() const {
  for (const auto& [name, r] : routes_) {
    if (r.kind == ModelKind::kEmbedding) return name;
  }
  return "";
}

Result<const ModelRoute*> Gateway::Resolve(const std::string& model, ModelKind kind) const {
  auto it = routes_.find(model);
  if (it == routes_.end()) {
    return NotFound("The model '" + model + "' does not exist or you do not have access to it.");
  }
  if (it->second.kind != kind) {
    return InvalidArgument(
        "model '" + model + "' is " +
        (it->second.kind == ModelKind::kChat ? "a chat model" : "an embedding model") +
        " and cannot serve this endpoint");
  }
  return &it->second;
}

Awaitable<Result<providers::ChatResponse>> Gateway::Complete(const RequestContext& ctx,
                                                             providers::ChatRequest request) {
  CO_ASSIGN_OR_RETURN(const ModelRoute* route, Resolve(request.model, ModelKind::kChat));
  const std::string alias = request.model;
  CO_ASSIGN_OR_RETURN(auto plan, co_await PrepareRag(rag_, ctx, request));
  if (plan && !plan->answerable()) co_return DontKnowResponse(ctx, request, *plan);
  request.model = route->upstream_model;
  auto r = co_await providers_.at(route->provider).chat->Complete(ctx, request);
  if (r.ok() && r->model.empty()) r->model = alias;
  if (r.ok() && plan) FinishRag(*plan, *r);
  co_return r;
}

Awaitable<Result<providers::ChatStreamPtr>> Gateway::Stream(const RequestContext& ctx,
                                                            providers::ChatRequest request) {
  CO_ASSIGN_OR_RETURN(const ModelRoute* route, Resolve(request.model, ModelKind::kChat));
  CO_ASSIGN_OR_RETURN(auto plan, co_await PrepareRag(rag_, ctx, request));
  if (plan && !plan->answerable()) co_return DontKnowStream(ctx, request, std::move(*plan));
  request.model = route->upstream_model;
  auto stream = co_await providers_.at(route->provider).chat->Stream(ctx, request);
  if (!stream.ok() || !plan) co_return stream;
  co_return WrapRagStream(std::move(*stream), std::move(*plan));
}

Awaitable<Result<providers::EmbeddingResponse>> Gateway::Embed(
    const RequestContext& ctx, providers::EmbeddingRequest request) {
  CO_ASSIGN_OR_RETURN(const ModelRoute* route, Resolve(request.model, ModelKind::kEmbedding));
  const std::string alias = request.model;
  request.model = route->upstream_model;
  auto r = co_await providers_.at(route->provider).embedding->Embed(ctx, request);
  if (r.ok() && r->model.empty()) r->model = alias;
  co_return r;
}

}  // namespace gantry::gateway
