#include <nlohmann/json.hpp>

#include "providers/openai_codec.h"
#include "server/errors.h"
#include "server/handlers.h"

namespace gantry::server {
namespace {

using providers::ChatChunk;
using providers::Json;

Result<Json> ParseBody(const Request& req) {
  Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return InvalidArgument(
        "We could not parse the JSON body of your request. The body must be valid JSON "
        "(check quoting and trailing commas).");
  }
  return body;
}

// Turns provider chunks into OpenAI server-sent events. An error after the
// headers went out is sent as a `data: {"error": ...}` event (what OpenAI does,
// and what the SDKs raise on), after which the stream ends without [DONE].
class ChatSseGenerator final : public BodyGenerator {
 public:
  ChatSseGenerator(providers::ChatStreamPtr stream, ChatChunk first, bool include_usage)
      : stream_(std::move(stream)), first_(std::move(first)), include_usage_(include_usage) {}

  Awaitable<std::optional<std::string>> Next() override {
    for (;;) {
      if (finished_) co_return std::nullopt;
      ChatChunk chunk;
      if (first_) {
        chunk = std::move(*first_);
        first_.reset();
      } else {
        auto r = co_await stream_->Next();
        if (!r.ok()) {
          finished_ = true;
          co_return "data: " + ErrorBody(r.status()) + "\n\n";
        }
        if (!r->has_value()) {
          finished_ = true;
          std::string tail;
          if (include_usage_ && !saw_usage_) tail = Event(UsageChunk());
          co_return tail + "data: [DONE]\n\n";
        }
        chunk = std::move(**r);
      }
      if (chunk.usage) saw_usage_ = true;
      if (!id_.empty() && chunk.id.empty()) chunk.id = id_;
      if (id_.empty()) id_ = chunk.id;
      model_ = chunk.model.empty() ? model_ : chunk.model;
      created_ = chunk.created ? chunk.created : created_;
      for (const auto& c : chunk.choices) {
        if (c.delta.content && !c.delta.content->empty()) ++content_chunks_;
      }
      if (chunk.choices.empty() && chunk.usage && !include_usage_) continue;  // usage-only
      if (!include_usage_) chunk.usage.reset();
      co_return Event(chunk);
    }
  }

 private:
  std::string Event(const ChatChunk& c) const {
    return "data: " +
           providers::ChatChunkToJson(c, include_usage_)
               .dump(-1, ' ', false, Json::error_handler_t::replace) +
           "\n\n";
  }
  // When the upstream reported no usage, count what we saw (content chunks).
  ChatChunk UsageChunk() const {
    ChatChunk c;
    c.id = id_;
    c.model = model_;
    c.created = created_;
    providers::Usage u;
    u.completion_tokens = content_chunks_;
    u.total_tokens = content_chunks_;
    c.usage = u;
    return c;
  }

  providers::ChatStreamPtr stream_;
  std::optional<ChatChunk> first_;
  bool include_usage_;
  bool finished_ = false;
  bool saw_usage_ = false;
  std::string id_, model_;
  int64_t created_ = 0;
  int64_t content_chunks_ = 0;
};

}  // namespace

Awaitable<Response> HandleChatCompletions(Services& s, Request& req) {
  auto body = ParseBody(req);
  if (!body.ok()) co_return ErrorResponse(body.status());
  auto parsed = providers::ParseChatRequest(*body);
  if (!parsed.ok()) co_return ErrorResponse(parsed.status());
  providers::ChatRequest chat = std::move(*parsed);
  if (!chat.stream) {
    auto r = co_await s.gateway->Complete(req.ctx, std::move(chat));
    if (!r.ok()) co_return ErrorResponse(r.status());
    co_return Response::Json(200, providers::ChatResponseToJson(*r).dump(
                                      -1, ' ', false, Json::error_handler_t::replace));
  }
  const bool include_usage = chat.include_usage;
  auto stream = co_await s.gateway->Stream(req.ctx, std::move(chat));
  if (!stream.ok()) co_return ErrorResponse(stream.status());
  // Pull the first chunk before committing to a 200, so an upstream that fails
  // at once still gets a proper HTTP error status.
  auto first = co_await (*stream)->Next();
  if (!first.ok()) co_return ErrorResponse(first.status());
  if (!first->has_value()) {
    co_return ErrorResponse(UpstreamError("upstream ended the stream without any chunk"));
  }
  Response r;
  r.status = 200;
  r.headers = {{"content-type", "text/event-stream; charset=utf-8"},
               {"cache-control", "no-cache"},
               {"x-accel-buffering", "no"}};
  r.stream =
      std::make_unique<ChatSseGenerator>(std::move(*stream), std::move(**first), include_usage);
  co_return r;
}

Awaitable<Response> HandleEmbeddings(Services& s, Request& req) {
  auto body = ParseBody(req);
  if (!body.ok()) co_return ErrorResponse(body.status());
  auto parsed = providers::ParseEmbeddingRequest(*body);
  if (!parsed.ok()) co_return ErrorResponse(parsed.status());
  const std::string format = parsed->encoding_format;
  auto r = co_await s.gateway->Embed(req.ctx, std::move(*parsed));
  if (!r.ok()) co_return ErrorResponse(r.status());
  co_return Response::Json(200, providers::EmbeddingResponseToJson(*r, format).dump());
}

}  // namespace gantry::server
