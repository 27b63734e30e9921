// ChatModel and EmbeddingModel: the seam between the gateway and whatever
// produces tokens (the local engine, an OpenAI-compatible server, a script).
//
// All calls are C++20 coroutines on the caller's executor (a per-connection
// strand in the server). They honour ctx.deadline and ctx.cancel: when the
// request is cancelled, pending I/O is abandoned promptly and the call returns
// kCancelled (or kDeadlineExceeded). Errors use the codes in core/status.h;
// upstream HTTP failures are mapped by how a caller should react (429 ->
// kResourceExhausted with retry_after, 5xx/reset/bad JSON -> kUpstream, ...).
//
// Thread safety: implementations are thread-safe; one ChatStream is used by one
// coroutine at a time and must be destroyed on the executor that created it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/request_context.h"
#include "core/status.h"
#include "providers/chat_types.h"

namespace gantry::providers {

template <typename T>
using Awaitable = boost::asio::awaitable<T>;

// A streamed completion. Destroying it before the end releases the upstream
// (closes the connection / stops generation).
class ChatStream {
 public:
  virtual ~ChatStream() = default;
  // The next chunk, std::nullopt after the last one (the usage chunk, if any,
  // comes last). After an error or the end, do not call again.
  virtual Awaitable<Result<std::optional<ChatChunk>>> Next() = 0;
};
using ChatStreamPtr = std::unique_ptr<ChatStream>;

class ChatModel {
 public:
  virtual ~ChatModel() = default;
  // `request.model` is already the name this provider knows the model by.
  virtual Awaitable<Result<ChatResponse>> Complete(const RequestContext& ctx,
                                                   const ChatRequest& request) = 0;
  // Returns once the upstream accepted the request (headers received), so a
  // caller can still fall back elsewhere before the first chunk.
  virtual Awaitable<Result<ChatStreamPtr>> Stream(const RequestContext& ctx,
                                                  const ChatRequest& request) = 0;
};

class EmbeddingModel {
 public:
  virtual ~EmbeddingModel() = default;
  virtual Awaitable<Result<EmbeddingResponse>> Embed(const RequestContext& ctx,
                                                     const EmbeddingRequest& request) = 0;
};

}  // namespace gantry::providers
