#include "engine/scheduler.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "engine/stream_decoder.h"

namespace gantry::engine {

Status SchedulerOptions::Validate() const {
  if (threads < 1 || threads > 1024) return InvalidArgument("threads must be in 1..1024");
  if (max_sequences < 1 || max_sequences > 4096) {
    return InvalidArgument("max_sequences must be in 1..4096");
  }
  if (max_batch_tokens < max_sequences || max_batch_tokens > (1 << 16)) {
    return InvalidArgument("max_batch_tokens must be in max_sequences (" +
                           std::to_string(max_sequences) + ")..65536");
  }
  if (max_queue < 1 || max_queue > 1'000'000) return InvalidArgument("max_queue must be in 1..1e6");
  if (context_length < 2) return InvalidArgument("context_length must be at least 2");
  return OkStatus();
}

struct GenerationScheduler::Sequence {
  GenerationRequest request;
  GenerationSink sink;
  std::shared_ptr<GenerationHandle> handle;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<Gemma3State> state;
  std::unique_ptr<StreamDecoder> decoder;
  int positions = 0;     // reserved KV positions
  size_t reserved = 0;   // reserved KV bytes
  size_t prefilled = 0;  // prompt tokens already run
  int completion = 0;    // tokens sampled (end-of-turn excluded)
  int32_t last = -1;     // the token to feed next when decoding
  std::vector<float> logits;
  bool done = false;
};

void GenerationHandle::Cancel() {
  if (cancelled_.exchange(true, std::memory_order_acq_rel)) return;
  {
    std::lock_guard lock(signal_->mu);
    signal_->poked = true;
  }
  signal_->cv.notify_all();
}

GenerationScheduler::GenerationScheduler(std::shared_ptr<const Gemma3Model> model,
                                         std::shared_ptr<const Tokenizer> tokenizer,
                                         SchedulerOptions options)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      options_(options),
      context_length_(std::min(options.context_length, model_->hparams().n_ctx_train)),
      workers_(std::make_unique<Workers>(options.threads)),
      signal_(std::make_shared<SchedulerSignal>()),
      mu_(signal_->mu),
      wake_(signal_->cv) {}

Result<std::shared_ptr<GenerationScheduler>> GenerationScheduler::Create(
    std::shared_ptr<const Gemma3Model> model, std::shared_ptr<const Tokenizer> tokenizer,
    SchedulerOptions options) {
  RETURN_IF_ERROR(options.Validate());
  if (tokenizer->vocab_size() > model->hparams().n_vocab) {
    return InvalidArgument("the tokenizer has more tokens (" +
                           std::to_string(tokenizer->vocab_size()) + ") than the model (" +
                           std::to_string(model->hparams().n_vocab) + ")");
  }
  const int ctx = std::min(options.context_length, model->hparams().n_ctx_train);
  const size_t need = static_cast<size_t>(ctx) * model->KvBytesPerToken();
  if (options.kv_cache_bytes < need) {
    return InvalidArgument("kv cache of " + std::to_string(options.kv_cache_bytes >> 20) +
                           " MiB cannot hold one sequence of context_length " +
                           std::to_string(ctx) + " (needs " + std::to_string((need >> 20) + 1) +
                           " MiB): raise the cache size or lower context_length");
  }
  std::shared_ptr<GenerationScheduler> s(
      new GenerationScheduler(std::move(model), std::move(tokenizer), options));
  s->thread_ = std::thread([raw = s.get()] { raw->Loop(); });
  return s;
}

GenerationScheduler::~GenerationScheduler() { Shutdown(); }

void GenerationScheduler::Shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.get_id() == std::this_thread::get_id()) {
    std::fprintf(stderr, "GenerationScheduler::Shutdown called from its own thread (a sink)\n");
    std::abort();  // a programmer error: joining would deadlock, detaching would use freed state
  }
  std::call_once(joined_, [this] {
    if (thread_.joinable()) thread_.join();
  });
}

GenerationScheduler::Stats GenerationScheduler::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.queued = static_cast<int>(queue_.size());
  return s;
}

