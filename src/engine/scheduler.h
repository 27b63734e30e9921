// GenerationScheduler: runs many generations on one Gemma3Model at once, with
// continuous batching.
//
// One scheduler thread owns the model's compute (a Workers team of `threads`). Each
// step it builds one batch out of every running sequence: one decode token per
// sequence that is generating, plus chunks of the prompts of sequences still being
// prefilled, up to max_batch_tokens tokens in all (decode tokens first, so a long
// prompt arriving never stalls the streams already running). The batch runs as one
// Gemma3Model::ForwardBatch; then each sequence that produced logits samples its next
// token, and finished sequences leave at once, so a new request joins at the next
// step instead of waiting for a whole batch to finish.
//
// Admission and memory. A request reserves KV cache for min(prompt + max_tokens,
// context_length) positions when it starts running; the sum of reservations never
// exceeds kv_cache_bytes, and at most max_sequences run at once. Requests that cannot
// start wait in a FIFO queue of at most max_queue entries; beyond that Submit fails
// with kResourceExhausted (retry_after 1 s), which the server maps to 429. After
// Shutdown() (and while the scheduler is stopping) Submit fails with kUnavailable
// (503). Since kv_cache_bytes must hold at least one full context_length sequence
// (checked at Create), every valid request can eventually run.
//
// Output. Each generation reports to its sink, on the scheduler thread, one Update per
// sampled token (with the text that became safe to emit: stop sequences and
// incomplete UTF-8 are held back, see StreamDecoder), and a final Update with
// done = true and either finish_reason "stop" (end-of-turn token or stop sequence) or
// "length" (max_tokens or the context is full), or an error status (kCancelled when
// the handle was cancelled, kUnavailable at shutdown). A sink must not block; it must
// not call back into the scheduler except GenerationHandle::Cancel.
//
// Thread safety: Submit, Cancel, stats and Shutdown may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "engine/gemma3.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"

namespace gantry::engine {

struct SchedulerOptions {
  int threads = 1;                     // compute threads (the Workers team)
  int max_sequences = 8;               // sequences decoded together
  int max_batch_tokens = 256;          // tokens per forward pass (decode + prompt chunks)
  int max_queue = 64;                  // requests waiting to start; more get kResourceExhausted
  int context_length = 8192;           // positions per sequence (capped by the model's)
  size_t kv_cache_bytes = 1ull << 30;  // KV cache of all running sequences together

  Status Validate() const;
};

struct GeneratedToken {
  int32_t id = 0;
  std::string bytes;  // the token's text as bytes (may be part of a UTF-8 character)
  float logprob = 0;  // when sampling.logprobs
  std::vector<TokenLogprob> top;
};

struct GenerationUpdate {
  std::string text;                    // newly emitted text (may be empty)
  std::vector<GeneratedToken> tokens;  // the token sampled this step (none in a final
                                       // update that only closes the generation)
  bool done = false;
  std::string finish_reason;  // "stop" | "length" when done and status is OK
  Status status;              // not OK: the generation failed (done is true)
  int prompt_tokens = 0;
  int completion_tokens = 0;  // sampled so far, the end-of-turn token not included
};

using GenerationSink = std::function<void(GenerationUpdate&&)>;

struct GenerationRequest {
  std::vector<int32_t> prompt;  // token ids, <bos> included; not empty
  SamplingParams sampling;
  int max_tokens = 0;  // <= 0: until the context is full
  std::vector<std::string> stop;
};

class GenerationScheduler;

// How a handle wakes the scheduler thread without owning the scheduler: the scheduler
// waits on this mutex and condition variable.
struct SchedulerSignal {
  std::mutex mu;
  std::condition_variable cv;
  bool poked = false;  // GUARDED_BY(mu): a cancel happened
};

// Returned by Submit; cancelling ends the generation at the next step (the sink then
// gets a final update with kCancelled, unless it already finished). A handle may outlive
// its scheduler (Cancel then does nothing useful, harmlessly).
class GenerationHandle {
 public:
  void Cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  friend class GenerationScheduler;
  std::atomic<bool> cancelled_{false};
  std::shared_ptr<SchedulerSignal> signal_;
};

class GenerationScheduler final {
 public:
  // Starts the scheduler thread. kInvalidArgument for bad options, or when
  // kv_cache_bytes cannot hold one context_length sequence.
  static Result<std::shared_ptr<GenerationScheduler>> Create(
      std::shared_ptr<const Gemma3Model> model, std::shared_ptr<const Tokenizer> tokenizer,
      SchedulerOptions options);
  ~GenerationScheduler();

  // Queues a generation. kInvalidArgument for an empty prompt, a prompt that leaves no
  // room to generate within context_length, or bad sampling parameters;
  // kResourceExhausted when the queue is full; kUnavailable after Shutdown.
  Result<std::shared_ptr<GenerationHandle>> Submit(GenerationRequest request, GenerationSink sink);

  // Fails every queued and running generation with kUnavailable and stops the thread.
  // Idempotent and safe to call from several threads at once; the destructor calls it.
  // REQUIRES: not called from a sink (the scheduler thread cannot join itself); the
  // scheduler must not be destroyed there either (a sink must not own it).
  void Shutdown();

  struct Stats {
    int queued = 0;
    int running = 0;
    size_t kv_reserved_bytes = 0;
    size_t kv_allocated_bytes = 0;
    uint64_t steps = 0;         // forward passes run
    uint64_t batch_tokens = 0;  // tokens run over all passes
    int max_running_seen = 0;   // the most sequences ever in one step
  };
  Stats stats() const;
  const SchedulerOptions& options() const { return options_; }
  int effective_context_length() const { return context_length_; }

 private:
  struct Sequence;
  GenerationScheduler(std::shared_ptr<const Gemma3Model> model,
                      std::shared_ptr<const Tokenizer> tokenizer, SchedulerOptions options);
  void Loop();
  // Moves queued requests into `running` while they fit; drops cancelled ones.
  void Admit(std::vector<std::unique_ptr<Sequence>>& running,
             std::vector<std::unique_ptr<Sequence>>& finished);
  void Step(std::vector<std::unique_ptr<Sequence>>& running);
  void Finish(Sequence& seq, GenerationUpdate update);

  const std::shared_ptr<const Gemma3Model> model_;
  const std::shared_ptr<const Tokenizer> tokenizer_;
  const SchedulerOptions options_;
  const int context_length_;
  std::unique_ptr<Workers> workers_;
  Gemma3Scratch scratch_;  // scheduler thread only

  // Shared with the handles so they can wake the loop; mu_ and wake_ are its members.
  const std::shared_ptr<SchedulerSignal> signal_;
  std::mutex& mu_;
  std::condition_variable& wake_;
  bool stopping_ = false;                        // GUARDED_BY(mu_)
  std::deque<std::unique_ptr<Sequence>> queue_;  // GUARDED_BY(mu_)
  Stats stats_;                                  // GUARDED_BY(mu_)
  std::thread thread_;
  std::once_flag joined_;
};

}  // namespace gantry::engine
