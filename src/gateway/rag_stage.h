// The RAG stage of the chat pipeline: a request with a `rag` extension is
// grounded in retrieved sources before it reaches a model, and the answer's
// citations are checked on the way back (whole responses and streams).
//
//   Prepare   parses `rag`, retrieves with the caller's tenant and ACL, picks
//             the sources above the relevance floor within the token budget,
//             and rewrites the messages (removing `rag` from what is sent on)
//   Finish    checks citations in a response and attaches the `rag` report
//   Wrap      does the same on a stream, holding back only a possible "[n"
//   DontKnow* the answer when nothing relevant was found (no model call)
//
// Thread safety: RagPlan is a value; a wrapped stream is used like any stream.
#pragma once

#include <optional>
#include <vector>

#include "providers/chat_model.h"
#include "rag/answer.h"
#include "rag/rag_service.h"

namespace gantry::gateway {

struct RagPlan {
  std::vector<rag::Source> sources;
  bool answerable() const { return !sources.empty(); }
};

// std::nullopt when the request has no `rag` field. kFailedPrecondition when
// it has one and `service` is null (RAG disabled).
providers::Awaitable<Result<std::optional<RagPlan>>> PrepareRag(rag::RagService* service,
                                                                const RequestContext& ctx,
                                                                providers::ChatRequest& request);

void FinishRag(const RagPlan& plan, providers::ChatResponse& response);
providers::ChatStreamPtr WrapRagStream(providers::ChatStreamPtr inner, RagPlan plan);

providers::ChatResponse DontKnowResponse(const RequestContext& ctx,
                                         const providers::ChatRequest& request,
                                         const RagPlan& plan);
providers::ChatStreamPtr DontKnowStream(const RequestContext& ctx,
                                        const providers::ChatRequest& request, RagPlan plan);

}  // namespace gantry::gateway
