#include "providers/local_provider.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <functional>
#include <limits>

#include "core/ids.h"
#include "engine/chat_template.h"
#include "engine/gguf.h"
#include "engine/stream_decoder.h"
#include "providers/mailbox.h"

namespace gantry::providers {
namespace asio = boost::asio;

namespace {

Json LogprobEntry(const std::string& bytes, float logprob) {
  Json b = Json::array();
  for (unsigned char c : bytes) b.push_back(static_cast<int>(c));
  return Json{{"token", engine::SanitizeUtf8(bytes)}, {"logprob", logprob}, {"bytes", b}};
}

Json LogprobsContent(const engine::Tokenizer& tok, const std::vector<engine::GeneratedToken>& ts) {
  Json content = Json::array();
  for (const auto& t : ts) {
    Json e = LogprobEntry(t.bytes, t.logprob);
    Json top = Json::array();
    for (const auto& alt : t.top) {
      top.push_back(
          LogprobEntry(tok.TokenToPiece(alt.token, /*render_special=*/true), alt.logprob));
    }
    e["top_logprobs"] = std::move(top);
    content.push_back(std::move(e));
  }
  return content;
}

Usage MakeUsage(const engine::GenerationUpdate& u) {
  Usage usage;
  usage.prompt_tokens = u.prompt_tokens;
  usage.completion_tokens = u.completion_tokens;
  usage.total_tokens = u.prompt_tokens + u.completion_tokens;
  return usage;
}

// Cancels the generation when the request is cancelled and wakes the waiting
// coroutine so it sees the cancellation at once.
struct GenerationWatch {
  std::shared_ptr<engine::GenerationHandle> handle;
  CancelSource::Registration registration;

  template <typename T>
  GenerationWatch(const RequestContext& ctx, std::shared_ptr<engine::GenerationHandle> h,
                  const std::shared_ptr<Mailbox<T>>& box)
      : handle(std::move(h)) {
    registration = ctx.cancel->OnCancel([weak_h = std::weak_ptr<engine::GenerationHandle>(handle),
                                         weak_box = std::weak_ptr<Mailbox<T>>(box)] {
      if (auto hh = weak_h.lock()) hh->Cancel();
      if (auto b = weak_box.lock()) b->Poke();
    });
  }
  ~GenerationWatch() {
    if (handle) handle->Cancel();  // no-op once the generation finished
  }
  GenerationWatch(GenerationWatch&&) = default;
};

using UpdateBox = Mailbox<engine::GenerationUpdate>;

// Submits a generation whose updates land in `box`.
Result<std::shared_ptr<engine::GenerationHandle>> Submit(engine::GenerationScheduler& scheduler,
                                                         engine::GenerationRequest generation,
                                                         const std::shared_ptr<UpdateBox>& box) {
  return scheduler.Submit(std::move(generation),
                          [box](engine::GenerationUpdate&& u) { box->Push(std::move(u)); });
}

class LocalStream final : public ChatStream {
 public:
  LocalStream(RequestContext ctx, ChatRequest request, std::shared_ptr<UpdateBox> box,
              std::shared_ptr<engine::GenerationHandle> handle,
              std::shared_ptr<const engine::SpmTokenizer> tokenizer, bool logprobs)
      : ctx_(std::move(ctx)),
        request_(std::move(request)),
        box_(box),
        watch_(ctx_, std::move(handle), box),
        tokenizer_(std::move(tokenizer)),
        logprobs_(logprobs),
        id_(NewId("chatcmpl-")),
        created_(UnixSeconds(ctx_.clock->WallNow())) {}

  Awaitable<Result<std::optional<ChatChunk>>> Next() override {
    if (!sent_role_) {
      sent_role_ = true;
      ChunkChoice ch;
      ch.delta.role = "assistant";
      ch.delta.content = "";
      co_return std::optional<ChatChunk>(Chunk(std::move(ch)));
    }
    if (pending_usage_) {
      ChatChunk c = Chunk();
      c.usage = *pending_usage_;
      pending_usage_.reset();
      co_return std::optional<ChatChunk>(std::move(c));
    }
    if (finished_) co_return std::optional<ChatChunk>();
    for (;;) {
      auto u = co_await box_->Pop(ctx_);
      if (!u.ok()) co_return u.status();
      if (!u->status.ok()) co_return u->status;
      ChunkChoice ch;
      if (!u->text.empty()) ch.delta.content = u->text;
      if (logprobs_ && !u->tokens.empty()) {
        ch.logprobs = Json{{"content", LogprobsContent(*tokenizer_, u->tokens)}};
      }
      if (u->done) {
        finished_ = true;
        ch.finish_reason = u->finish_reason;
        if (request_.include_usage) pending_usage_ = MakeUsage(*u);
        co_return std::optional<ChatChunk>(Chunk(std::move(ch)));
      }
      // A token whose text is held back (a possible stop sequence, half a character)
      // makes no chunk unless its logprobs were asked for.
      if (ch.delta.content || !ch.logprobs.is_null()) {
        co_return std::optional<ChatChunk>(Chunk(std::move(ch)));
      }
    }
  }

