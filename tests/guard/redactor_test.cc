#include "guard/redactor.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "guard/pii.h"
#include "guard/token_vault.h"

namespace gantry::guard {
namespace {

const PiiDetector& Detector() {
  static const PiiDetector detector;
  return detector;
}

RedactionResult RedactAll(std::string_view text, const RedactionPolicy& policy, TokenVault* vault) {
  return Redact(text, Detector().Scan(text), policy, vault);
}

TEST(RedactorTest, ParseModeNamesEveryMode) {
  for (Mode m : {Mode::kAllow, Mode::kMask, Mode::kHash, Mode::kTokenize, Mode::kBlock}) {
    auto parsed = ParseMode(ModeName(m));
    ASSERT_TRUE(parsed.ok()) << ModeName(m);
    EXPECT_EQ(*parsed, m);
  }
  EXPECT_EQ(*ParseMode("mask"), Mode::kMask);
  auto bad = ParseMode("scramble");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "unknown redaction mode \"scramble\"; expected allow, mask, hash, tokenize or block");
  EXPECT_FALSE(ParseMode("MASK").ok());
  EXPECT_FALSE(ParseMode("").ok());
}

TEST(RedactorTest, PolicyValidate) {
  RedactionPolicy p;
  EXPECT_TRUE(p.Validate().ok());
  p.per_type["EMAIL"] = Mode::kTokenize;
  EXPECT_TRUE(p.Validate().ok());
  p.per_type["EMAILS"] = Mode::kMask;
  Status st = p.Validate();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "unknown PII type \"EMAILS\" in redaction policy");
  p.per_type.erase("EMAILS");
  p.per_type["PHONE"] = Mode::kHash;
  EXPECT_EQ(p.Validate().message(), "redaction mode hash needs a salt");
  p.hash_salt = Secret("pepper");
  EXPECT_TRUE(p.Validate().ok());
  EXPECT_EQ(p.ModeFor("PHONE"), Mode::kHash);
  EXPECT_EQ(p.ModeFor("IBAN"), Mode::kMask);
}

TEST(RedactorTest, MaskKeepsLastFourOfCards) {
  RedactionPolicy p;
  const std::string text = "Mail alice@example.com, card 4111 1111 1111 1111 or 5555555555554444.";
  const RedactionResult r = RedactAll(text, p, nullptr);
  EXPECT_EQ(r.text, "Mail [EMAIL], card [CREDIT_CARD ****1111] or [CREDIT_CARD ****4444].");
  ASSERT_EQ(r.applied.size(), 3u);
  EXPECT_EQ(r.applied[0].type, "EMAIL");
  EXPECT_EQ(r.applied[0].start, 5u);
  EXPECT_FALSE(r.blocked);
  // Not Luhn-valid: not a card, left alone.
  EXPECT_EQ(RedactAll("card 4111 1111 1111 1234", p, nullptr).text, "card 4111 1111 1111 1234");
}

TEST(RedactorTest, AllowLeavesTextAndIsNotApplied) {
  RedactionPolicy p;
  p.default_mode = Mode::kAllow;
  p.per_type["IBAN"] = Mode::kMask;
  const std::string text = "alice@example.com pays to DE89 3704 0044 0532 0130 00";
  const RedactionResult r = RedactAll(text, p, nullptr);
  EXPECT_EQ(r.text, "alice@example.com pays to [IBAN]");
  ASSERT_EQ(r.applied.size(), 1u);
  EXPECT_EQ(r.applied[0].type, "IBAN");
}

TEST(RedactorTest, HashIsKeyedHmacPrefix) {
  // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") =
  // f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8.
  const Finding f{"EMAIL", 0, 43, 0.9, "The quick brown fox jumps over the lazy dog"};
  EXPECT_EQ(HashLabel(f, Secret("key")), "[EMAIL:f7bc83f43053]");

  RedactionPolicy p;
  p.default_mode = Mode::kHash;
  p.hash_salt = Secret("salt-1");
  const std::string text = "a@example.com b@example.com a@example.com";
  const RedactionResult r = RedactAll(text, p, nullptr);
  ASSERT_EQ(r.applied.size(), 3u);
  const std::string a = HashLabel(r.applied[0], p.hash_salt);
  const std::string b = HashLabel(r.applied[1], p.hash_salt);
  EXPECT_EQ(a.size(), std::string("[EMAIL:]").size() + 12);
  EXPECT_NE(a, b);
  EXPECT_EQ(r.text, a + " " + b + " " + a);
  RedactionPolicy other = p;
  other.hash_salt = Secret("salt-2");
  EXPECT_NE(RedactAll(text, other, nullptr).text, r.text);
}

TEST(RedactorTest, TokenizeRoundTrip) {
  RedactionPolicy p;
  p.default_mode = Mode::kTokenize;
  TokenVault vault;
  const std::string prompt =
      "alice@example.com wrote to bob@example.com; call alice@example.com or +1 415 555 2671";
  const RedactionResult r = RedactAll(prompt, p, &vault);
  EXPECT_EQ(r.text, "<EMAIL_1> wrote to <EMAIL_2>; call <EMAIL_1> or <PHONE_1>");
  EXPECT_EQ(vault.size(), 3u);
  // The model answers with placeholders; the user sees the originals.
  const std::string answer = "Sure: I emailed <EMAIL_1> and cc'd <EMAIL_2>, then rang <PHONE_1>.";
  EXPECT_EQ(vault.Restore(answer),
            "Sure: I emailed alice@example.com and cc'd bob@example.com, then rang +1 415 555 "
            "2671.");
  // A second prompt in the same request reuses the placeholders.
  EXPECT_EQ(RedactAll("again bob@example.com", p, &vault).text, "again <EMAIL_2>");
}

TEST(RedactorTest, TokenizeWithoutVaultMasks) {
  RedactionPolicy p;
  p.default_mode = Mode::kTokenize;
  EXPECT_EQ(RedactAll("x alice@example.com", p, nullptr).text, "x [EMAIL]");
}

TEST(RedactorTest, BlockNamesFirstBlockedType) {
  RedactionPolicy p;
  p.per_type["CREDIT_CARD"] = Mode::kBlock;
  p.per_type["US_SSN"] = Mode::kBlock;
  const RedactionResult r =
      RedactAll("mail a@b.co, ssn 123-45-6789, card 4111111111111111", p, nullptr);
  EXPECT_TRUE(r.blocked);
  EXPECT_EQ(r.blocked_type, "US_SSN");
  EXPECT_EQ(r.text, "mail [EMAIL], ssn [US_SSN], card [CREDIT_CARD ****1111]");
  EXPECT_FALSE(RedactAll("nothing here", p, nullptr).blocked);
}

TEST(RedactorTest, SkipsFindingsThatDoNotFit) {
  RedactionPolicy p;
  const std::string text = "abcdef";
  const std::vector<Finding> fs = {{"EMAIL", 0, 3, 0.9, "abc"},
                                   {"EMAIL", 2, 4, 0.9, "cd"},  // overlaps the first
                                   {"EMAIL", 5, 9, 0.9, "f"}};  // past the end
  EXPECT_EQ(Redact(text, fs, p, nullptr).text, "[EMAIL]def");
}

}  // namespace
}  // namespace gantry::guard
