#include "providers/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gantry::providers {
namespace {

std::vector<SseEvent> FeedAll(SseParser& p, std::string_view bytes) {
  std::vector<SseEvent> out;
  Status s = p.Feed(bytes, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<SseEvent> FeedBytewise(SseParser& p, std::string_view bytes) {
  std::vector<SseEvent> out;
  for (char c : bytes) {
    Status s = p.Feed(std::string_view(&c, 1), &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return out;
}

constexpr std::string_view kStream =
    "data: {\"a\":1}\n\n"
    ": keep-alive comment\n\n"
    "event: update\n"
    "id: 42\n"
    "data: line one\n"
    "data: line two\n\n"
    "data: [DONE]\n\n";

void ExpectStream(const std::vector<SseEvent>& ev) {
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].data, "{\"a\":1}");
  EXPECT_EQ(ev[0].event, "");
  EXPECT_EQ(ev[0].id, "");
  EXPECT_EQ(ev[1].event, "update");
  EXPECT_EQ(ev[1].id, "42");
  EXPECT_EQ(ev[1].data, "line one\nline two");
  EXPECT_EQ(ev[2].data, "[DONE]");
  EXPECT_EQ(ev[2].event, "");  // fields do not leak into the next event
}

TEST(SseParserTest, WholeStream) {
  SseParser p;
  auto ev = FeedAll(p, kStream);
  ExpectStream(ev);
  EXPECT_FALSE(p.HasPartial());
}

TEST(SseParserTest, ByteByByte) {
  SseParser p;
  ExpectStream(FeedBytewise(p, kStream));
  EXPECT_FALSE(p.HasPartial());
}

TEST(SseParserTest, EverySplitPoint) {
  for (size_t cut = 0; cut <= kStream.size(); ++cut) {
    SseParser p;
    auto ev = FeedAll(p, kStream.substr(0, cut));
    auto rest = FeedAll(p, kStream.substr(cut));
    ev.insert(ev.end(), rest.begin(), rest.end());
    ExpectStream(ev);
  }
}

TEST(SseParserTest, CrLfAndBareCr) {
  std::string crlf(kStream);
  std::string cr(kStream);
  for (size_t i = crlf.find('\n'); i != std::string::npos; i = crlf.find('\n', i + 2)) {
    crlf.replace(i, 1, "\r\n");
  }
  for (auto& c : cr) {
    if (c == '\n') c = '\r';
  }
  {
    SseParser p;
    ExpectStream(FeedAll(p, crlf));
  }
  {
    SseParser p;
    ExpectStream(FeedBytewise(p, crlf));  // \r and \n in separate Feed calls
  }
  {
    SseParser p;
    ExpectStream(FeedAll(p, cr));
  }
}

TEST(SseParserTest, FieldParsingDetails) {
  SseParser p;
  auto ev = FeedAll(p,
                    "data:no-space\n"
                    "data:  two-spaces\n"
                    "data\n"
                    "unknown: x\n"
                    "\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "no-space\n two-spaces\n");
}

TEST(SseParserTest, EventWithoutDataIsNotDispatched) {
  SseParser p;
  auto ev = FeedAll(p, "event: ping\n\n: comment\n\n\n\ndata: x\n\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "x");
  EXPECT_EQ(ev[0].event, "");
}

TEST(SseParserTest, HasPartial) {
  SseParser p;
  EXPECT_FALSE(p.HasPartial());
  EXPECT_TRUE(FeedAll(p, "da").empty());
  EXPECT_TRUE(p.HasPartial());  // unfinished line
  EXPECT_TRUE(FeedAll(p, "ta: x\n").empty());
  EXPECT_TRUE(p.HasPartial());  // data buffered, event not dispatched
  EXPECT_EQ(FeedAll(p, "\n").size(), 1u);
  EXPECT_FALSE(p.HasPartial());
}

TEST(SseParserTest, MaxEventBytes) {
  SseParser p(16);
  std::vector<SseEvent> out;
  EXPECT_TRUE(p.Feed("data: 0123456789\n\n", &out).ok());  // 16 bytes of line
  ASSERT_EQ(out.size(), 1u);

  SseParser q(16);
  out.clear();
  Status s = q.Feed("data: 0123456789ABCDEF\n\n", &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());

  // Many small data lines add up to one event too big.
  SseParser r(32);
  out.clear();
  Status t = OkStatus();
  for (int i = 0; i < 10 && t.ok(); ++i) t = r.Feed("data: abcdefgh\n", &out);
  EXPECT_EQ(t.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());

  // Fed byte by byte, the limit still applies.
  SseParser b(16);
  out.clear();
  Status u = OkStatus();
  const std::string big = "data: " + std::string(100, 'x');
  for (size_t i = 0; i < big.size() && u.ok(); ++i) u = b.Feed(big.substr(i, 1), &out);
  EXPECT_EQ(u.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gantry::providers