 private:
  ChatChunk Chunk() const {
    ChatChunk c;
    c.id = id_;
    c.created = created_;
    c.model = request_.model;
    c.system_fingerprint = "gantry-local";
    return c;
  }
  ChatChunk Chunk(ChunkChoice ch) const {
    ChatChunk c = Chunk();
    c.choices.push_back(std::move(ch));
    return c;
  }

  RequestContext ctx_;
  ChatRequest request_;
  std::shared_ptr<UpdateBox> box_;
  GenerationWatch watch_;
  std::shared_ptr<const engine::SpmTokenizer> tokenizer_;
  bool logprobs_;
  std::string id_;
  int64_t created_;
  bool sent_role_ = false;
  bool finished_ = false;
  std::optional<Usage> pending_usage_;
};

Result<std::optional<double>> ExtraNumber(const ChatRequest& r, const char* key) {
  auto it = r.extra.find(key);
  if (it == r.extra.end() || it->is_null()) return std::optional<double>();
  if (!it->is_number()) return InvalidArgument(std::string(key) + " must be a number");
  return std::optional<double>(it->get<double>());
}

}  // namespace

// ---------------------------------------------------------------- LocalChatModel

Result<std::shared_ptr<LocalChatModel>> LocalChatModel::Create(LocalChatOptions options) {
  std::error_code ec;
  if (!std::filesystem::exists(options.model_path, ec)) {
    return NotFound("model file '" + options.model_path +
                    "' not found: run `gantry models pull` (or set GANTRY_MODELS to the "
                    "directory that holds it)");
  }
  ASSIGN_OR_RETURN(auto file, engine::GgufFile::Open(options.model_path));
  std::shared_ptr<LocalChatModel> m(new LocalChatModel());
  ASSIGN_OR_RETURN(m->model_, engine::Gemma3Model::Load(file));
  ASSIGN_OR_RETURN(auto tok, engine::SpmTokenizer::FromGguf(*file));
  m->tokenizer_ = std::move(tok);
  ASSIGN_OR_RETURN(m->scheduler_, engine::GenerationScheduler::Create(m->model_, m->tokenizer_,
                                                                      options.scheduler));
  m->prep_pool_ = std::make_unique<ThreadPool>(1);
  return m;
}

LocalChatModel::~LocalChatModel() {
  if (prep_pool_) prep_pool_->Shutdown();  // its tasks use the tokenizer
  if (scheduler_) scheduler_->Shutdown();
}

Result<LocalChatModel::Prepared> LocalChatModel::Prepare(const ChatRequest& r) const {
  if (r.n && *r.n != 1) return InvalidArgument("n: the local model generates one choice (n = 1)");
  if (r.tools.is_array() && !r.tools.empty()) {
    return InvalidArgument("tools: tool calling is not supported by the local model yet");
  }
  if (auto it = r.extra.find("logit_bias");
      it != r.extra.end() && !it->is_null() && !(it->is_object() && it->empty())) {
    return InvalidArgument("logit_bias: not supported by the local model yet");
  }
  if (r.response_format.is_object() &&
      (!r.response_format.contains("type") || r.response_format["type"] != Json("text"))) {
    return InvalidArgument("response_format: only {\"type\": \"text\"} is supported by the local " +
                           std::string("model yet"));
  }
  std::vector<engine::ChatTurn> turns;
  for (size_t i = 0; i < r.messages.size(); ++i) {
    const ChatMessage& m = r.messages[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (m.content.is_array()) {
      for (const auto& part : m.content) {
        if (!part.is_object() || !part.contains("type") || part["type"] != Json("text")) {
          return InvalidArgument(where + ".content: only text parts are supported by the local " +
                                 "model");
        }
      }
    }
    if (m.tool_calls.is_array() && !m.tool_calls.empty()) {
      return InvalidArgument(where + ".tool_calls: tool calling is not supported by the local " +
                             "model yet");
    }
    std::string role = m.role;
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant") {
      return InvalidArgument(where + ".role: '" + m.role +
                             "' is not supported by the local model " +
                             "(system, developer, user, assistant)");
    }
    // Leading system/developer messages merge into the one system prompt Gemma has.
    if (role == "system" && !turns.empty() && turns.back().role == "system" && turns.size() == 1) {
      turns.back().content += "\n\n" + m.Text();
      continue;
    }
    if (role == "system" && !turns.empty()) {
      return InvalidArgument(where + ": a system message must come before the conversation with " +
                             "the local model");
    }
    turns.push_back({role, m.Text()});
  }
  ASSIGN_OR_RETURN(auto segments, engine::RenderGemmaChatSegments(turns, true));
  Prepared p;
  ASSIGN_OR_RETURN(p.generation.prompt, engine::EncodeChat(segments, *tokenizer_));
  engine::SamplingParams& s = p.generation.sampling;
  s.temperature = static_cast<float>(r.temperature.value_or(1.0));
  s.top_p = static_cast<float>(r.top_p.value_or(1.0));
  s.presence_penalty = static_cast<float>(r.presence_penalty.value_or(0.0));
  s.frequency_penalty = static_cast<float>(r.frequency_penalty.value_or(0.0));
  ASSIGN_OR_RETURN(auto top_k, ExtraNumber(r, "top_k"));
  if (top_k) {
    if (*top_k < 0 || *top_k > 1e9 || *top_k != static_cast<int64_t>(*top_k)) {
      return InvalidArgument("top_k must be a non-negative integer");
    }
    s.top_k = static_cast<int>(*top_k);
  }
  ASSIGN_OR_RETURN(auto min_p, ExtraNumber(r, "min_p"));
  if (min_p) s.min_p = static_cast<float>(*min_p);
  ASSIGN_OR_RETURN(auto rep, ExtraNumber(r, "repetition_penalty"));
  if (rep) s.repetition_penalty = static_cast<float>(*rep);
  if (r.seed) s.seed = static_cast<uint64_t>(*r.seed);
  s.logprobs = r.logprobs;
  if (r.top_logprobs) {
    if (*r.top_logprobs < 0 || *r.top_logprobs > 20) {
      return InvalidArgument("top_logprobs must be in 0..20");
    }
    if (!r.logprobs && *r.top_logprobs > 0) {
      return InvalidArgument("top_logprobs requires logprobs: true");
    }
    s.top_logprobs = static_cast<int>(*r.top_logprobs);
  }
  if (Status st = s.Validate(); !st.ok()) return st;
  if (r.max_tokens) {
    if (*r.max_tokens < 1) return InvalidArgument("max_tokens must be at least 1");
    p.generation.max_tokens = static_cast<int>(std::min<int64_t>(*r.max_tokens, INT32_MAX));
  }
  p.generation.stop = r.stop;
  p.logprobs = r.logprobs;
  return p;
}

Awaitable<Result<ChatResponse>> LocalChatModel::Complete(const RequestContext& ctx,
                                                         const ChatRequest& request) {
  // A named task, not a temporary in the co_await expression (GCC 12 destroys such
  // temporaries twice).
  std::function<Result<Prepared>()> prepare = [this, request] { return Prepare(request); };
  auto prepared = co_await OnPool<Prepared>(*prep_pool_, ctx, std::move(prepare),
                                            "the local model is shutting down");
  if (!prepared.ok()) co_return prepared.status();
  // What the response needs after the awaits below, held here, not through `this`.
  const std::shared_ptr<const engine::SpmTokenizer> tokenizer = tokenizer_;
  auto box = std::make_shared<UpdateBox>(co_await asio::this_coro::executor);
  auto handle = Submit(*scheduler_, std::move(prepared->generation), box);
  if (!handle.ok()) co_return handle.status();
  GenerationWatch watch(ctx, *handle, box);
  std::string text;
  std::vector<engine::GeneratedToken> tokens;
  for (;;) {
    auto u = co_await box->Pop(ctx);
    if (!u.ok()) co_return u.status();
    if (!u->status.ok()) co_return u->status;
    text += u->text;
    if (prepared->logprobs) {
      for (auto& t : u->tokens) tokens.push_back(std::move(t));
    }
    if (!u->done) continue;
    ChatResponse resp;
    resp.id = NewId("chatcmpl-");
    resp.created = UnixSeconds(ctx.clock->WallNow());
    resp.model = request.model;
    resp.system_fingerprint = "gantry-local";
    ChatChoice c;
    c.message.role = "assistant";
    c.message.content = text;
    c.finish_reason = u->finish_reason;
    if (prepared->logprobs) c.logprobs = Json{{"content", LogprobsContent(*tokenizer, tokens)}};
    resp.choices.push_back(std::move(c));
    resp.usage = MakeUsage(*u);
    co_return resp;
  }
}

Awaitable<Result<ChatStreamPtr>> LocalChatModel::Stream(const RequestContext& ctx,
                                                        const ChatRequest& request) {
  // A named task, not a temporary in the co_await expression (GCC 12 destroys such
  // temporaries twice).
  std::function<Result<Prepared>()> prepare = [this, request] { return Prepare(request); };
  auto prepared = co_await OnPool<Prepared>(*prep_pool_, ctx, std::move(prepare),
                                            "the local model is shutting down");
  if (!prepared.ok()) co_return prepared.status();
  auto box = std::make_shared<UpdateBox>(co_await asio::this_coro::executor);
  auto handle = Submit(*scheduler_, std::move(prepared->generation), box);
  if (!handle.ok()) co_return handle.status();
  co_return ChatStreamPtr(
      std::make_unique<LocalStream>(ctx, request, box, *handle, tokenizer_, prepared->logprobs));
}

// ---------------------------------------------------------------- LocalEmbeddingModel

namespace {
struct EmbedOutcome {
  Status status;
  std::vector<std::vector<float>> vectors;
  int64_t tokens = 0;  // word pieces, [CLS] and [SEP] included
};
}  // namespace

struct LocalEmbeddingModel::Job {
  std::vector<std::string> texts;
  int64_t tokens = 0;  // set by CountTokens on the embedding thread
  std::shared_ptr<Mailbox<EmbedOutcome>> box;
  std::shared_ptr<CancelSource> cancel;
};

Result<std::shared_ptr<LocalEmbeddingModel>> LocalEmbeddingModel::Create(
    LocalEmbeddingOptions options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(options.model_dir, ec)) {
    return NotFound("embedding model directory '" + options.model_dir +
                    "' not found: run `gantry models pull` (or set GANTRY_MODELS to the "
                    "directory that holds it)");
  }
  if (options.max_queue < 1 || options.max_batch_texts < 1) {
    return InvalidArgument("max_queue and max_batch_texts must be at least 1");
  }
  engine::BertEmbedderOptions eo;
  eo.threads = options.threads;
  std::shared_ptr<LocalEmbeddingModel> m(new LocalEmbeddingModel());
  ASSIGN_OR_RETURN(m->embedder_, engine::BertEmbedder::Open(options.model_dir, eo));
  m->options_ = std::move(options);
  m->thread_ = std::thread([raw = m.get()] { raw->Loop(); });
  return m;
}

