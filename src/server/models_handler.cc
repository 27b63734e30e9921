#include <nlohmann/json.hpp>

#include "server/errors.h"
#include "server/handlers.h"

namespace gantry::server {
namespace {
nlohmann::json ModelJson(const providers::ModelInfo& m) {
  return {{"id", m.id}, {"object", "model"}, {"created", m.created}, {"owned_by", m.owned_by}};
}
}  // namespace

Awaitable<Response> HandleListModels(Services& s, Request&) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& m : s.gateway->ListModels()) data.push_back(ModelJson(m));
  co_return Response::Json(200,
                           nlohmann::json{{"object", "list"}, {"data", std::move(data)}}.dump());
}

Awaitable<Response> HandleGetModel(Services& s, Request& req) {
  constexpr std::string_view kPrefix = "/v1/models/";
  const std::string id = req.path.substr(kPrefix.size());
  for (const auto& m : s.gateway->ListModels()) {
    if (m.id == id) co_return Response::Json(200, ModelJson(m).dump());
  }
  co_return ErrorResponse(
      NotFound("The model '" + id + "' does not exist or you do not have access to it."));
}

Awaitable<Response> HandleHealthz(Services&, Request&) {
  co_return Response::Json(200, R"({"status":"ok"})");
}

Awaitable<Response> HandleReadyz(Services& s, Request&) {
  if (s.draining()) co_return Response::Json(503, R"({"status":"draining"})");
  nlohmann::json body = {{"status", "ready"}, {"models", s.gateway->ListModels().size()}};
  co_return Response::Json(200, body.dump());
}

}  // namespace gantry::server
