// Local models: the engine's Gemma 3 generator and MiniLM embedder behind the
// ChatModel / EmbeddingModel interfaces, so the gateway serves them like any provider.
//
// LocalChatModel turns an OpenAI chat request into a prompt (on a helper thread) (the Gemma chat
// template, message contents tokenized as plain text so they cannot forge turn markers), submits it
// to a GenerationScheduler (continuous batching; see engine/scheduler.h) and turns the scheduler's
// updates into a ChatResponse or a stream of chunks on the caller's executor. The compute runs on
// the scheduler's own threads, never on I/O threads.
//   - Sampling: temperature (default 1, as OpenAI), top_p, presence_penalty,
//     frequency_penalty (over the generated tokens), seed, stop, max_tokens (default:
//     until the context is full), logprobs/top_logprobs; extensions read from the body
//     as llama.cpp's server and vLLM name them: top_k, min_p, repetition_penalty.
//   - Not supported (kInvalidArgument naming the field): n > 1, tools, response_format
//     other than text, tool messages, non-text content parts.
//   - A full queue gives kResourceExhausted (HTTP 429, Retry-After); the client
//     disconnecting or the deadline passing cancels the generation at the next step.
//
// LocalEmbeddingModel runs a BertEmbedder on its own thread. Requests arriving while a
// batch is running are embedded together in the next one (up to max_batch_texts
// texts). Inputs are strings; an input longer than the model's max_seq_length is an
// error naming its index (kInvalidArgument), not silently truncated.
//
// Thread safety: thread-safe. Destroy after the io_context whose coroutines use them
// has stopped running them and before that io_context is destroyed (the engine's threads
// post wake-ups to it until the model is gone; the server resets the gateway first).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/thread_pool.h"
#include "engine/bert_embedder.h"
#include "engine/scheduler.h"
#include "engine/spm_tokenizer.h"
#include "providers/chat_model.h"

namespace gantry::providers {

struct LocalChatOptions {
  std::string model_path;  // a GGUF file (gemma3)
  engine::SchedulerOptions scheduler;
};

class LocalChatModel final : public ChatModel {
 public:
  // Loads the model (memory-mapped) and starts the scheduler. kNotFound when the file is
  // missing (the message says to run `gantry models pull`), kUnimplemented /
  // kInvalidArgument for an unsupported or malformed file, kInvalidArgument for bad
  // scheduler options.
  static Result<std::shared_ptr<LocalChatModel>> Create(LocalChatOptions options);
  ~LocalChatModel() override;

  Awaitable<Result<ChatResponse>> Complete(const RequestContext& ctx,
                                           const ChatRequest& request) override;
  Awaitable<Result<ChatStreamPtr>> Stream(const RequestContext& ctx,
                                          const ChatRequest& request) override;

  engine::GenerationScheduler& scheduler() const { return *scheduler_; }
  const engine::SpmTokenizer& tokenizer() const { return *tokenizer_; }

  struct Prepared {
    engine::GenerationRequest generation;
    bool logprobs = false;
  };
  // The prompt and sampling settings for `request`; kInvalidArgument naming what is not
  // supported or out of range. Public for tests.
  Result<Prepared> Prepare(const ChatRequest& request) const;

 private:
  LocalChatModel() = default;

  std::shared_ptr<const engine::Gemma3Model> model_;
  std::shared_ptr<const engine::SpmTokenizer> tokenizer_;
  std::shared_ptr<engine::GenerationScheduler> scheduler_;
  // Renders and tokenizes prompts (Prepare), off the I/O threads. Declared last: it is
  // shut down first, while the tokenizer its tasks use still exists.
  std::unique_ptr<ThreadPool> prep_pool_;
};

struct LocalEmbeddingOptions {
  std::string model_dir;  // sentence-transformers layout (see engine/bert_embedder.h)
  int threads = 1;
  int max_queue = 256;       // texts waiting; more gives kResourceExhausted
  int max_batch_texts = 64;  // texts embedded in one encoder run
};

class LocalEmbeddingModel final : public EmbeddingModel {
 public:
  static Result<std::shared_ptr<LocalEmbeddingModel>> Create(LocalEmbeddingOptions options);
  ~LocalEmbeddingModel() override;

  Awaitable<Result<EmbeddingResponse>> Embed(const RequestContext& ctx,
                                             const EmbeddingRequest& request) override;

  int dim() const { return embedder_->dim(); }
  int max_seq_length() const { return embedder_->max_seq_length(); }
  // Word pieces of `text` as the model reads it ([CLS] and [SEP] included);
  // thread-safe (RAG chunking counts with it).
  int TokenCount(std::string_view text) const;

 private:
  struct Job;
  LocalEmbeddingModel() = default;
  void Loop();
  // Sets job.tokens; kInvalidArgument naming the input that cannot be tokenized or is
  // longer than the model's max_seq_length.
  Status CountTokens(Job& job) const;

  LocalEmbeddingOptions options_;
  std::unique_ptr<engine::BertEmbedder> embedder_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;  // GUARDED_BY(mu_)
  size_t queued_texts_ = 0;                 // GUARDED_BY(mu_)
  bool stopping_ = false;                   // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace gantry::providers