LocalEmbeddingModel::~LocalEmbeddingModel() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int LocalEmbeddingModel::TokenCount(std::string_view text) const {
  auto ids = embedder_->tokenizer().Encode(text, /*add_special=*/false, /*parse_special=*/true);
  // Text the tokenizer rejects is rejected again when embedded; count it as too long.
  if (!ids.ok()) return std::numeric_limits<int>::max() / 2;
  return static_cast<int>(ids->size()) + 2;
}

Status LocalEmbeddingModel::CountTokens(Job& job) const {
  const auto& tok = embedder_->tokenizer();
  job.tokens = 0;
  for (size_t i = 0; i < job.texts.size(); ++i) {
    auto ids = tok.Encode(job.texts[i], /*add_special=*/false, /*parse_special=*/true);
    if (!ids.ok())
      return InvalidArgument("input[" + std::to_string(i) + "]: " + ids.status().message());
    const int64_t n = static_cast<int64_t>(ids->size()) + 2;
    if (n > embedder_->max_seq_length()) {
      return InvalidArgument("input[" + std::to_string(i) + "] is " + std::to_string(n) +
                             " tokens; the local embedding model takes at most " +
                             std::to_string(embedder_->max_seq_length()) +
                             ": split the text into smaller pieces");
    }
    job.tokens += n;
  }
  return OkStatus();
}

