#include "providers/scripted_provider.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <sstream>
#include <vector>

#include "core/ids.h"

namespace gantry::providers {
namespace asio = boost::asio;

Awaitable<Status> SleepFor(const RequestContext& ctx, Millis d) {
  auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex);
  const auto wake = std::min(ctx.clock->Now() + d, ctx.deadline.when());
  timer->expires_at(wake);
  std::weak_ptr<asio::steady_timer> weak = timer;
  auto reg = ctx.cancel->OnCancel([ex, weak] {
    asio::post(ex, [weak] {
      if (auto t = weak.lock()) t->cancel();
    });
  });
  co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  if (ctx.cancel->cancelled()) co_return ctx.cancel->reason();
  if (ctx.deadline.Expired(*ctx.clock)) co_return DeadlineExceeded("deadline exceeded");
  co_return OkStatus();
}

namespace {

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string w;
  while (in >> w) out.push_back(out.empty() ? w : " " + w);
  return out;
}

std::string ReplyFor(const ScriptedOptions& o, const ChatRequest& r) {
  if (!o.reply.empty()) return o.reply;
  std::string last;
  for (const auto& m : r.messages) {
    if (m.role == "user") last = m.Text();
  }
  return "echo: " + last;
}

int64_t PromptWords(const ChatRequest& r) {
  int64_t n = 0;
  for (const auto& m : r.messages) n += static_cast<int64_t>(Words(m.Text()).size());
  return n;
}

class ScriptedStream final : public ChatStream {
 public:
  ScriptedStream(ScriptedProvider* owner, RequestContext ctx, ChatRequest req)
      : owner_(owner), ctx_(std::move(ctx)), req_(std::move(req)) {
    words_ = Words(ReplyFor(owner->options(), req_));
    if (req_.max_tokens && static_cast<int64_t>(words_.size()) > *req_.max_tokens) {
      words_.resize(static_cast<size_t>(*req_.max_tokens));
      finish_ = "length";
    }
    id_ = NewId("chatcmpl-");
  }
  ~ScriptedStream() override {
    if (step_ <= words_.size() + 1) owner_->CountCancellation();  // abandoned early
  }

  Awaitable<Result<std::optional<ChatChunk>>> Next() override {
    ChatChunk c;
    c.id = id_;
    c.model = req_.model;
    c.created = UnixSeconds(ctx_.clock->WallNow());
    const size_t n = words_.size();
    if (step_ == 0) {
      ++step_;
      ChunkChoice ch;
      ch.delta.role = "assistant";
      ch.delta.content = "";
      c.choices.push_back(std::move(ch));
      co_return std::optional<ChatChunk>(std::move(c));
    }
    if (step_ <= n) {
      const Millis d =
          step_ == 1 ? owner_->options().first_token_delay : owner_->options().token_delay;
      if (d.count() > 0) {
        Status s = co_await SleepFor(ctx_, d);
        if (!s.ok()) co_return s;
      }
      ChunkChoice ch;
      ch.delta.content = words_[step_ - 1];
      ++step_;
      c.choices.push_back(std::move(ch));
      co_return std::optional<ChatChunk>(std::move(c));
    }
    if (step_ == n + 1) {
      ++step_;
      ChunkChoice ch;
      ch.finish_reason = finish_;
      c.choices.push_back(std::move(ch));
      co_return std::optional<ChatChunk>(std::move(c));
    }
    if (step_ == n + 2) {
      ++step_;
      Usage u;
      u.prompt_tokens = PromptWords(req_);
      u.completion_tokens = static_cast<int64_t>(n);
      u.total_tokens = u.prompt_tokens + u.completion_tokens;
      c.usage = u;
      co_return std::optional<ChatChunk>(std::move(c));
    }
    co_return std::optional<ChatChunk>();
  }

 private:
  ScriptedProvider* owner_;
  RequestContext ctx_;
  ChatRequest req_;
  std::vector<std::string> words_;
  std::string id_;
  std::string finish_ = "stop";
  size_t step_ = 0;
};

}  // namespace

Awaitable<Result<ChatResponse>> ScriptedProvider::Complete(const RequestContext& ctx,
                                                           const ChatRequest& request) {
  ++calls_;
  if (!options_.error.ok()) co_return options_.error;
  std::vector<std::string> words = Words(ReplyFor(options_, request));
  std::string finish = "stop";
  if (request.max_tokens && static_cast<int64_t>(words.size()) > *request.max_tokens) {
    words.resize(static_cast<size_t>(*request.max_tokens));
    finish = "length";
  }
  const Millis total =
      options_.first_token_delay + options_.token_delay * static_cast<int>(words.size());
  if (total.count() > 0) {
    Status s = co_await SleepFor(ctx, total);
    if (!s.ok()) {
      ++cancellations_;
      co_return s;
    }
  }
  ChatResponse r;
  r.id = NewId("chatcmpl-");
  r.created = UnixSeconds(ctx.clock->WallNow());
  r.model = request.model;
  ChatChoice c;
  c.message.role = "assistant";
  std::string text;
  for (const auto& w : words) text += w;
  c.message.content = text;
  c.finish_reason = finish;
  r.choices.push_back(std::move(c));
  Usage u;
  u.prompt_tokens = PromptWords(request);
  u.completion_tokens = static_cast<int64_t>(words.size());
  u.total_tokens = u.prompt_tokens + u.completion_tokens;
  r.usage = u;
  co_return r;
}

Awaitable<Result<ChatStreamPtr>> ScriptedProvider::Stream(const RequestContext& ctx,
                                                          const ChatRequest& request) {
  ++calls_;
  if (!options_.error.ok()) co_return options_.error;
  co_return ChatStreamPtr(std::make_unique<ScriptedStream>(this, ctx, request));
}

Awaitable<Result<EmbeddingResponse>> ScriptedProvider::Embed(const RequestContext&,
                                                             const EmbeddingRequest& request) {
  ++calls_;
  if (!options_.error.ok()) co_return options_.error;
  EmbeddingResponse r;
  r.model = request.model;
  const size_t dims =
      request.dimensions ? static_cast<size_t>(*request.dimensions) : options_.embedding_dimensions;
  std::vector<std::string> inputs;
  if (request.input.is_string()) {
    inputs.push_back(request.input.get<std::string>());
  } else if (request.InputCount() == 1 && request.input.is_array() && !request.input.empty() &&
             request.input[0].is_number_integer()) {
    inputs.push_back(request.input.dump());
  } else {
    for (const auto& e : request.input)
      inputs.push_back(e.is_string() ? e.get<std::string>() : e.dump());
  }
  for (const auto& in : inputs) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char ch : in) h = (h ^ ch) * 1099511628211ull;
    std::vector<float> v(dims);
    double norm = 0;
    for (auto& x : v) {
      h ^= h >> 33;
      h *= 0xff51afd7ed558ccdull;
      h ^= h >> 33;
      x = static_cast<float>(static_cast<double>(h % 20001) / 10000.0 - 1.0);
      norm += static_cast<double>(x) * x;
    }
    norm = std::sqrt(norm);
    if (norm > 0) {
      for (auto& x : v) x = static_cast<float>(x / norm);
    }
    r.data.push_back(std::move(v));
    r.usage.prompt_tokens += static_cast<int64_t>(Words(in).size());
  }
  r.usage.total_tokens = r.usage.prompt_tokens;
  co_return r;
}

}  // namespace gantry::providers
