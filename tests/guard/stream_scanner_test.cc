#include "guard/stream_scanner.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace gantry::guard {
namespace {

const PiiDetector& Detector() {
  static const PiiDetector detector;
  return detector;
}

RedactionPolicy MixedPolicy() {
  RedactionPolicy p;
  p.default_mode = Mode::kMask;
  p.per_type["EMAIL"] = Mode::kTokenize;
  p.per_type["PHONE"] = Mode::kHash;
  p.per_type["PERSON"] = Mode::kTokenize;
  p.per_type["SECRET"] = Mode::kBlock;
  p.per_type["IP_ADDRESS"] = Mode::kAllow;
  p.hash_salt = Secret("stream-test");
  return p;
}

std::string Filler(size_t n, char seed) {
  // Prose-like bytes with no entity in them.
  static const std::string kWords[] = {"the ",  "model ", "said ",  "that ", "it ",   "would ",
                                       "look ", "into ",  "this, ", "and ",  "then ", "reply. "};
  std::string s;
  for (size_t i = 0; s.size() < n; ++i) s += kWords[(i * 7 + static_cast<size_t>(seed)) % 12];
  return s.substr(0, n);
}

const std::string kJwt =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaW"
    "F0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

const std::string kKey =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDrXXw4Y2pEwz+YxQ0p2UiIpyEt5Rk1uYRBrB0w3g7XnQAAAJhq0xq3atMa\n"
    "twAAAAtzc2gtZWQyNTUxOQAAACDrXXw4Y2pEwz+YxQ0p2UiIpyEt5Rk1uYRBrB0w3g7XnQ\n"
    "-----END OPENSSH PRIVATE KEY-----";

// Texts whose entities sit at many distances from the chunk and cut points.
std::vector<std::string> Corpus() {
  return {
      "Write to alice@example.com or call +1 (415) 555-2671. " + Filler(300, 1) +
          "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00. " + Filler(200, 2) +
          "SSN: 123-45-6789 and my name is John Smith. Server 10.0.0.1 and 2001:db8::1.",
      Filler(330, 3) + "token U8JZpDE0iGXlD6gNCFba then AKIAIOSFODNN7EXAMPLE " + Filler(50, 4) +
          "Bearer " + kJwt + ". " + Filler(400, 5) +
          "Ship to 1600 Pennsylvania Avenue, Washington, DC 20500 or 221B Baker Street.",
      "key:\n" + kKey + "\n" + Filler(500, 6) + "password=hunter2! and bob@example.com",
      Filler(310, 7) + "alice@example.com" + Filler(11, 8) + "alice@example.com " + Filler(328, 9) +
          "Dr. Emily Watson, 4111111111111111 " + Filler(5, 1) +
          "\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 my name is Jos\xC3\xA9 Garc\xC3\xAD"
          "a",
      // A private-key header without END: the block is truncated after its base64.
      Filler(100, 2) + "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nxyzXYZ09\n" +
          Filler(900, 3) + " carol@example.org",
      // Malformed UTF-8 and entities right at the start and end.
      "bob@example.com \xFF\xFE\xC3 " + Filler(400, 4) + "\xE2\x82 4111-1111-1111-1111",
  };
}

struct StreamResult {
  std::string text;
  bool blocked = false;
  std::vector<Finding> applied;
};

StreamResult Whole(const std::string& text, const RedactionPolicy& policy) {
  TokenVault vault;
  RedactionResult r = Redact(text, Detector().Scan(text), policy, &vault);
  return {r.text, r.blocked, r.applied};
}

StreamResult Streamed(const std::string& text, const std::vector<size_t>& cuts,
                      const RedactionPolicy& policy) {
  TokenVault vault;
  StreamRedactor s(Detector(), policy, &vault);
  StreamResult r;
  size_t prev = 0;
  for (size_t c : cuts) {
    r.text += s.Push(std::string_view(text).substr(prev, c - prev));
    prev = c;
  }
  r.text += s.Push(std::string_view(text).substr(prev));
  r.text += s.Finish();
  r.blocked = s.blocked();
  r.applied = s.applied();
  return r;
}

TEST(StreamRedactorTest, EverySplitPointGivesTheWholeTextResult) {
  const RedactionPolicy policy = MixedPolicy();
  for (const std::string& text : Corpus()) {
    const StreamResult want = Whole(text, policy);
    ASSERT_FALSE(want.applied.empty());
    for (size_t i = 0; i <= text.size(); ++i) {
      const StreamResult got = Streamed(text, {i}, policy);
      ASSERT_EQ(got.text, want.text) << "split at " << i << " of:\n" << text;
      ASSERT_EQ(got.applied, want.applied) << "split at " << i;
      ASSERT_EQ(got.blocked, want.blocked);
    }
  }
}

TEST(StreamRedactorTest, RandomMultiSplitsGiveTheWholeTextResult) {
  const RedactionPolicy policy = MixedPolicy();
  std::mt19937 rng(20240131);
  for (const std::string& text : Corpus()) {
    const StreamResult want = Whole(text, policy);
    for (int round = 0; round < 60; ++round) {
      // Token-sized chunks mostly, sometimes large ones.
      const size_t max_chunk = round % 3 == 0 ? 200 : 12;
      std::vector<size_t> cuts;
      for (size_t pos = 0;;) {
        pos += 1 + rng() % max_chunk;
        if (pos >= text.size()) break;
        cuts.push_back(pos);
      }
      const StreamResult got = Streamed(text, cuts, policy);
      ASSERT_EQ(got.text, want.text) << "round " << round;
      ASSERT_EQ(got.applied, want.applied) << "round " << round;
    }
    // One byte at a time.
    std::vector<size_t> every;
    for (size_t i = 1; i < text.size(); ++i) every.push_back(i);
    EXPECT_EQ(Streamed(text, every, policy).text, want.text);
  }
}

TEST(StreamRedactorTest, RandomTextsFromSnippetsGiveTheWholeTextResult) {
  // Entities, near misses and noise glued together without separators as well
  // as with them, so candidates touch and overlap at random places.
  // clang-format off
  std::vector<std::string> snippets = {
      "alice@example.com", "bob.smith+x@mail.example.co.uk", " ", "\n", ". ", ", ", "@", ".",
      "+1 (415) 555-2671", "415-555-2671", "phone ", "555-1234", "2024-01-31", "1.2.3.4.5",
      "4111 1111 1111 1111", "4111111111111112", "DE89 3704 0044 0532 0130 00",
      "GB82WEST12345698765432", "SSN ", "123-45-6789", "000-12-3456", "192.168.1.1", "::1",
      "2001:db8::1", "AKIAIOSFODNN7EXAMPLE", "sk-proj-abc123DEF456ghi789JKL012mno345",
      "password=hunter2!", kJwt, "U8JZpDE0iGXlD6gNCFba", "3f786850e387550fdab836ed7e6dc881de23001b",
      "secret ", "my name is John Smith", "Dr. Emily Watson", "Signed, Ann Lee",
      "1600 Pennsylvania Avenue, Washington, DC 20500", "12 Oak St.", kKey,
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n", "<EMAIL_1>", "\xC3\xA9", "\xFF",
      "12345", "-", "x", "eyJhbGciOiJub25lIn0", "eyJ", "-----BEGIN RSA PRIVATE KEY-----",
      "-----END RSA PRIVATE KEY-----", "name: ", "Mr ", "Ann ", "Lee", "token=", " ext. 12",
      "(415)", ":", "ffff", "0000", "1", "=", "/", "Street", " 42 ", "Main ",
      ", Springfield, IL 62704", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
  // clang-format on
  snippets.push_back(std::string(70, 'Q') + "9z");
  for (int i = 1; i <= 3; ++i) snippets.push_back(Filler(40 * i * i, static_cast<char>(i)));
  const RedactionPolicy policy = MixedPolicy();
  std::mt19937 rng(7);
  for (int t = 0; t < 150; ++t) {
    std::string text;
    const size_t target = 200 + rng() % 2500;
    while (text.size() < target) text += snippets[rng() % snippets.size()];
    const StreamResult want = Whole(text, policy);
    for (int round = 0; round < 4; ++round) {
      const size_t max_chunk = round == 0 ? 3 : (round == 1 ? 17 : 400);
      std::vector<size_t> cuts;
      for (size_t pos = 0;;) {
        pos += 1 + rng() % max_chunk;
        if (pos >= text.size()) break;
        cuts.push_back(pos);
      }
      const StreamResult got = Streamed(text, cuts, policy);
      ASSERT_EQ(got.text, want.text) << "text " << t << " round " << round << ":\n" << text;
      ASSERT_EQ(got.applied, want.applied) << "text " << t << " round " << round;
    }
  }
}

TEST(StreamRedactorTest, CatchesEntitiesSplitAcrossChunks) {
  RedactionPolicy p;
  TokenVault vault;
  StreamRedactor s(Detector(), p, &vault);
  std::string out = s.Push("mail alice@exa");
  out += s.Push("mple.com and card 4111 1111 11");
  out += s.Push("11 1111 ok");
  out += s.Finish();
  EXPECT_EQ(out, "mail [EMAIL] and card [CREDIT_CARD ****1111] ok");
  ASSERT_EQ(s.applied().size(), 2u);
  EXPECT_EQ(s.applied()[0].start, 5u);
  EXPECT_EQ(s.applied()[1].value, "4111 1111 1111 1111");
}

TEST(StreamRedactorTest, BlockIsReported) {
  RedactionPolicy p;
  p.per_type["US_SSN"] = Mode::kBlock;
  TokenVault vault;
  StreamRedactor s(Detector(), p, &vault);
  std::string out = s.Push("my SSN is 123-45-");
  EXPECT_FALSE(s.blocked());
  out += s.Push("6789, thanks");
  out += s.Finish();
  EXPECT_TRUE(s.blocked());
  EXPECT_EQ(s.blocked_type(), "US_SSN");
  EXPECT_EQ(out, "my SSN is [US_SSN], thanks");
}

TEST(StreamRedactorTest, HeldTailStaysBounded) {
  RedactionPolicy p;
  TokenVault vault;
  StreamRedactor s(Detector(), p, &vault);
  const std::string text = Filler(20000, 5);
  size_t emitted = 0;
  size_t max_held = 0;
  for (size_t i = 0; i < text.size(); i += 7) {
    emitted += s.Push(std::string_view(text).substr(i, 7)).size();
    EXPECT_EQ(emitted + s.held_bytes(), std::min(i + 7, text.size()));
    max_held = std::max(max_held, s.held_bytes());
  }
  // kMaxEntityBytes + kLookaheadBytes, plus what is gathered before a rescan.
  EXPECT_LE(max_held, 500u);
  EXPECT_EQ(emitted + s.Finish().size(), text.size());
  EXPECT_EQ(s.held_bytes(), 0u);
}

TEST(StreamRedactorTest, PrivateKeyIsHeldUntilItsEnd) {
  RedactionPolicy p;
  TokenVault vault;
  StreamRedactor s(Detector(), p, &vault);
  const std::string before = Filler(1000, 1);
  const std::string text = before + kKey + "\n" + Filler(1000, 2);
  std::string out;
  for (size_t i = 0; i < text.size(); i += 5) {
    out += s.Push(std::string_view(text).substr(i, 5));
    // Nothing of the block leaks while it is incomplete.
    EXPECT_EQ(out.find("b3BlbnNz"), std::string::npos);
    EXPECT_EQ(out.find("BEGIN"), std::string::npos);
  }
  out += s.Finish();
  EXPECT_EQ(out, before + "[PRIVATE_KEY]\n" + Filler(1000, 2));
}

TEST(StreamRedactorTest, UnterminatedPrivateKeyIsReleasedAtTheCap) {
  RedactionPolicy p;
  TokenVault vault;
  StreamRedactor s(Detector(), p, &vault);
  const std::string text = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n" + Filler(40000, 3);
  std::string out;
  size_t max_held = 0;
  for (size_t i = 0; i < text.size(); i += 100) {
    out += s.Push(std::string_view(text).substr(i, 100));
    max_held = std::max(max_held, s.held_bytes());
  }
  // Past the cap the header stops holding the stream back.
  EXPECT_LE(max_held, PiiDetector::kMaxPrivateKeyBytes + 4096 + 100);
  EXPECT_LE(s.held_bytes(), 600u);
  out += s.Finish();
  EXPECT_EQ(out, "[PRIVATE_KEY]\n" + Filler(40000, 3));
}

TEST(StreamRedactorTest, AdversarialChainsStillStream) {
  // Each "password=" starts a key assignment whose 128-byte value overlaps the
  // next one: a chain of overlapping candidates through the whole text. The
  // stream forces cuts instead of holding everything back.
  RedactionPolicy p;
  TokenVault vault;
  StreamRedactor s(Detector(), p, &vault);
  std::string text;
  while (text.size() < 160000) text += "password=1/";
  std::string out;
  size_t max_held = 0;
  for (size_t i = 0; i < text.size(); i += 100) {
    out += s.Push(std::string_view(text).substr(i, 100));
    max_held = std::max(max_held, s.held_bytes());
  }
  out += s.Finish();
  EXPECT_LE(max_held, PiiDetector::kMaxHoldBytes + 4096 + 100);
  EXPECT_GT(s.applied().size(), 100u);
  // What was emitted is exactly the input with the applied findings redacted:
  // no finding was split by a forced cut.
  TokenVault unused;
  EXPECT_EQ(out, Redact(text, s.applied(), p, &unused).text);
}

TEST(StreamRestorerTest, EverySplitPointRestoresLikeTheWholeText) {
  TokenVault vault;
  vault.Tokenize("EMAIL", "alice@example.com");
  vault.Tokenize("PERSON", "John Smith");
  const std::string text = "Dear <PERSON_1>, I wrote to <EMAIL_1> (not <EMAIL_9>) <<EMAIL_1>> " +
                           Filler(50, 1) + " a<b <EMAIL_1";
  const std::string want = vault.Restore(text);
  EXPECT_TRUE(want.starts_with("Dear John Smith, I wrote to alice@example.com (not <EMAIL_9>)"));
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); j += 3) {
      StreamRestorer r(vault);
      std::string got = r.Push(std::string_view(text).substr(0, i));
      got += r.Push(std::string_view(text).substr(i, j - i));
      got += r.Push(std::string_view(text).substr(j));
      got += r.Finish();
      ASSERT_EQ(got, want) << i << " " << j;
    }
  }
}

