// Handlers for the OpenAI-compatible API and the health endpoints. Each parses
// and validates the wire format, calls the gateway, and serializes; errors go
// through server/errors.h. Routes are registered in routes.cc.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "core/logging.h"
#include "gateway/gateway.h"
#include "server/http_types.h"
#include "server/router.h"

namespace gantry::server {

struct Services {
  gateway::Gateway* gateway = nullptr;  // not owned; outlives the server
  LoggerPtr logger;
  std::function<bool()> draining = [] { return false; };
};

Awaitable<Response> HandleChatCompletions(Services& s, Request& req);
Awaitable<Response> HandleEmbeddings(Services& s, Request& req);
Awaitable<Response> HandleListModels(Services& s, Request& req);
Awaitable<Response> HandleGetModel(Services& s, Request& req);
Awaitable<Response> HandleCreateCollection(Services& s, Request& req);
Awaitable<Response> HandleListCollections(Services& s, Request& req);
// /v1/collections/{name}[/documents[/{doc_id}]|/search], by method.
Awaitable<Response> HandleCollectionGet(Services& s, Request& req);
Awaitable<Response> HandleCollectionPost(Services& s, Request& req);
Awaitable<Response> HandleCollectionDelete(Services& s, Request& req);
Awaitable<Response> HandleHealthz(Services& s, Request& req);
Awaitable<Response> HandleReadyz(Services& s, Request& req);

// Every route gantry serves. `services` must outlive the router.
Router BuildRouter(Services& services);

}  // namespace gantry::server
