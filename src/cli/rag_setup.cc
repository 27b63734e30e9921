#include "cli/rag_setup.h"

#include <filesystem>

#include "providers/local_provider.h"
#include "store/document_store.h"

namespace gantry::cli {

Result<std::unique_ptr<rag::RagService>> OpenRag(const ConfigNode& root, gateway::Gateway& gw,
                                                 const std::string& data_dir, LoggerPtr log) {
  ASSIGN_OR_RETURN(auto section, root.Map("rag"));
  RETURN_IF_ERROR(section.CheckKeys(
      {"enabled", "embedding_model", "threads", "save_interval_s", "exact_search_max"}));
  ASSIGN_OR_RETURN(bool enabled, section.Bool("enabled", true));
  if (!enabled) return std::unique_ptr<rag::RagService>();
  ASSIGN_OR_RETURN(std::string model,
                   section.String("embedding_model", gw.DefaultEmbeddingModel()));
  if (model.empty()) {
    if (log)
      log->Warn("rag disabled: no embedding model configured (add one of kind embedding)", nullptr);
    return std::unique_ptr<rag::RagService>();
  }
  auto provider = gw.EmbeddingProvider(model);
  if (!provider)
    return InvalidArgument("rag.embedding_model: '" + model +
                           "' is not a model of kind embedding in the models section");
  rag::RagServiceOptions o;
  o.data_dir = data_dir;
  o.default_embedding_model = model;
  ASSIGN_OR_RETURN(int64_t threads, section.Int("threads", 2, 1, 64));
  o.threads = static_cast<size_t>(threads);
  ASSIGN_OR_RETURN(int64_t save, section.Int("save_interval_s", 30, 1, 86400));
  o.save_interval = std::chrono::seconds(save);
  ASSIGN_OR_RETURN(o.exact_search_max, section.Int("exact_search_max", 4096, 0, 10'000'000));
  if (auto local = std::dynamic_pointer_cast<providers::LocalEmbeddingModel>(provider)) {
    o.default_dim = local->dim();
    o.count_tokens = [local](std::string_view text) { return local->TokenCount(text); };
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec)
    return InvalidArgument("cannot create data directory '" + data_dir + "': " + ec.message());
  ASSIGN_OR_RETURN(auto store, store::OpenSqliteDocumentStore(
                                   (std::filesystem::path(data_dir) / "gantry.db").string()));
  gateway::Gateway* g = &gw;
  rag::EmbedFn embed = [g](const RequestContext& ctx, providers::EmbeddingRequest req) {
    return g->Embed(ctx, std::move(req));
  };
  return rag::RagService::Open(std::move(store), std::move(embed), std::move(o), log);
}

}  // namespace gantry::cli
