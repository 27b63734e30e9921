#include "providers/openai_provider.h"

#include <charconv>
#include <deque>

#include "providers/openai_codec.h"
#include "providers/sse_parser.h"

namespace gantry::providers {
namespace {

std::string Truncate(std::string s, size_t n) {
  if (s.size() > n) {
    s.resize(n);
    s += "...";
  }
  return s;
}

Result<Json> ParseJsonBody(const std::string& provider, const std::string& body) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return UpstreamError(provider + ": upstream returned invalid JSON (" +
                         std::to_string(body.size()) + " bytes)");
  }
  return j;
}

class OpenAIChatStream final : public ChatStream {
 public:
  OpenAIChatStream(std::string provider, std::unique_ptr<HttpBodyStream> body, Deadline deadline,
                   Millis idle, const Clock* clock)
      : provider_(std::move(provider)),
        body_(std::move(body)),
        deadline_(deadline),
        idle_(idle),
        clock_(clock) {}

  Awaitable<Result<std::optional<ChatChunk>>> Next() override {
    for (;;) {
      while (!pending_.empty()) {
        SseEvent ev = std::move(pending_.front());
        pending_.pop_front();
        if (ev.data == "[DONE]") {
          done_ = true;
          co_await DrainForReuse();
          co_return std::optional<ChatChunk>();
        }
        Json j = Json::parse(ev.data, nullptr, false);
        if (j.is_discarded()) {
          co_return UpstreamError(
              provider_ + ": upstream sent an invalid stream event: " + Truncate(ev.data, 120));
        }
        if (j.is_object() && j.contains("error")) {
          co_return MapUpstreamError(provider_, 502, ev.data, std::nullopt);
        }
        auto chunk = ParseChatChunk(j);
        if (!chunk.ok()) co_return chunk.status().WithContext(provider_ + ": upstream stream");
        for (const auto& c : chunk->choices)
          saw_finish_ = saw_finish_ || c.finish_reason.has_value();
        co_return std::optional<ChatChunk>(std::move(*chunk));
      }
      if (done_) co_return std::optional<ChatChunk>();
      auto piece = co_await body_->Read(deadline_.MinAfter(*clock_, idle_));
      if (!piece.ok()) {
        Status s = piece.status();
        co_return s.WithContext(provider_);
      }
      if (!piece->has_value()) {
        done_ = true;
        if (saw_finish_ && !parser_.HasPartial()) co_return std::optional<ChatChunk>();
        co_return UpstreamError(provider_ + ": upstream closed the stream before it finished");
      }
      std::vector<SseEvent> events;
      CO_RETURN_IF_ERROR(parser_.Feed(**piece, &events).WithContext(provider_));
      for (auto& e : events) pending_.push_back(std::move(e));
    }
  }

 private:
  // After [DONE] the upstream still has to send the end of the chunked body. Reading it lets
  // the connection go back to the pool; otherwise every stream costs a new TCP (and TLS)
  // handshake. Bounded in time and bytes: an upstream that keeps talking is simply closed.
  Awaitable<void> DrainForReuse() {
    constexpr size_t kMaxDrainBytes = 64 * 1024;
    const Deadline drain = deadline_.MinAfter(*clock_, Millis(1000));
    size_t drained = 0;
    while (drained <= kMaxDrainBytes) {
      auto piece = co_await body_->Read(drain);
      if (!piece.ok() || !piece->has_value()) break;
      drained += (*piece)->size();
    }
  }

  std::string provider_;
  std::unique_ptr<HttpBodyStream> body_;
  Deadline deadline_;
  Millis idle_;
  const Clock* clock_;
  SseParser parser_;
  std::deque<SseEvent> pending_;
  bool done_ = false;
  bool saw_finish_ = false;
};

}  // namespace

Status MapUpstreamError(const std::string& provider, int http_status, const std::string& body,
                        const std::optional<std::string>& retry_after) {
  std::string detail;
  Json j = Json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error")) {
    const Json& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) {
      detail = e["message"].get<std::string>();
    } else if (e.is_string()) {
      detail = e.get<std::string>();
    }
  }
  if (detail.empty()) detail = "HTTP " + std::to_string(http_status);
  detail = Truncate(detail, 500);
  const std::string prefix = provider + ": ";
  Status s;
  switch (http_status) {
    case 400:
    case 409:
    case 413:
    case 422:
      s = InvalidArgument(prefix + detail);
      break;
    case 404:
      s = NotFound(prefix + detail);
      break;
    case 401:
    case 403:
      s = UpstreamError(prefix + "upstream rejected gantry's credentials (HTTP " +
                        std::to_string(http_status) + "); check the provider's api_key");
      break;
    case 429:
      s = ResourceExhausted(prefix + "upstream rate limit: " + detail);
      break;
    default:
      s = UpstreamError(prefix + "upstream error (HTTP " + std::to_string(http_status) +
                        "): " + detail);
  }
  s.set_upstream_http_status(http_status);
  if (retry_after) {
    int secs = 0;
    auto [p, ec] =
        std::from_chars(retry_after->data(), retry_after->data() + retry_after->size(), secs);
    if (ec == std::errc() && secs >= 0) s.set_retry_after_s(secs);
  }
  return s;
}