Result<std::shared_ptr<GenerationHandle>> GenerationScheduler::Submit(GenerationRequest request,
                                                                      GenerationSink sink) {
  if (request.prompt.empty()) return InvalidArgument("the prompt is empty");
  const int prompt = static_cast<int>(std::min<size_t>(request.prompt.size(), INT32_MAX));
  if (prompt >= context_length_) {
    return InvalidArgument("the prompt is " + std::to_string(prompt) +
                           " tokens; the model's context is " + std::to_string(context_length_) +
                           " tokens, leaving no room for a reply: shorten the messages");
  }
  for (int32_t t : request.prompt) {
    if (t < 0 || t >= model_->hparams().n_vocab) {
      return InvalidArgument("prompt token id " + std::to_string(t) + " is outside the vocabulary");
    }
  }
  ASSIGN_OR_RETURN(auto sampler, Sampler::Create(request.sampling));
  auto seq = std::make_unique<Sequence>();
  seq->sampler = std::move(sampler);
  seq->decoder = std::make_unique<StreamDecoder>(request.stop);
  const int room = context_length_ - prompt;
  if (request.max_tokens <= 0 || request.max_tokens > room) request.max_tokens = room;
  seq->positions = prompt + request.max_tokens;
  seq->reserved = static_cast<size_t>(seq->positions) * model_->KvBytesPerToken();
  seq->request = std::move(request);
  seq->sink = std::move(sink);
  seq->handle = std::make_shared<GenerationHandle>();
  seq->handle->signal_ = signal_;
  auto handle = seq->handle;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status(StatusCode::kUnavailable, "the local model is shutting down");
    if (static_cast<int>(queue_.size()) >= options_.max_queue) {
      return Status(StatusCode::kResourceExhausted,
                    "the local model is busy: " + std::to_string(queue_.size()) +
                        " requests are already waiting (max_queue); retry shortly")
          .set_retry_after_s(1);
    }
    queue_.push_back(std::move(seq));
  }
  wake_.notify_all();
  return handle;
}

void GenerationScheduler::Finish(Sequence& seq, GenerationUpdate update) {
  seq.done = true;
  update.done = true;
  update.prompt_tokens = static_cast<int>(seq.request.prompt.size());
  update.completion_tokens = seq.completion;
  seq.sink(std::move(update));
}

void GenerationScheduler::Admit(std::vector<std::unique_ptr<Sequence>>& running,
                                std::vector<std::unique_ptr<Sequence>>& finished) {
  std::lock_guard lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end();) {
    if ((*it)->handle->cancelled()) {
      finished.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  size_t reserved = 0;
  for (const auto& s : running) reserved += s->reserved;
  // FIFO: the head waits until it fits, so a large request is never starved.
  while (!queue_.empty() && static_cast<int>(running.size()) < options_.max_sequences &&
         reserved + queue_.front()->reserved <= options_.kv_cache_bytes) {
    auto seq = std::move(queue_.front());
    queue_.pop_front();
    seq->state = model_->NewState(seq->positions);
    reserved += seq->reserved;
    running.push_back(std::move(seq));
  }
  stats_.running = static_cast<int>(running.size());
  stats_.kv_reserved_bytes = reserved;
}

void GenerationScheduler::Loop() {
  std::vector<std::unique_ptr<Sequence>> running;
  std::vector<std::unique_ptr<Sequence>> finished;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(
          lock, [&] { return stopping_ || signal_->poked || !running.empty() || !queue_.empty(); });
      signal_->poked = false;
      if (stopping_) {
        for (auto& s : queue_) running.push_back(std::move(s));
        queue_.clear();
        stats_.running = 0;
        stats_.kv_reserved_bytes = 0;
        lock.unlock();
        for (auto& s : running) {
          GenerationUpdate u;
          u.status = Status(StatusCode::kUnavailable, "the local model is shutting down");
          Finish(*s, std::move(u));
        }
        return;
      }
    }
    Admit(running, finished);
    for (auto& s : running) {
      if (s->handle->cancelled()) finished.push_back(std::move(s));
    }
    std::erase(running, nullptr);
    for (auto& s : finished) {
      GenerationUpdate u;
      u.status = Status(StatusCode::kCancelled, "generation cancelled");
      Finish(*s, std::move(u));
    }
    finished.clear();
    if (!running.empty()) {
      Step(running);
      std::erase_if(running, [](const std::unique_ptr<Sequence>& s) { return s->done; });
    }
    size_t allocated = 0;
    size_t reserved = 0;
    for (const auto& s : running) {
      allocated += s->state->kv_bytes();
      reserved += s->reserved;
    }
    std::lock_guard lock(mu_);
    stats_.running = static_cast<int>(running.size());
    stats_.kv_reserved_bytes = reserved;
    stats_.kv_allocated_bytes = allocated;
  }
}

