// LocalChatModel on a tiny random-weight Gemma 3 file (tests/engine/tiny_gemma.h): the
// bridge from the GenerationScheduler's thread to coroutines on a strand (the Mailbox,
// cancel registration, deadlines, stream lifetime) without the downloaded model, so it
// runs under ASan/UBSan.
//
// Timing: the tiny model generates a token in tens of microseconds, far too fast to
// cancel "in the middle" by racing it. Tests that need a generation to stay unfinished
// hold the scheduler thread with a SchedulerGate: a generation submitted straight to
// the model's scheduler whose sink waits for the test's permission, so every other
// generation advances exactly one token per permitted step.
#include "providers/local_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "engine/chat_template.h"
#include "engine/tiny_gemma.h"
#include "fakes/run_sync.h"

namespace gantry::providers {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using engine::testing::TinyRandomGemma;
using ::testing::HasSubstr;

ChatMessage Message(std::string role, Json content) {
  ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

// One user message, greedy.
ChatRequest Greedy(std::string user_text, std::optional<int64_t> max_tokens) {
  ChatRequest r;
  r.model = "tiny";
  r.messages.push_back(Message("user", std::move(user_text)));
  r.max_tokens = max_tokens;
  r.temperature = 0;
  return r;
}

// A greedy request that never picks an end token after its first one: negative
// penalties pull it back to the tokens it already produced, so it runs to max_tokens.
// Logprobs on, so that every generated token makes exactly one chunk.
ChatRequest Endless(int64_t max_tokens) {
  ChatRequest r = Greedy("hello there", max_tokens);
  r.frequency_penalty = -2;
  r.presence_penalty = -2;
  r.logprobs = true;
  return r;
}

// Polls `pred` (the scheduler runs on its own thread) for up to 20 s.
bool Eventually(const std::function<bool()>& pred) {
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Holds the scheduler thread inside the sink of its own generation (greedy, endless,
// until the context is full) until the test lets it go on. The gate is admitted first,
// so in each step its sink runs before the sinks of the generations admitted after it:
// while the gate is held at its k-th update, a generation admitted in the step of the
// gate's update 2 has delivered exactly k - 2 updates and computed one more.
// (A sink must not block the scheduler in production; here that is the point.)
class SchedulerGate {
 public:
  ~SchedulerGate() { Open(); }

  // Submits the gate generation and waits until the scheduler holds at its first update.
  Status Start(engine::GenerationScheduler& scheduler) {
    engine::GenerationRequest r;
    r.prompt = {TinyRandomGemma::kBos, 20, 21, 22};  // its first token is far from an end
    r.sampling.temperature = 0;
    r.sampling.frequency_penalty = -2;
    r.sampling.presence_penalty = -2;
    auto h = scheduler.Submit(std::move(r), [st = state_](engine::GenerationUpdate&& u) {
      std::unique_lock lock(st->mu);
      ++st->updates;
      st->cv.notify_all();
      if (u.done) {
        st->ended = true;
        return;
      }
      // Bounded, so a broken test cannot hang the scheduler for good.
      st->cv.wait_for(lock, 30s, [&] { return st->open || st->permits > 0; });
      if (st->permits > 0) --st->permits;
    });
    if (!h.ok()) return h.status();
    handle_ = *h;
    if (!WaitFor(1)) return InternalError("the gate generation did not hold the scheduler");
    return OkStatus();
  }
  // Lets `n` more steps run; true once the scheduler holds again, n updates later.
  bool Step(int n = 1) {
    int target;
    {
      std::lock_guard lock(state_->mu);
      target = state_->updates + n;
      state_->permits += n;
    }
    state_->cv.notify_all();
    return WaitFor(target);
  }
  // Stops holding, for good. The gate generation runs on until cancelled.
  void Open() {
    {
      std::lock_guard lock(state_->mu);
      state_->open = true;
    }
    state_->cv.notify_all();
  }
  void Cancel() {
    if (handle_) handle_->Cancel();
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    int updates = 0;
    int permits = 0;
    bool open = false;
    bool ended = false;
  };
  bool WaitFor(int updates) {
    std::unique_lock lock(state_->mu);
    state_->cv.wait_for(lock, 20s, [&] { return state_->updates >= updates || state_->ended; });
    return state_->updates >= updates && !state_->ended;
  }

  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::shared_ptr<engine::GenerationHandle> handle_;
};

class LocalChatModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tiny_ = TinyRandomGemma::Build();
    ASSERT_TRUE(tiny_.model && tiny_.tokenizer);
    path_ = tiny_.WriteTempFile();
    ASSERT_FALSE(path_.empty());
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    // The model first: its scheduler thread posts wake-ups to io_ until it has joined.
    model_.reset();
    work_.reset();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove(path_, ec);
  }

  void Load(engine::SchedulerOptions o = {}) {
    LocalChatOptions lo;
    lo.model_path = path_;
    lo.scheduler = o;
    auto m = LocalChatModel::Create(lo);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = *m;
  }
  engine::GenerationScheduler& sched() const { return model_->scheduler(); }

  // Starts `aw` on the strand (as the server runs a connection's coroutines).
  template <typename T>
  std::future<std::optional<T>> Spawn(asio::awaitable<T> aw) {
    return asio::co_spawn(strand_, gantry::testing::WrapOptional(std::move(aw)), asio::use_future);
  }
  template <typename T>
  static T Get(std::future<std::optional<T>>& fut) {
    if (fut.wait_for(20s) != std::future_status::ready) {
      std::fprintf(stderr, "coroutine did not finish within 20 s\n");
      std::abort();
    }
    return std::move(*fut.get());
  }
  // Runs `aw` on the strand to completion.
  template <typename T>
  T Run(asio::awaitable<T> aw) {
    auto fut = Spawn(std::move(aw));
    return Get(fut);
  }
  // Returns once everything posted to the strand so far has run: a coroutine started
  // before has then suspended (or finished).
  void Settle() {
    Run([]() -> Awaitable<bool> { co_return true; }());
  }

  Result<std::optional<ChatChunk>> Next(ChatStream& s) { return Run(s.Next()); }
  Result<ChatStreamPtr> OpenStream(const RequestContext& ctx, const ChatRequest& r) {
    return Run(model_->Stream(ctx, r));
  }
  // Streams are destroyed on the executor that created them.
  void Destroy(ChatStreamPtr& s) {
    Run([](ChatStreamPtr p) -> Awaitable<bool> {
      p.reset();
      co_return true;
    }(std::move(s)));
  }

  // The whole stream: every chunk up to the end, or the first error.
  Result<std::vector<ChatChunk>> Collect(const RequestContext& ctx, const ChatRequest& r) {
    auto stream = OpenStream(ctx, r);
    if (!stream.ok()) return stream.status();
    std::vector<ChatChunk> out;
    Status error;
    for (int i = 0; i < 1000; ++i) {
      auto c = Next(**stream);
      if (!c.ok()) {
        error = c.status();
        break;
      }
      if (!c->has_value()) break;
      out.push_back(std::move(**c));
    }
    Destroy(*stream);
    if (!error.ok()) return error;
    return out;
  }

  // Checks that nothing is left running or waiting: a fresh request runs to its end and
  // afterwards the scheduler reports no sequence and no reserved KV cache.
  void ExpectIdle() {
    // Cancelled requests still waiting count against max_queue until the scheduler
    // thread drops them (at once, but on its own thread).
    ASSERT_TRUE(Eventually([&] { return sched().stats().queued == 0; }));
    RequestContext ctx;
    auto r = Run(model_->Complete(ctx, Greedy("hello", 2)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(Eventually([&] {
      const auto st = sched().stats();
      return st.running == 0 && st.queued == 0 && st.kv_reserved_bytes == 0;
    })) << "running "
        << sched().stats().running << ", queued " << sched().stats().queued;
  }
  // Ends the gate's generation, then ExpectIdle().
  void CloseGate(SchedulerGate& gate) {
    gate.Cancel();
    gate.Open();
    ExpectIdle();
  }

  TinyRandomGemma tiny_;
  std::string path_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  asio::strand<asio::io_context::executor_type> strand_ = asio::make_strand(io_);
  std::thread io_thread_;
  std::shared_ptr<LocalChatModel> model_;
};

// ------------------------------------------------------------------ Complete / Stream

TEST_F(LocalChatModelTest, LoadsTheTokenizerFromTheFile) {
  Load();
  const engine::SpmTokenizer& tok = model_->tokenizer();
  EXPECT_EQ(tok.vocab_size(), TinyRandomGemma::kVocab);
  EXPECT_EQ(tok.special_ids().bos, TinyRandomGemma::kBos);
  EXPECT_EQ(tok.special_ids().eos, TinyRandomGemma::kEos);
  EXPECT_EQ(tok.special_ids().eot, TinyRandomGemma::kEndOfTurn);
  for (const char* text : {"user\nhello world\n", "<start_of_turn>model\nabc"}) {
    auto a = tok.Encode(text, true, true);
    auto b = tiny_.tokenizer->Encode(text, true, true);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b) << text;
  }
  EXPECT_EQ(tok.TokenId("<0x0A>"), TinyRandomGemma::kNewline);
  EXPECT_EQ(tok.TokenToPiece(TinyRandomGemma::kNewline, false), "\n");
}

TEST_F(LocalChatModelTest, CompleteGreedyStopsAtMaxTokensWithUsageAndLogprobs) {
  Load();
  ChatRequest req = Greedy("hello there", 5);
  req.logprobs = true;
  req.top_logprobs = 2;
  RequestContext ctx;
  auto r = Run(model_->Complete(ctx, req));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model, "tiny");
  EXPECT_EQ(r->id.rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(r->system_fingerprint, "gantry-local");
  ASSERT_EQ(r->choices.size(), 1u);
  const ChatChoice& c = r->choices[0];
  EXPECT_EQ(c.message.role, "assistant");
  EXPECT_EQ(c.finish_reason, "length");
  ASSERT_TRUE(r->usage.has_value());
  EXPECT_EQ(r->usage->completion_tokens, 5);
  EXPECT_EQ(r->usage->total_tokens, r->usage->prompt_tokens + 5);
  // The prompt is the Gemma chat template of the messages.
  auto segments =
      engine::RenderGemmaChatSegments(std::vector<engine::ChatTurn>{{"user", "hello there"}}, true);
  ASSERT_TRUE(segments.ok());
  auto prompt = engine::EncodeChat(*segments, *tiny_.tokenizer);
  ASSERT_TRUE(prompt.ok()) << prompt.status().ToString();
  EXPECT_GT(r->usage->prompt_tokens, 0);
  EXPECT_EQ(r->usage->prompt_tokens, static_cast<int64_t>(prompt->size()));

  // One logprobs entry per token; their bytes are the content.
  ASSERT_TRUE(c.logprobs.is_object()) << c.logprobs.dump();
  const Json& content = c.logprobs["content"];
  ASSERT_TRUE(content.is_array());
  ASSERT_EQ(content.size(), 5u);
  std::string from_tokens;
  std::string from_bytes;
  for (const Json& e : content) {
    ASSERT_TRUE(e.contains("token") && e.contains("logprob") && e.contains("bytes") &&
                e.contains("top_logprobs"))
        << e.dump();
    from_tokens += e["token"].get<std::string>();
    for (const Json& b : e["bytes"]) from_bytes += static_cast<char>(b.get<int>());
    const float lp = e["logprob"].get<float>();
    EXPECT_LE(lp, 0.0f);
    const Json& top = e["top_logprobs"];
    ASSERT_EQ(top.size(), 2u) << e.dump();
    for (const Json& t : top) {
      EXPECT_TRUE(t.contains("token") && t.contains("logprob") && t.contains("bytes"));
    }
    // Greedy: the token is the most likely one.
    EXPECT_EQ(top[0]["token"], e["token"]);
    EXPECT_FLOAT_EQ(top[0]["logprob"].get<float>(), lp);
    EXPECT_GE(top[0]["logprob"].get<float>(), top[1]["logprob"].get<float>());
  }
  EXPECT_EQ(c.message.Text(), from_tokens);
  EXPECT_EQ(c.message.Text(), from_bytes);

  // Without logprobs: the same text, no logprobs.
  req.logprobs = false;
  req.top_logprobs.reset();
  auto plain = Run(model_->Complete(ctx, req));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->choices[0].message.Text(), c.message.Text());
  EXPECT_TRUE(plain->choices[0].logprobs.is_null());
}

TEST_F(LocalChatModelTest, StreamMatchesCompleteAndEndsWithUsage) {
  Load();
  ChatRequest sampled = Greedy("tell me a story", 12);
  sampled.temperature = 1;
  sampled.seed = 3;
  for (ChatRequest req : {Greedy("hello there", 6), sampled}) {
    SCOPED_TRACE(req.temperature.value());
    RequestContext ctx;
    auto full = Run(model_->Complete(ctx, req));
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    req.stream = true;
    req.include_usage = true;
    auto chunks = Collect(ctx, req);
    ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
    ASSERT_GE(chunks->size(), 3u);  // role, ..., finish, usage
    const ChatChunk& first = chunks->front();
    ASSERT_EQ(first.choices.size(), 1u);
    EXPECT_EQ(first.choices[0].delta.role, "assistant");
    EXPECT_EQ(first.choices[0].delta.content, "");
    std::string text;
    int finishes = 0;
    for (size_t i = 0; i + 1 < chunks->size(); ++i) {
      const ChatChunk& c = (*chunks)[i];
      EXPECT_EQ(c.id, first.id);
      EXPECT_EQ(c.model, "tiny");
      ASSERT_EQ(c.choices.size(), 1u) << "chunk " << i;
      EXPECT_FALSE(c.usage.has_value()) << "chunk " << i;
      if (i > 0) {
        EXPECT_FALSE(c.choices[0].delta.role.has_value());
      }
      text += c.choices[0].delta.content.value_or("");
      if (c.choices[0].finish_reason) {
        ++finishes;
        EXPECT_EQ(*c.choices[0].finish_reason, full->choices[0].finish_reason);
        EXPECT_EQ(i, chunks->size() - 2) << "the finish chunk is the last before the usage";
      }
    }
    EXPECT_EQ(finishes, 1);
    EXPECT_EQ(text, full->choices[0].message.Text());
    const ChatChunk& last = chunks->back();
    EXPECT_EQ(last.id, first.id);
    EXPECT_TRUE(last.choices.empty());
    ASSERT_TRUE(last.usage.has_value());
    EXPECT_EQ(last.usage->prompt_tokens, full->usage->prompt_tokens);
    EXPECT_EQ(last.usage->completion_tokens, full->usage->completion_tokens);
    EXPECT_EQ(last.usage->total_tokens, full->usage->total_tokens);

    // Without include_usage the finish chunk is the last one.
    req.include_usage = false;
    auto no_usage = Collect(ctx, req);
    ASSERT_TRUE(no_usage.ok()) << no_usage.status().ToString();
    EXPECT_EQ(no_usage->size(), chunks->size() - 1);
    EXPECT_TRUE(no_usage->back().choices.at(0).finish_reason.has_value());
    for (const auto& c : *no_usage) EXPECT_FALSE(c.usage.has_value());
  }
}

TEST_F(LocalChatModelTest, SameSeedSameContent) {
  Load();
  auto run = [&](int64_t seed) {
    ChatRequest req = Greedy("tell me a story", 20);
    req.temperature = 1;
    req.seed = seed;
    RequestContext ctx;
    auto r = Run(model_->Complete(ctx, req));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->choices[0].message.Text() : std::string("<error>");
  };
  const std::string a = run(7);
  EXPECT_EQ(run(7), a);
  EXPECT_NE(run(8), a);
}

TEST_F(LocalChatModelTest, EndlessRequestsRunToMaxTokens) {
  // What the gated tests below rely on: Endless() generations do not stop by themselves.
  Load();
  RequestContext ctx;
  auto r = Run(model_->Complete(ctx, Endless(50)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->choices.at(0).finish_reason, "length");
  EXPECT_EQ(r->usage->completion_tokens, 50);
  EXPECT_EQ(r->choices[0].logprobs["content"].size(), 50u);
}

// ------------------------------------------------------------------ cancellation

TEST_F(LocalChatModelTest, CancelWakesAWaitingStreamAndStopsTheGeneration) {
  engine::SchedulerOptions o;
  o.max_sequences = 2;
  o.context_length = 512;
  Load(o);
  SchedulerGate gate;
  ASSERT_TRUE(gate.Start(sched()).ok());
  RequestContext ctx;
  auto stream = OpenStream(ctx, Endless(400));
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  auto role = Next(**stream);
  ASSERT_TRUE(role.ok() && role->has_value());
  EXPECT_EQ((**role).choices.at(0).delta.role, "assistant");
  // Two tokens delivered (gate update 4: see SchedulerGate), the third computed.
  ASSERT_TRUE(gate.Step(3));
  for (int i = 0; i < 2; ++i) {
    auto c = Next(**stream);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ASSERT_TRUE(c->has_value());
    ASSERT_EQ((**c).choices.size(), 1u);
    EXPECT_FALSE((**c).choices[0].finish_reason.has_value());
    EXPECT_EQ((**c).choices[0].logprobs["content"].size(), 1u);
  }
  EXPECT_EQ(sched().stats().running, 2);

  // Nothing is buffered: the next Next() waits, and the cancellation wakes it.
  auto pending = Spawn((**stream).Next());
  Settle();
  EXPECT_EQ(pending.wait_for(0s), std::future_status::timeout) << "Next() did not wait";
  const auto start = std::chrono::steady_clock::now();
  ctx.cancel->Cancel(Status(StatusCode::kCancelled, "client went away"));
  auto r = Get(pending);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_THAT(r.status().message(), HasSubstr("client went away"));

  // The generation leaves the scheduler at its next step (while the stream still
  // exists): two steps on, only the gate runs.
  ASSERT_TRUE(gate.Step(2));
  EXPECT_EQ(sched().stats().running, 1);
  Destroy(*stream);
  CloseGate(gate);
}

TEST_F(LocalChatModelTest, CancelBeforeWaitingReturnsAtOnce) {
  engine::SchedulerOptions o;
  o.max_sequences = 2;
  Load(o);
  SchedulerGate gate;
  ASSERT_TRUE(gate.Start(sched()).ok());
  RequestContext ctx;
  auto stream = OpenStream(ctx, Endless(400));
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  ASSERT_TRUE(Next(**stream).ok());  // role
  ASSERT_TRUE(gate.Step(1));         // admitted; one token computed, none delivered
  ctx.cancel->Cancel(Status(StatusCode::kCancelled, "client went away"));
  auto r = Next(**stream);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  Destroy(*stream);
  CloseGate(gate);
}

TEST_F(LocalChatModelTest, CancelWinsOverTokensAlreadyDelivered) {
  engine::SchedulerOptions o;
  o.max_sequences = 2;
  Load(o);
  SchedulerGate gate;
  ASSERT_TRUE(gate.Start(sched()).ok());
  RequestContext ctx;
  auto stream = OpenStream(ctx, Endless(400));
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  ASSERT_TRUE(Next(**stream).ok());  // role
  ASSERT_TRUE(gate.Step(3));         // two tokens delivered, not read
  ctx.cancel->Cancel(Status(StatusCode::kCancelled, "client went away"));
  // The buffered tokens are not handed out after the cancellation: the next read ends
  // the stream with kCancelled, without waiting for the (held) scheduler.
  Result<std::optional<ChatChunk>> r = Next(**stream);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  Destroy(*stream);
  CloseGate(gate);
}

TEST_F(LocalChatModelTest, CancelDuringComplete) {
  engine::SchedulerOptions o;
  o.max_sequences = 2;
  Load(o);
  SchedulerGate gate;
  ASSERT_TRUE(gate.Start(sched()).ok());
  RequestContext ctx;
  const ChatRequest req = Endless(400);
  auto fut = Spawn(model_->Complete(ctx, req));
  ASSERT_TRUE(Eventually([&] { return sched().stats().queued == 1; }));
  ASSERT_TRUE(gate.Step(4));  // running, three tokens delivered, then held
  Settle();
  EXPECT_EQ(fut.wait_for(0s), std::future_status::timeout) << "Complete() did not wait";
  ctx.cancel->Cancel(Status(StatusCode::kCancelled, "client went away"));
  auto r = Get(fut);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  ASSERT_TRUE(gate.Step(2));
  EXPECT_EQ(sched().stats().running, 1);
  CloseGate(gate);

  // Already cancelled: nothing is generated.
  RequestContext gone;
  gone.cancel->Cancel(Status(StatusCode::kCancelled, "client went away"));
  auto r2 = Run(model_->Complete(gone, Endless(400)));
  EXPECT_EQ(r2.status().code(), StatusCode::kCancelled) << r2.status().ToString();
  ExpectIdle();
}

TEST_F(LocalChatModelTest, DestroyingAStreamFreesItsSlot) {
  engine::SchedulerOptions o;
  o.max_sequences = 2;
  Load(o);
  SchedulerGate gate;
  ASSERT_TRUE(gate.Start(sched()).ok());
  RequestContext ctx;
  auto stream = OpenStream(ctx, Endless(400));
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  ASSERT_TRUE(Next(**stream).ok());  // role
  ASSERT_TRUE(gate.Step(3));
  ASSERT_TRUE(Next(**stream).ok());
  EXPECT_EQ(sched().stats().running, 2);
  Destroy(*stream);  // not cancelled, not read to the end
  EXPECT_FALSE(ctx.cancel->cancelled());
  ASSERT_TRUE(gate.Step(2));
  EXPECT_EQ(sched().stats().running, 1);
  CloseGate(gate);
}

TEST_F(LocalChatModelTest, DestroyingAStreamWithoutAGateEndsItsGeneration) {
  // The same without holding the scheduler: whatever the generation has reached when
  // the stream goes, the slot is freed and nothing is left behind (ASan).
  Load();
  for (int i = 0; i < 5; ++i) {
    RequestContext ctx;
    auto stream = OpenStream(ctx, Endless(400));
    ASSERT_TRUE(stream.ok()) << stream.status().ToString();
    for (int k = 0; k < i; ++k) ASSERT_TRUE(Next(**stream).ok());
    Destroy(*stream);
  }
  ExpectIdle();
}

// A sequence cancelled while it was the last one running leaves the stats at once
// (the scheduler used to sleep with them stale until the next request).
TEST_F(LocalChatModelTest, StatsShowNothingRunningAfterTheLastStreamIsCancelled) {
  Load();
  RequestContext ctx;
  auto stream = OpenStream(ctx, Endless(400));
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  ASSERT_TRUE(Next(**stream).ok());  // role
  ASSERT_TRUE(Next(**stream).ok());  // a token: the generation is running
  ctx.cancel->Cancel(Status(StatusCode::kCancelled, "client went away"));
  Destroy(*stream);
  EXPECT_TRUE(Eventually([&] {
    const auto st = sched().stats();
    return st.running == 0 && st.kv_reserved_bytes == 0;
  })) << "running "
      << sched().stats().running;
}

TEST_F(LocalChatModelTest, DeadlineEndsACompleteThatIsStillGenerating) {
  engine::SchedulerOptions o;
  o.max_sequences = 2;
  Load(o);
  SchedulerGate gate;
  ASSERT_TRUE(gate.Start(sched()).ok());
  const auto start = std::chrono::steady_clock::now();
  RequestContext ctx;
  ctx.deadline = Deadline::After(SystemClock::Get(), 50ms);
  const ChatRequest req = Endless(400);
  auto fut = Spawn(model_->Complete(ctx, req));
  ASSERT_TRUE(Eventually([&] { return sched().stats().queued == 1; }));
  ASSERT_TRUE(gate.Step(4));  // running, three tokens delivered, then held
  auto r = Get(fut);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_GE(elapsed, 50ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_FALSE(ctx.cancel->cancelled());
  // Giving up on the deadline cancelled the generation.
  ASSERT_TRUE(gate.Step(2));
  EXPECT_EQ(sched().stats().running, 1);
  CloseGate(gate);
}

TEST_F(LocalChatModelTest, DeadlineEndsAStream) {
  engine::SchedulerOptions o;
  o.max_sequences = 2;
  Load(o);
  SchedulerGate gate;
  ASSERT_TRUE(gate.Start(sched()).ok());
  RequestContext ctx;
  ctx.deadline = Deadline::After(SystemClock::Get(), 50ms);
  auto stream = OpenStream(ctx, Endless(400));
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  ASSERT_TRUE(Next(**stream).ok());  // role
  ASSERT_TRUE(gate.Step(3));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Next(**stream).ok());
  auto r = Next(**stream);  // nothing more comes while the gate holds
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  Destroy(*stream);
  ASSERT_TRUE(gate.Step(2));
  EXPECT_EQ(sched().stats().running, 1);
  CloseGate(gate);
}

// ------------------------------------------------------------------ admission

TEST_F(LocalChatModelTest, FullQueueIsResourceExhaustedWithRetryAfter) {
  engine::SchedulerOptions o;
  o.max_sequences = 2;  // the gate and one stream
  o.max_queue = 1;
  o.context_length = 512;
  Load(o);
  SchedulerGate gate;
  ASSERT_TRUE(gate.Start(sched()).ok());
  RequestContext running_ctx;
  auto running = OpenStream(running_ctx, Endless(400));
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  ASSERT_TRUE(gate.Step(1));  // admitted
  EXPECT_EQ(sched().stats().running, 2);
  EXPECT_EQ(sched().stats().queued, 0);
  RequestContext queued_ctx;
  auto queued = OpenStream(queued_ctx, Endless(400));
  ASSERT_TRUE(queued.ok()) << queued.status().ToString();
  EXPECT_EQ(sched().stats().queued, 1);

  RequestContext ctx;
  auto r = Run(model_->Complete(ctx, Greedy("hello", 3)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
  EXPECT_EQ(r.status().retry_after_s(), 1);
  EXPECT_THAT(r.status().message(), HasSubstr("busy"));
  auto s = OpenStream(ctx, Greedy("hello", 3));
  EXPECT_EQ(s.status().code(), StatusCode::kResourceExhausted) << s.status().ToString();

  // Cancelling frees the slots: a queued request is dropped, a running one stops.
  queued_ctx.cancel->Cancel(Status(StatusCode::kCancelled, "client went away"));
  running_ctx.cancel->Cancel(Status(StatusCode::kCancelled, "client went away"));
  CloseGate(gate);
  Destroy(*queued);
  Destroy(*running);
  auto again = Run(model_->Complete(ctx, Greedy("hello", 3)));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->choices.at(0).finish_reason, "length");
  EXPECT_EQ(again->usage->completion_tokens, 3);
}

// ------------------------------------------------------------------ lifetime

TEST_F(LocalChatModelTest, DestroyingTheModelEndsOpenStreamsWithUnavailable) {
  engine::SchedulerOptions o;
  o.max_sequences = 2;
  Load(o);
  SchedulerGate gate;
  ASSERT_TRUE(gate.Start(sched()).ok());
  RequestContext ctx;
  ChatRequest req = Endless(400);
  req.top_logprobs = 2;
  req.include_usage = true;
  auto stream = OpenStream(ctx, req);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  ASSERT_TRUE(Next(**stream).ok());  // role
  ASSERT_TRUE(gate.Step(3));         // two tokens delivered, the third computed
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Next(**stream).ok());

  // Destroy the model while its scheduler holds. The gate opens once Shutdown has begun
  // (Submit then fails with kUnavailable), so the running generations end by shutdown.
  std::thread opener([&gate, &s = sched()] {
    for (;;) {
      engine::GenerationRequest probe;
      probe.prompt = {TinyRandomGemma::kBos, 7};
      probe.max_tokens = 1;
      if (s.Submit(probe, [](engine::GenerationUpdate&&) {}).status().code() ==
          StatusCode::kUnavailable) {
        break;
      }
      std::this_thread::sleep_for(1ms);
    }
    gate.Open();
  });
  model_.reset();
  opener.join();

  // The stream outlives the model: the token computed before the shutdown (its
  // logprobs need the tokenizer, which the stream shares), then kUnavailable.
  auto c = Next(**stream);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->has_value());
  ASSERT_EQ((**c).choices.size(), 1u);
  EXPECT_FALSE((**c).choices[0].finish_reason.has_value());
  const Json& entry = (**c).choices[0].logprobs["content"].at(0);
  EXPECT_EQ(entry["top_logprobs"].size(), 2u);
  auto end = Next(**stream);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.status().code(), StatusCode::kUnavailable) << end.status().ToString();
  EXPECT_THAT(end.status().message(), HasSubstr("shutting down"));
  Destroy(*stream);
}

TEST_F(LocalChatModelTest, DestroyingTheModelWithAFreeRunningStream) {
  // Without a gate: the generation may be anywhere when the model goes; the stream
  // then delivers what was generated and ends, by kUnavailable or normally.
  Load();
  RequestContext ctx;
  ChatRequest req = Endless(400);
  req.include_usage = true;
  auto stream = OpenStream(ctx, req);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  ASSERT_TRUE(Next(**stream).ok());
  model_.reset();
  int chunks = 0;
  Status end;
  for (;;) {
    auto c = Next(**stream);
    if (!c.ok()) {
      end = c.status();
      break;
    }
    if (!c->has_value()) break;
    ASSERT_LT(++chunks, 500);
  }
  if (!end.ok()) {
    EXPECT_EQ(end.code(), StatusCode::kUnavailable) << end.ToString();
  }
  Destroy(*stream);
}

// ------------------------------------------------------------------ request checks

TEST_F(LocalChatModelTest, UnsupportedRequestsNameTheField) {
  Load();
  struct Case {
    const char* name;
    std::function<void(ChatRequest&)> edit;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"n", [](ChatRequest& r) { r.n = 2; }, "n:"},
      {"tools",
       [](ChatRequest& r) {
         r.tools = Json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
       },
       "tools"},
      {"response_format",
       [](ChatRequest& r) {
         r.response_format = {{"type", "json_object"}};
       },
       "response_format"},
      {"tool message",
       [](ChatRequest& r) {
         ChatMessage m = Message("tool", "42");
         m.tool_call_id = "call_1";
         r.messages.push_back(m);
       },
       "messages[1].role"},
      {"tool calls",
       [](ChatRequest& r) {
         ChatMessage m = Message("assistant", nullptr);
         m.tool_calls = Json::array({{{"id", "call_1"}, {"type", "function"}}});
         r.messages.push_back(m);
       },
       "messages[1].tool_calls"},
      {"image part",
       [](ChatRequest& r) {
         r.messages[0].content = Json::array(
             {{{"type", "text"}, {"text", "what is this"}},
              {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,AAAA"}}}}});
       },
       "messages[0].content"},
      {"temperature", [](ChatRequest& r) { r.temperature = 5; }, "temperature"},
      {"top_logprobs without logprobs", [](ChatRequest& r) { r.top_logprobs = 2; }, "top_logprobs"},
      {"top_logprobs out of range",
       [](ChatRequest& r) {
         r.logprobs = true;
         r.top_logprobs = 21;
       },
       "top_logprobs"},
      {"late system message",
       [](ChatRequest& r) { r.messages.push_back(Message("system", "be brief")); }, "messages[1]"},
      {"max_tokens", [](ChatRequest& r) { r.max_tokens = 0; }, "max_tokens"},
      {"top_k", [](ChatRequest& r) { r.extra["top_k"] = -1; }, "top_k"},
      {"top_k type", [](ChatRequest& r) { r.extra["top_k"] = "many"; }, "top_k"},
      {"top_p", [](ChatRequest& r) { r.top_p = 0; }, "top_p"},
      {"frequency_penalty", [](ChatRequest& r) { r.frequency_penalty = 3; }, "frequency_penalty"},
      {"no messages", [](ChatRequest& r) { r.messages.clear(); }, "messages"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ChatRequest req = Greedy("hello", 3);
    c.edit(req);
    auto p = model_->Prepare(req);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << p.status().ToString();
    EXPECT_THAT(p.status().message(), HasSubstr(c.field));
    // Complete and Stream return the same error without generating anything.
    RequestContext ctx;
    auto r = Run(model_->Complete(ctx, req));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    auto s = Run(model_->Stream(ctx, req));
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(sched().stats().steps, 0u);
}

TEST_F(LocalChatModelTest, PrepareAcceptsWhatTheGemmaTemplateCanSay) {
  Load();
  ChatRequest req = Greedy("hello", 3);
  req.messages.insert(req.messages.begin(), Message("developer", "be brief"));
  req.messages.insert(req.messages.begin(), Message("system", "be nice"));
  req.messages.push_back(Message("assistant", "hi"));
  req.messages.push_back(Message("user", Json::array({{{"type", "text"}, {"text", "again"}}})));
  req.response_format = {{"type", "text"}};
  req.tools = Json::array();
  req.n = 1;
  req.stop = {"xyz"};
  req.seed = 5;
  req.extra["top_k"] = 4;
  req.extra["min_p"] = 0.05;
  req.extra["repetition_penalty"] = 1.1;
  auto p = model_->Prepare(req);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->generation.max_tokens, 3);
  EXPECT_EQ(p->generation.stop, std::vector<std::string>{"xyz"});
  EXPECT_EQ(p->generation.sampling.top_k, 4);
  EXPECT_FLOAT_EQ(p->generation.sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(p->generation.sampling.repetition_penalty, 1.1f);
  EXPECT_EQ(p->generation.sampling.seed, 5u);
  EXPECT_FALSE(p->logprobs);
  // The system and developer messages merge into the first user turn.
  auto segments = engine::RenderGemmaChatSegments(
      std::vector<engine::ChatTurn>{{"system", "be nice\n\nbe brief"},
                                    {"user", "hello"},
                                    {"assistant", "hi"},
                                    {"user", "again"}},
      true);
  ASSERT_TRUE(segments.ok());
  auto prompt = engine::EncodeChat(*segments, *tiny_.tokenizer);
  ASSERT_TRUE(prompt.ok());
  EXPECT_EQ(p->generation.prompt, *prompt);
  // The default is OpenAI's temperature 1.
  req.temperature.reset();
  EXPECT_FLOAT_EQ(model_->Prepare(req)->generation.sampling.temperature, 1.0f);
}

TEST_F(LocalChatModelTest, PromptLongerThanTheContextIsInvalid) {
  engine::SchedulerOptions o;
  o.context_length = 32;
  Load(o);
  RequestContext ctx;
  auto r = Run(model_->Complete(ctx, Greedy(std::string(100, 'a'), 3)));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("context"));
}

// ------------------------------------------------------------------ Create

TEST_F(LocalChatModelTest, CreateErrors) {
  LocalChatOptions missing;
  missing.model_path = path_ + ".missing";
  auto m = LocalChatModel::Create(missing);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(m.status().message(), HasSubstr("gantry models pull"));
  EXPECT_THAT(m.status().message(), HasSubstr(missing.model_path));

  // Not a GGUF file.
  const std::string junk = path_ + ".junk";
  {
    std::ofstream out(junk, std::ios::binary);
    out << "this is not a model";
  }
  LocalChatOptions bad;
  bad.model_path = junk;
  auto b = LocalChatModel::Create(bad);
  std::error_code ec;
  std::filesystem::remove(junk, ec);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument) << b.status().ToString();

  // Bad scheduler options.
  LocalChatOptions zero;
  zero.model_path = path_;
  zero.scheduler.threads = 0;
  auto z = LocalChatModel::Create(zero);
  EXPECT_EQ(z.status().code(), StatusCode::kInvalidArgument) << z.status().ToString();
}

TEST(LocalEmbeddingModelTest, MissingDirectoryIsNotFound) {
  LocalEmbeddingOptions o;
  o.model_dir = ::testing::TempDir() + "no-such-embedding-model";
  auto m = LocalEmbeddingModel::Create(o);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(m.status().message(), HasSubstr("gantry models pull"));
}

}  // namespace
}  // namespace gantry::providers