void LocalEmbeddingModel::Loop() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> batch;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        for (auto& j : queue_) {
          j->box->Push({Status(StatusCode::kUnavailable, "the local model is shutting down"), {}});
        }
        queue_.clear();
        return;
      }
      size_t texts = 0;
      while (!queue_.empty() &&
             (batch.empty() || texts + queue_.front()->texts.size() <=
                                   static_cast<size_t>(options_.max_batch_texts))) {
        texts += queue_.front()->texts.size();
        queued_texts_ -= queue_.front()->texts.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<std::string> all;
    std::vector<std::shared_ptr<Job>> live;
    for (auto& j : batch) {
      if (j->cancel->cancelled()) {
        j->box->Push({j->cancel->reason(), {}});
        continue;
      }
      // Count tokens (usage) and refuse what the encoder would have to truncate.
      if (Status s = CountTokens(*j); !s.ok()) {
        j->box->Push({s, {}});
        continue;
      }
      all.insert(all.end(), j->texts.begin(), j->texts.end());  // kept for a re-run alone
      live.push_back(std::move(j));
    }
    if (live.empty()) continue;
    auto vectors = embedder_->Embed(all);
    if (!vectors.ok() && live.size() > 1) {
      // One request's text failed the merged run: run each alone so the others succeed
      // and the error names an index of the request it belongs to.
      for (auto& j : live) {
        auto own = embedder_->Embed(j->texts);
        j->box->Push(own.ok() ? EmbedOutcome{OkStatus(), std::move(*own), j->tokens}
                              : EmbedOutcome{own.status(), {}});
      }
      continue;
    }
    size_t next = 0;
    for (auto& j : live) {
      if (!vectors.ok()) {
        j->box->Push({vectors.status(), {}});
        continue;
      }
      std::vector<std::vector<float>> mine;
      for (size_t i = 0; i < j->texts.size(); ++i) mine.push_back(std::move((*vectors)[next++]));
      j->box->Push({OkStatus(), std::move(mine), j->tokens});
    }
  }
}