void GenerationScheduler::Step(std::vector<std::unique_ptr<Sequence>>& running) {
  const int n_vocab = model_->hparams().n_vocab;
  std::vector<Gemma3BatchItem> items;
  std::vector<Sequence*> owners;
  int budget = options_.max_batch_tokens;
  // Decode tokens first: one per generating sequence.
  for (auto& s : running) {
    if (s->prefilled < s->request.prompt.size() || budget == 0) continue;
    s->logits.resize(n_vocab);
    items.push_back({s->state.get(), std::span<const int32_t>(&s->last, 1), s->logits});
    owners.push_back(s.get());
    --budget;
  }
  // Then prompt chunks, oldest request first.
  for (auto& s : running) {
    const size_t left = s->request.prompt.size() - s->prefilled;
    if (left == 0 || budget == 0) continue;
    const size_t n = std::min<size_t>(left, static_cast<size_t>(budget));
    const bool last_chunk = n == left;
    if (last_chunk) s->logits.resize(n_vocab);
    items.push_back({s->state.get(),
                     std::span<const int32_t>(s->request.prompt).subspan(s->prefilled, n),
                     last_chunk ? std::span<float>(s->logits) : std::span<float>()});
    owners.push_back(s.get());
    budget -= static_cast<int>(n);
  }
  if (items.empty()) return;
  const Status st = model_->ForwardBatch(items, scratch_, *workers_);
  {
    std::lock_guard lock(mu_);
    ++stats_.steps;
    stats_.batch_tokens += static_cast<uint64_t>(options_.max_batch_tokens - budget);
    stats_.max_running_seen = std::max(stats_.max_running_seen, static_cast<int>(items.size()));
  }
  if (!st.ok()) {
    for (Sequence* s : owners) {
      GenerationUpdate u;
      u.status = Status(StatusCode::kInternal, "local model forward pass failed: " + st.message());
      Finish(*s, std::move(u));
    }
    return;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    Sequence& s = *owners[i];
    const bool was_prefill = s.prefilled < s.request.prompt.size();
    if (was_prefill) s.prefilled += items[i].tokens.size();
    if (items[i].logits.empty()) continue;
    const SampleResult r = s.sampler->Sample(s.logits);
    GenerationUpdate u;
    if (tokenizer_->IsEndOfGeneration(r.token)) {
      u.text = s.decoder->Finish();
      u.finish_reason = "stop";
      Finish(s, std::move(u));
      continue;
    }
    s.sampler->Accept(r.token);
    ++s.completion;
    s.last = r.token;
    GeneratedToken tok;
    tok.id = r.token;
    tok.bytes = tokenizer_->TokenToPiece(r.token, /*render_special=*/false);
    if (s.request.sampling.logprobs) {
      tok.logprob = r.logprob;
      tok.top = r.top;
    }
    StreamDecoder::Step step = s.decoder->Push(tok.bytes);
    u.text = std::move(step.text);
    u.tokens.push_back(std::move(tok));
    if (step.stopped) {
      u.finish_reason = "stop";
      Finish(s, std::move(u));
    } else if (s.completion >= s.request.max_tokens) {
      u.text += s.decoder->Finish();
      u.finish_reason = "length";
      Finish(s, std::move(u));
    } else {
      u.prompt_tokens = static_cast<int>(s.request.prompt.size());
      u.completion_tokens = s.completion;
      s.sink(std::move(u));
    }
  }
}

}  // namespace gantry::engine
