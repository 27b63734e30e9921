#include "gateway/rag_stage.h"

#include <deque>

#include "core/ids.h"

namespace gantry::gateway {
namespace {

using providers::ChatChunk;
using providers::ChatResponse;
using providers::ChatStream;
using providers::ChatStreamPtr;

// Filters content deltas through a CitationFilter; the chunk that carries the
// finish reason (or a final synthesized one) gets the held-back text and the
// `rag` report.
class RagStream final : public ChatStream {
 public:
  RagStream(ChatStreamPtr inner, RagPlan plan)
      : inner_(std::move(inner)),
        plan_(std::move(plan)),
        filter_(static_cast<int>(plan_.sources.size())) {}

  providers::Awaitable<Result<std::optional<ChatChunk>>> Next() override {
    if (done_) co_return std::optional<ChatChunk>();
    auto next = co_await inner_->Next();
    if (!next.ok()) co_return next.status();
    if (!next->has_value()) {
      done_ = true;
      if (reported_) co_return std::optional<ChatChunk>();
      // The upstream ended without a finish reason: report in a last chunk.
      ChatChunk c;
      c.id = last_id_;
      c.model = last_model_;
      c.created = last_created_;
      std::string rest = filter_.Finish();
      if (!rest.empty()) {
        providers::ChunkChoice ch;
        ch.delta.content = rest;
        c.choices.push_back(std::move(ch));
      }
      c.extra["rag"] = rag::RagReportJson(plan_.sources, filter_.report(), true);
      reported_ = true;
      co_return std::optional<ChatChunk>(std::move(c));
    }
    ChatChunk c = std::move(**next);
    last_id_ = c.id;
    last_model_ = c.model;
    last_created_ = c.created;
    bool finishing = false;
    for (auto& ch : c.choices) {
      if (ch.delta.content) ch.delta.content = filter_.Push(*ch.delta.content);
      if (ch.finish_reason) {
        finishing = true;
        std::string rest = filter_.Finish();
        if (!rest.empty()) ch.delta.content = ch.delta.content.value_or("") + rest;
      }
    }
    if (finishing && !reported_) {
      c.extra["rag"] = rag::RagReportJson(plan_.sources, filter_.report(), true);
      reported_ = true;
    }
    co_return std::optional<ChatChunk>(std::move(c));
  }

 private:
  ChatStreamPtr inner_;
  RagPlan plan_;
  rag::CitationFilter filter_;
  bool done_ = false;
  bool reported_ = false;
  std::string last_id_, last_model_;
  int64_t last_created_ = 0;
};

// Replays prepared chunks.
class FixedStream final : public ChatStream {
 public:
  explicit FixedStream(std::deque<ChatChunk> chunks) : chunks_(std::move(chunks)) {}
  providers::Awaitable<Result<std::optional<ChatChunk>>> Next() override {
    if (chunks_.empty()) co_return std::optional<ChatChunk>();
    ChatChunk c = std::move(chunks_.front());
    chunks_.pop_front();
    co_return std::optional<ChatChunk>(std::move(c));
  }

 private:
  std::deque<ChatChunk> chunks_;
};

}  // namespace

providers::Awaitable<Result<std::optional<RagPlan>>> PrepareRag(rag::RagService* service,
                                                                const RequestContext& ctx,
                                                                providers::ChatRequest& request) {
  auto it = request.extra.find("rag");
  if (it == request.extra.end() || it->is_null()) {
    if (it != request.extra.end()) request.extra.erase(it);
    co_return std::optional<RagPlan>();
  }
  if (!service)
    co_return FailedPrecondition(
        "this request asks for rag, but retrieval is not enabled on this gantry");
  auto options = rag::RagOptions::Parse(*it);
  if (!options.ok()) co_return options.status();
  request.extra.erase("rag");
  auto query = rag::RetrievalQuery(request.messages);
  if (!query.ok()) co_return query.status();
  options->search.query = *query;
  auto hits = co_await service->Search(ctx, options->collections, options->search);
  if (!hits.ok()) co_return hits.status();
  RagPlan plan;
  plan.sources = rag::SelectSources(std::move(*hits), *options, service->options().count_tokens);
  if (plan.answerable()) request.messages = rag::GroundMessages(request.messages, plan.sources);
  co_return std::optional<RagPlan>(std::move(plan));
}

void FinishRag(const RagPlan& plan, ChatResponse& response) {
  rag::CitationReport report;
  for (auto& choice : response.choices) {
    if (choice.message.content.is_string()) {
      choice.message.content = rag::CheckCitations(choice.message.content.get<std::string>(),
                                                   static_cast<int>(plan.sources.size()), &report);
    }
  }
  response.extra["rag"] = rag::RagReportJson(plan.sources, report, true);
}

ChatStreamPtr WrapRagStream(ChatStreamPtr inner, RagPlan plan) {
  return std::make_unique<RagStream>(std::move(inner), std::move(plan));
}

ChatResponse DontKnowResponse(const RequestContext& ctx, const providers::ChatRequest& request,
                              const RagPlan& plan) {
  ChatResponse r;
  r.id = NewId("chatcmpl-");
  r.created = UnixSeconds(ctx.clock->WallNow());
  r.model = request.model;
  providers::ChatChoice choice;
  choice.message.role = "assistant";
  choice.message.content = std::string(rag::kDontKnowAnswer);
  choice.finish_reason = "stop";
  r.choices.push_back(std::move(choice));
  r.usage = providers::Usage{};
  r.extra["rag"] = rag::RagReportJson(plan.sources, {}, false);
  return r;
}

ChatStreamPtr DontKnowStream(const RequestContext& ctx, const providers::ChatRequest& request,
                             RagPlan plan) {
  std::deque<ChatChunk> chunks;
  ChatChunk c;
  c.id = NewId("chatcmpl-");
  c.created = UnixSeconds(ctx.clock->WallNow());
  c.model = request.model;
  providers::ChunkChoice ch;
  ch.delta.role = "assistant";
  ch.delta.content = std::string(rag::kDontKnowAnswer);
  c.choices.push_back(ch);
  chunks.push_back(c);
  ChatChunk last = c;
  last.choices.clear();
  providers::ChunkChoice fin;
  fin.finish_reason = "stop";
  last.choices.push_back(std::move(fin));
  last.extra["rag"] = rag::RagReportJson(plan.sources, {}, false);
  chunks.push_back(std::move(last));
  if (request.include_usage) {
    ChatChunk u = c;
    u.choices.clear();
    u.usage = providers::Usage{};
    chunks.push_back(std::move(u));
  }
  return std::make_unique<FixedStream>(std::move(chunks));
}

}  // namespace gantry::gateway