TEST(StreamRestorerTest, PlaceholderSplitInTwo) {
  TokenVault vault;
  vault.Tokenize("EMAIL", "alice@example.com");
  StreamRestorer r(vault);
  EXPECT_EQ(r.Push("write to <EMA"), "write to ");
  EXPECT_EQ(r.Push("IL_1> now"), "alice@example.com now");
  EXPECT_EQ(r.Finish(), "");
}

TEST(StreamRestorerTest, RedactorThenRestorer) {
  // Output path: the model's placeholders are restored, new PII is masked.
  RedactionPolicy input_policy;
  input_policy.default_mode = Mode::kTokenize;
  TokenVault vault;
  const RedactionResult prompt = Redact(
      "I am alice@example.com", Detector().Scan("I am alice@example.com"), input_policy, &vault);
  EXPECT_EQ(prompt.text, "I am <EMAIL_1>");
  RedactionPolicy output_policy;
  StreamRedactor redactor(Detector(), output_policy, &vault);
  StreamRestorer restorer(vault);
  const std::string answer = "Hello <EMAIL_1>! Contact support at help@corp.example.";
  std::string out;
  for (size_t i = 0; i < answer.size(); i += 4) {
    out += restorer.Push(redactor.Push(std::string_view(answer).substr(i, 4)));
  }
  out += restorer.Push(redactor.Finish());
  out += restorer.Finish();
  EXPECT_EQ(out, "Hello alice@example.com! Contact support at [EMAIL].");
}

}  // namespace
}  // namespace gantry::guard
