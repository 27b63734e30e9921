#include "providers/scripted_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "fakes/run_sync.h"

namespace gantry::providers {
namespace {

using namespace std::chrono_literals;
using gantry::testing::RunSync;

ChatRequest Chat(const std::string& user_text, std::optional<int64_t> max_tokens = std::nullopt) {
  ChatRequest r;
  r.model = "scripted-1";
  ChatMessage sys;
  sys.role = "system";
  sys.content = "be nice";
  r.messages.push_back(sys);
  ChatMessage user;
  user.role = "user";
  user.content = user_text;
  r.messages.push_back(user);
  r.max_tokens = max_tokens;
  return r;
}

ScriptedOptions Reply(std::string reply) {
  ScriptedOptions o;
  o.reply = std::move(reply);
  return o;
}

// Cancels `c` from another thread after `after`.
class DelayedCancel {
 public:
  DelayedCancel(std::shared_ptr<CancelSource> c, std::chrono::milliseconds after)
      : t_([c, after] {
          std::this_thread::sleep_for(after);
          c->Cancel(Cancelled("client went away"));
        }) {}
  ~DelayedCancel() { t_.join(); }

 private:
  std::thread t_;
};

TEST(ScriptedProviderTest, CompleteReturnsReplyAndUsage) {
  ScriptedProvider p(Reply("hello big world"));
  RequestContext ctx;
  auto r = RunSync(p.Complete(ctx, Chat("a b c")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model, "scripted-1");
  EXPECT_EQ(r->id.rfind("chatcmpl-", 0), 0u);
  ASSERT_EQ(r->choices.size(), 1u);
  EXPECT_EQ(r->choices[0].message.role, "assistant");
  EXPECT_EQ(r->choices[0].message.Text(), "hello big world");
  EXPECT_EQ(r->choices[0].finish_reason, "stop");
  ASSERT_TRUE(r->usage.has_value());
  EXPECT_EQ(r->usage->prompt_tokens, 5);  // "be nice" + "a b c"
  EXPECT_EQ(r->usage->completion_tokens, 3);
  EXPECT_EQ(r->usage->total_tokens, 8);
  EXPECT_EQ(p.calls(), 1);
  EXPECT_EQ(p.cancellations(), 0);
}

TEST(ScriptedProviderTest, EchoesLastUserMessage) {
  ScriptedProvider p(ScriptedOptions{});
  RequestContext ctx;
  auto r = RunSync(p.Complete(ctx, Chat("ping pong")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->choices[0].message.Text(), "echo: ping pong");
}

TEST(ScriptedProviderTest, MaxTokensTruncates) {
  ScriptedProvider p(Reply("one two three four"));
  RequestContext ctx;
  auto r = RunSync(p.Complete(ctx, Chat("x", 2)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->choices[0].message.Text(), "one two");
  EXPECT_EQ(r->choices[0].finish_reason, "length");
  EXPECT_EQ(r->usage->completion_tokens, 2);
}

TEST(ScriptedProviderTest, ConfiguredErrorIsReturned) {
  ScriptedOptions o;
  o.error = Unavailable("down for maintenance");
  ScriptedProvider p(o);
  RequestContext ctx;
  EXPECT_EQ(RunSync(p.Complete(ctx, Chat("x"))).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(RunSync(p.Stream(ctx, Chat("x"))).status().code(), StatusCode::kUnavailable);
  EmbeddingRequest e;
  e.model = "m";
  e.input = "x";
  EXPECT_EQ(RunSync(p.Embed(ctx, e)).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(p.calls(), 3);
}

Awaitable<Result<std::vector<ChatChunk>>> Collect(ScriptedProvider* p, RequestContext ctx,
                                                  ChatRequest req) {
  auto stream = co_await p->Stream(ctx, req);
  if (!stream.ok()) co_return stream.status();
  std::vector<ChatChunk> out;
  for (int i = 0; i < 100; ++i) {
    auto c = co_await (*stream)->Next();
    if (!c.ok()) co_return c.status();
    if (!c->has_value()) co_return out;
    out.push_back(std::move(**c));
  }
  co_return InternalError("stream did not end");
}

TEST(ScriptedProviderTest, StreamYieldsRoleWordsFinishUsageEnd) {
  ScriptedProvider p(Reply("hello big world"));
  RequestContext ctx;
  auto r = RunSync(Collect(&p, ctx, Chat("a b c")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& chunks = *r;
  ASSERT_EQ(chunks.size(), 6u);  // role, 3 words, finish, usage
  const std::string id = chunks[0].id;
  for (const auto& c : chunks) {
    EXPECT_EQ(c.id, id);
    EXPECT_EQ(c.model, "scripted-1");
  }
  ASSERT_EQ(chunks[0].choices.size(), 1u);
  EXPECT_EQ(chunks[0].choices[0].delta.role, "assistant");
  EXPECT_EQ(chunks[0].choices[0].delta.content, "");
  EXPECT_EQ(chunks[1].choices[0].delta.content, "hello");
  EXPECT_EQ(chunks[2].choices[0].delta.content, " big");
  EXPECT_EQ(chunks[3].choices[0].delta.content, " world");
  EXPECT_FALSE(chunks[3].choices[0].finish_reason.has_value());
  ASSERT_EQ(chunks[4].choices.size(), 1u);
  EXPECT_EQ(chunks[4].choices[0].finish_reason, "stop");
  EXPECT_FALSE(chunks[4].usage.has_value());
  EXPECT_TRUE(chunks[5].choices.empty());
  ASSERT_TRUE(chunks[5].usage.has_value());
  EXPECT_EQ(chunks[5].usage->prompt_tokens, 5);
  EXPECT_EQ(chunks[5].usage->completion_tokens, 3);
  EXPECT_EQ(chunks[5].usage->total_tokens, 8);
  EXPECT_EQ(p.calls(), 1);
  EXPECT_EQ(p.cancellations(), 0);  // consumed to the end
}

TEST(ScriptedProviderTest, StreamMaxTokensFinishesWithLength) {
  ScriptedProvider p(Reply("one two three"));
  RequestContext ctx;
  auto r = RunSync(Collect(&p, ctx, Chat("x", 1)));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 4u);  // role, "one", finish, usage
  EXPECT_EQ((*r)[1].choices[0].delta.content, "one");
  EXPECT_EQ((*r)[2].choices[0].finish_reason, "length");
  EXPECT_EQ((*r)[3].usage->completion_tokens, 1);
}

TEST(ScriptedProviderTest, TokenDelayPacesTheStream) {
  ScriptedOptions o = Reply("a b c");
  o.token_delay = 20ms;
  ScriptedProvider p(o);
  RequestContext ctx;
  const auto start = std::chrono::steady_clock::now();
  auto r = RunSync(Collect(&p, ctx, Chat("x")));
  ASSERT_TRUE(r.ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 35ms);  // two delayed words after the first
}

TEST(ScriptedProviderTest, CancelDuringCompleteDelay) {
  ScriptedOptions o = Reply("a b c");
  o.token_delay = 5s;
  ScriptedProvider p(o);
  RequestContext ctx;
  const auto start = std::chrono::steady_clock::now();
  Result<ChatResponse> r = InternalError("not run");
  {
    DelayedCancel cancel(ctx.cancel, 50ms);
    r = RunSync(p.Complete(ctx, Chat("x")));
  }
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(p.cancellations(), 1);
}

Awaitable<Status> SecondChunk(ScriptedProvider* p, RequestContext ctx, ChatRequest req) {
  auto stream = co_await p->Stream(ctx, req);
  if (!stream.ok()) co_return stream.status();
  auto role = co_await (*stream)->Next();
  if (!role.ok() || !role->has_value()) co_return InternalError("no role chunk");
  auto word = co_await (*stream)->Next();
  co_return word.status();
}

TEST(ScriptedProviderTest, CancelDuringStreamDelay) {
  ScriptedOptions o = Reply("a b c");
  o.first_token_delay = 5s;
  ScriptedProvider p(o);
  RequestContext ctx;
  const auto start = std::chrono::steady_clock::now();
  Status s;
  {
    DelayedCancel cancel(ctx.cancel, 50ms);
    s = RunSync(SecondChunk(&p, ctx, Chat("x")));
  }
  EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(p.cancellations(), 1);  // the abandoned stream counted it
}

TEST(ScriptedProviderTest, DeadlineDuringDelay) {
  ScriptedOptions o = Reply("a b");
  o.token_delay = 5s;
  ScriptedProvider p(o);
  RequestContext ctx;
  ctx.deadline = Deadline::After(SystemClock::Get(), 50ms);
  const auto start = std::chrono::steady_clock::now();
  auto r = RunSync(p.Complete(ctx, Chat("x")));
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(ScriptedProviderTest, SleepFor) {
  RequestContext ctx;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(RunSync(SleepFor(ctx, 20ms)).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);

  RequestContext cancelled;
  cancelled.cancel->Cancel(Cancelled("gone"));
  const auto start2 = std::chrono::steady_clock::now();
  EXPECT_EQ(RunSync(SleepFor(cancelled, 5s)).code(), StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start2, 1s);
}

double Norm(const std::vector<float>& v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  return std::sqrt(n);
}

TEST(ScriptedProviderTest, EmbedIsDeterministicAndNormalised) {
  ScriptedProvider p(ScriptedOptions{});
  RequestContext ctx;
  EmbeddingRequest req;
  req.model = "emb";
  req.input = Json::array({"hello world", "other text", "hello world"});
  auto a = RunSync(p.Embed(ctx, req));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->model, "emb");
  ASSERT_EQ(a->data.size(), 3u);
  for (const auto& v : a->data) {
    EXPECT_EQ(v.size(), 8u);
    EXPECT_NEAR(Norm(v), 1.0, 1e-5);
  }
  EXPECT_EQ(a->data[0], a->data[2]);
  EXPECT_NE(a->data[0], a->data[1]);
  EXPECT_EQ(a->usage.prompt_tokens, 6);
  EXPECT_EQ(a->usage.total_tokens, 6);

  ScriptedProvider q(ScriptedOptions{});  // another instance, same answer
  auto b = RunSync(q.Embed(ctx, req));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->data, b->data);

  EmbeddingRequest dims;
  dims.model = "emb";
  dims.input = "x";
  dims.dimensions = 32;
  auto c = RunSync(p.Embed(ctx, dims));
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->data.size(), 1u);
  EXPECT_EQ(c->data[0].size(), 32u);
  EXPECT_NEAR(Norm(c->data[0]), 1.0, 1e-5);

  EmbeddingRequest tokens;
  tokens.model = "emb";
  tokens.input = Json::array({1, 2, 3});
  auto t = RunSync(p.Embed(ctx, tokens));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->data.size(), 1u);
}

}  // namespace
}  // namespace gantry::providers