Result<std::unique_ptr<OpenAIProvider>> OpenAIProvider::Create(OpenAIProviderOptions options) {
  auto base = HttpUrl::Parse(options.base_url);
  if (!base.ok()) return base.status().WithContext("provider " + options.name + ": base_url");
  auto http = HttpClient::Create(options.http);
  if (!http.ok()) return http.status().WithContext("provider " + options.name);
  return std::unique_ptr<OpenAIProvider>(
      new OpenAIProvider(std::move(options), std::move(*base), std::move(*http)));
}

HttpRequest OpenAIProvider::MakeRequest(const RequestContext& ctx, const std::string& path,
                                        std::string body) const {
  HttpRequest r;
  r.method = "POST";
  r.url = base_;
  r.url.path = base_.path + path;
  r.headers.emplace_back("content-type", "application/json");
  r.headers.emplace_back("accept", "application/json, text/event-stream");
  if (!options_.api_key.empty()) {
    r.headers.emplace_back("authorization", "Bearer " + options_.api_key.Reveal());
  }
  for (const auto& h : options_.extra_headers) r.headers.push_back(h);
  if (!ctx.request_id.empty()) r.headers.emplace_back("x-request-id", ctx.request_id);
  r.body = std::move(body);
  r.deadline = ctx.deadline.MinAfter(*ctx.clock, options_.timeout);
  r.cancel = ctx.cancel;
  return r;
}

Awaitable<Result<ChatResponse>> OpenAIProvider::Complete(const RequestContext& ctx,
                                                         const ChatRequest& request) {
  ChatRequest req = request;
  req.stream = false;
  auto resp = co_await http_->Send(
      MakeRequest(ctx, "/chat/completions", ChatRequestToJson(req, req.model).dump()));
  if (!resp.ok()) co_return resp.status().WithContext(options_.name);
  if (resp->status < 200 || resp->status >= 300) {
    co_return MapUpstreamError(options_.name, resp->status, resp->body,
                               resp->Header("retry-after"));
  }
  CO_ASSIGN_OR_RETURN(Json j, ParseJsonBody(options_.name, resp->body));
  auto parsed = ParseChatResponse(j);
  if (!parsed.ok()) {
    co_return UpstreamError(options_.name + ": unexpected response: " + parsed.status().message());
  }
  co_return std::move(*parsed);
}

Awaitable<Result<ChatStreamPtr>> OpenAIProvider::Stream(const RequestContext& ctx,
                                                        const ChatRequest& request) {
  ChatRequest req = request;
  req.stream = true;
  req.include_usage =
      true;  // gantry always accounts usage; the server decides what the client sees
  auto body = co_await http_->Open(
      MakeRequest(ctx, "/chat/completions", ChatRequestToJson(req, req.model).dump()));
  if (!body.ok()) co_return body.status().WithContext(options_.name);
  auto& stream = *body;
  if (stream->status() < 200 || stream->status() >= 300) {
    std::string text;
    const Deadline d = ctx.deadline.MinAfter(*ctx.clock, options_.timeout);
    while (text.size() < 64 * 1024) {
      auto piece = co_await stream->Read(d);
      if (!piece.ok() || !piece->has_value()) break;
      text += **piece;
    }
    co_return MapUpstreamError(options_.name, stream->status(), text,
                               stream->Header("retry-after"));
  }
  co_return ChatStreamPtr(std::make_unique<OpenAIChatStream>(
      options_.name, std::move(stream), ctx.deadline, options_.timeout, ctx.clock));
}

Awaitable<Result<EmbeddingResponse>> OpenAIProvider::Embed(const RequestContext& ctx,
                                                           const EmbeddingRequest& request) {
  auto resp = co_await http_->Send(
      MakeRequest(ctx, "/embeddings", EmbeddingRequestToJson(request, request.model).dump()));
  if (!resp.ok()) co_return resp.status().WithContext(options_.name);
  if (resp->status < 200 || resp->status >= 300) {
    co_return MapUpstreamError(options_.name, resp->status, resp->body,
                               resp->Header("retry-after"));
  }
  CO_ASSIGN_OR_RETURN(Json j, ParseJsonBody(options_.name, resp->body));
  auto parsed = ParseEmbeddingResponse(j);
  if (!parsed.ok()) {
    co_return UpstreamError(options_.name + ": unexpected response: " + parsed.status().message());
  }
  if (parsed->data.size() != request.InputCount()) {
    co_return UpstreamError(options_.name + ": upstream returned " +
                            std::to_string(parsed->data.size()) + " embeddings for " +
                            std::to_string(request.InputCount()) + " inputs");
  }
  co_return std::move(*parsed);
}

}  // namespace gantry::providers
