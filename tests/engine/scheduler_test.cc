// GenerationScheduler on a tiny random-weight model: continuous batching gives the same
// tokens as running alone, the queue and KV budget bounds hold, and every generation
// ends exactly once (stop, length, cancel, shutdown).
#include "engine/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "engine/tiny_gemma.h"

namespace gantry::engine {
namespace {

using ::testing::HasSubstr;

// Collects one generation's updates; Wait() blocks until the final one.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int32_t> tokens;
  std::string text;
  int updates = 0;
  int finals = 0;
  GenerationUpdate last;
  // With hold set, the sink blocks (holding the scheduler thread) until Release(): tests
  // use it to freeze the scheduler at a known point instead of racing it.
  bool hold = false;

  GenerationSink Sink() {
    return [this](GenerationUpdate&& u) {
      std::unique_lock lock(mu);
      ++updates;
      for (const auto& t : u.tokens) tokens.push_back(t.id);
      text += u.text;
      if (u.done) ++finals;
      last = std::move(u);
      cv.notify_all();
      cv.wait(lock, [&] { return !hold; });
    };
  }
  void Release() {
    std::lock_guard lock(mu);
    hold = false;
    cv.notify_all();
  }
  void WaitForUpdates(int n) {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return updates >= n; }));
  }
  GenerationUpdate Wait() {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return finals > 0; }))
        << "generation did not finish";
    return last;
  }
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tiny_ = testing::TinyRandomGemma::Build();
    ASSERT_TRUE(tiny_.model && tiny_.tokenizer);
  }
  std::shared_ptr<GenerationScheduler> Make(SchedulerOptions o) {
    auto s = GenerationScheduler::Create(tiny_.model, tiny_.tokenizer, o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : nullptr;
  }
  static GenerationRequest Greedy(std::vector<int32_t> prompt, int max_tokens) {
    GenerationRequest r;
    r.prompt = std::move(prompt);
    r.sampling.temperature = 0;
    r.sampling.repetition_penalty = 1.3f;  // keeps the tiny model from looping on one token
    r.max_tokens = max_tokens;
    return r;
  }
  // Greedy with negative penalties: the model keeps choosing tokens it already produced,
  // so it never reaches an end-of-turn token and runs to max_tokens.
  static GenerationRequest Endless(std::vector<int32_t> prompt, int max_tokens) {
    GenerationRequest r = Greedy(std::move(prompt), max_tokens);
    r.sampling.repetition_penalty = 1.0f;
    r.sampling.frequency_penalty = -2.0f;
    r.sampling.presence_penalty = -2.0f;
    return r;
  }
  // Waits until `pred(stats)` holds (the scheduler runs on its own thread).
  static void WaitFor(const GenerationScheduler& s,
                      const std::function<bool(const GenerationScheduler::Stats&)>& pred) {
    for (int i = 0; i < 6000 && !pred(s.stats()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(pred(s.stats()));
  }
  // Prompts that avoid the end-of-turn ids so generations run to max_tokens.
  static std::vector<int32_t> Prompt(int i) {
    std::vector<int32_t> p = {2};
    for (int k = 0; k < 3 + 2 * i; ++k) p.push_back(6 + (i * 7 + k * 3) % 26);
    return p;
  }

  testing::TinyRandomGemma tiny_;
};

TEST_F(SchedulerTest, ConcurrentGenerationsMatchRunningAlone) {
  SchedulerOptions o;
  o.threads = 2;
  o.max_sequences = 4;
  o.max_batch_tokens = 8;  // forces prompts to be split into chunks
  o.context_length = 128;
  auto sched = Make(o);
  ASSERT_TRUE(sched);
  constexpr int kN = 6;
  // Alone, one after the other.
  std::vector<std::vector<int32_t>> alone(kN);
  for (int i = 0; i < kN; ++i) {
    Collector c;
    ASSERT_TRUE(sched->Submit(Greedy(Prompt(i), 12), c.Sink()).ok());
    const GenerationUpdate last = c.Wait();
    ASSERT_TRUE(last.status.ok()) << last.status.ToString();
    alone[i] = c.tokens;
  }
  const uint64_t steps_alone = sched->stats().steps;
  ASSERT_NE(alone[0], alone[1]) << "the tiny model should not ignore its prompt";
  // Together.
  std::vector<Collector> together(kN);
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(sched->Submit(Greedy(Prompt(i), 12), together[i].Sink()).ok());
  }
  for (int i = 0; i < kN; ++i) {
    const GenerationUpdate last = together[i].Wait();
    ASSERT_TRUE(last.status.ok()) << last.status.ToString();
    EXPECT_EQ(together[i].tokens, alone[i]) << "generation " << i;
    EXPECT_EQ(together[i].finals, 1);
  }
  const auto st = sched->stats();
  EXPECT_GT(st.max_running_seen, 1) << "requests were not batched";
  EXPECT_LE(st.max_running_seen, o.max_sequences + 0);
  EXPECT_LT(st.steps - steps_alone, steps_alone) << "batching should need fewer passes";
}

TEST_F(SchedulerTest, FinishReasonsUsageAndText) {
  auto sched = Make({});
  ASSERT_TRUE(sched);
  Collector c;
  ASSERT_TRUE(sched->Submit(Endless(Prompt(1), 5), c.Sink()).ok());
  GenerationUpdate last = c.Wait();
  ASSERT_TRUE(last.status.ok());
  ASSERT_EQ(last.finish_reason, "length");
  EXPECT_EQ(last.completion_tokens, 5);
  EXPECT_EQ(c.tokens.size(), 5u);
  EXPECT_EQ(last.prompt_tokens, static_cast<int>(Prompt(1).size()));
  // The text is the decoded tokens.
  auto decoded = tiny_.tokenizer->Decode(c.tokens, false);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(c.text, *decoded);

  // A stop sequence made of the first two generated characters ends at once, unsent.
  ASSERT_GE(c.text.size(), 2u);
  Collector s;
  GenerationRequest r = Endless(Prompt(1), 5);
  r.stop = {c.text.substr(0, 2)};
  ASSERT_TRUE(sched->Submit(r, s.Sink()).ok());
  last = s.Wait();
  EXPECT_EQ(last.finish_reason, "stop");
  EXPECT_EQ(s.text, "");
}

TEST_F(SchedulerTest, SameSeedSameTokens) {
  auto sched = Make({});
  ASSERT_TRUE(sched);
  auto run = [&](uint64_t seed) {
    GenerationRequest r;
    r.prompt = Prompt(2);
    r.sampling.temperature = 1.5f;
    r.sampling.seed = seed;
    r.max_tokens = 16;
    Collector c;
    EXPECT_TRUE(sched->Submit(r, c.Sink()).ok());
    c.Wait();
    return c.tokens;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST_F(SchedulerTest, FullQueueIsRejectedWithRetryAfter) {
  SchedulerOptions o;
  o.max_sequences = 1;
  o.max_batch_tokens = 1;
  o.max_queue = 1;
  o.context_length = 512;
  auto sched = Make(o);
  ASSERT_TRUE(sched);
  Collector a, b;
  a.hold = true;  // a's first update freezes the scheduler thread: a is running
  auto ha = sched->Submit(Endless(Prompt(0), 400), a.Sink());
  ASSERT_TRUE(ha.ok());
  a.WaitForUpdates(1);
  auto hb = sched->Submit(Endless(Prompt(1), 400), b.Sink());
  ASSERT_TRUE(hb.ok());  // waits in the queue: the scheduler is frozen
  Collector c;
  auto hc = sched->Submit(Greedy(Prompt(2), 4), c.Sink());
  ASSERT_FALSE(hc.ok());
  EXPECT_EQ(hc.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(hc.status().retry_after_s(), 1);
  EXPECT_THAT(hc.status().message(), HasSubstr("busy"));
  // Cancelling frees the slots: a queued request is dropped, a running one stops.
  (*hb)->Cancel();
  (*ha)->Cancel();
  a.Release();
  EXPECT_EQ(a.Wait().status.code(), StatusCode::kCancelled);
  EXPECT_EQ(b.Wait().status.code(), StatusCode::kCancelled);
  EXPECT_LT(a.tokens.size(), 400u);
  EXPECT_TRUE(b.tokens.empty());
  Collector d;
  ASSERT_TRUE(sched->Submit(Greedy(Prompt(2), 3), d.Sink()).ok());
  EXPECT_TRUE(d.Wait().status.ok());
  EXPECT_EQ(a.finals + b.finals + d.finals, 3);
}

TEST_F(SchedulerTest, KvBudgetBoundsRunningSequences) {
  SchedulerOptions o;
  o.max_sequences = 8;
  o.context_length = 64;
  // Room for exactly two full-context sequences.
  o.kv_cache_bytes = 2 * 64 * tiny_.model->KvBytesPerToken();
  auto sched = Make(o);
  ASSERT_TRUE(sched);
  std::vector<Collector> cs(5);
  for (int i = 0; i < 5; ++i) {
    GenerationRequest r = Endless(Prompt(i), 0);  // 0: until the context is full
    ASSERT_TRUE(sched->Submit(r, cs[i].Sink()).ok());
  }
  for (int i = 0; i < 5; ++i) {
    const auto last = cs[i].Wait();
    ASSERT_TRUE(last.status.ok());
    ASSERT_EQ(last.finish_reason, "length");
    EXPECT_EQ(last.prompt_tokens + last.completion_tokens, 64) << "fills the context";
  }
  // The stats are updated after the step whose sinks reported the last finish.
  WaitFor(*sched, [](const auto& s) { return s.running == 0 && s.kv_reserved_bytes == 0; });
  EXPECT_LE(sched->stats().max_running_seen, 2);
}

TEST_F(SchedulerTest, BadRequestsAndOptions) {
  SchedulerOptions o;
  o.context_length = 16;
  auto sched = Make(o);
  ASSERT_TRUE(sched);
  Collector c;
  auto r = sched->Submit(Greedy({}, 4), c.Sink());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = sched->Submit(Greedy(std::vector<int32_t>(16, 7), 4), c.Sink());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("context is 16 tokens"));
  r = sched->Submit(Greedy({2, 500}, 4), c.Sink());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  GenerationRequest bad = Greedy(Prompt(0), 4);
  bad.sampling.temperature = -1;
  EXPECT_EQ(sched->Submit(bad, c.Sink()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.updates, 0);

  SchedulerOptions tiny_cache;
  tiny_cache.context_length = 64;
  tiny_cache.kv_cache_bytes = 10;
  auto s2 = GenerationScheduler::Create(tiny_.model, tiny_.tokenizer, tiny_cache);
  EXPECT_EQ(s2.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s2.status().message(), HasSubstr("cannot hold one sequence"));
  SchedulerOptions zero;
  zero.threads = 0;
  EXPECT_FALSE(GenerationScheduler::Create(tiny_.model, tiny_.tokenizer, zero).ok());
}

TEST_F(SchedulerTest, ShutdownFailsPendingGenerations) {
  SchedulerOptions o;
  o.max_sequences = 1;
  o.max_batch_tokens = 1;
  o.context_length = 512;
  auto sched = Make(o);
  ASSERT_TRUE(sched);
  Collector a, b;
  ASSERT_TRUE(sched->Submit(Greedy(Prompt(0), 500), a.Sink()).ok());
  ASSERT_TRUE(sched->Submit(Greedy(Prompt(1), 500), b.Sink()).ok());
  sched->Shutdown();
  EXPECT_EQ(a.Wait().status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(b.Wait().status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(a.finals, 1);
  EXPECT_EQ(b.finals, 1);
  Collector c;
  EXPECT_EQ(sched->Submit(Greedy(Prompt(0), 4), c.Sink()).status().code(),
            StatusCode::kUnavailable);
}

}  // namespace
}  // namespace gantry::engine