Awaitable<Result<EmbeddingResponse>> LocalEmbeddingModel::Embed(const RequestContext& ctx,
                                                                const EmbeddingRequest& request) {
  std::vector<std::string> texts;
  auto add = [&](const Json& v, const std::string& where) -> Status {
    if (!v.is_string()) {
      return InvalidArgument(where + ": the local embedding model takes text (a string or an " +
                             "array of strings), not token ids");
    }
    texts.push_back(v.get<std::string>());
    return OkStatus();
  };
  if (request.input.is_array()) {
    if (request.input.empty()) co_return InvalidArgument("input: must not be empty");
    for (size_t i = 0; i < request.input.size(); ++i) {
      if (Status s = add(request.input[i], "input[" + std::to_string(i) + "]"); !s.ok())
        co_return s;
    }
  } else if (Status s = add(request.input, "input"); !s.ok()) {
    co_return s;
  }
  if (request.dimensions && *request.dimensions != embedder_->dim()) {
    co_return InvalidArgument("dimensions: the local embedding model gives " +
                              std::to_string(embedder_->dim()) + "-dimensional vectors");
  }
  auto box = std::make_shared<Mailbox<EmbedOutcome>>(co_await asio::this_coro::executor);
  auto job = std::make_shared<Job>();
  job->texts = std::move(texts);
  job->box = box;
  job->cancel = ctx.cancel;
  {
    std::lock_guard lock(mu_);
    if (stopping_) co_return Status(StatusCode::kUnavailable, "the local model is shutting down");
    if (queued_texts_ + job->texts.size() > static_cast<size_t>(options_.max_queue) &&
        queued_texts_ > 0) {
      co_return Status(StatusCode::kResourceExhausted,
                       "the local embedding model is busy: " + std::to_string(queued_texts_) +
                           " texts are already waiting; retry shortly")
          .set_retry_after_s(1);
    }
    queued_texts_ += job->texts.size();
    queue_.push_back(job);
  }
  wake_.notify_all();
  auto reg = ctx.cancel->OnCancel([weak = std::weak_ptr(box)] {
    if (auto b = weak.lock()) b->Poke();
  });
  auto result = co_await box->Pop(ctx);
  if (!result.ok()) co_return result.status();
  if (!result->status.ok()) co_return result->status;
  EmbeddingResponse resp;
  resp.model = request.model;
  resp.data = std::move(result->vectors);
  resp.usage.prompt_tokens = result->tokens;
  resp.usage.total_tokens = result->tokens;
  co_return resp;
}

}  // namespace gantry::providers
