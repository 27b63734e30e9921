// Every route gantry serves, in one place.
#include "server/handlers.h"

namespace gantry::server {

Router BuildRouter(Services& s) {
  Router r;
  auto bind = [&s](Awaitable<Response> (*fn)(Services&, Request&)) {
    return [&s, fn](Request& req) { return fn(s, req); };
  };
  // OpenAI-compatible API (bearer auth).
  r.Add("POST", "/v1/chat/completions", bind(HandleChatCompletions));
  r.Add("POST", "/v1/embeddings", bind(HandleEmbeddings));
  r.Add("GET", "/v1/models", bind(HandleListModels));
  r.AddPrefix("GET", "/v1/models/", bind(HandleGetModel));
  // Collections, documents and search (RAG).
  r.Add("POST", "/v1/collections", bind(HandleCreateCollection));
  r.Add("GET", "/v1/collections", bind(HandleListCollections));
  r.AddPrefix("GET", "/v1/collections/", bind(HandleCollectionGet));
  r.AddPrefix("POST", "/v1/collections/", bind(HandleCollectionPost));
  r.AddPrefix("DELETE", "/v1/collections/", bind(HandleCollectionDelete));
  // Probes (no auth: load balancers and orchestrators call them).
  r.Add("GET", "/healthz", bind(HandleHealthz), /*requires_auth=*/false);
  r.Add("GET", "/readyz", bind(HandleReadyz), /*requires_auth=*/false);
  return r;
}

}  // namespace gantry::server
