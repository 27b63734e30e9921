#include "guard/token_vault.h"

#include <string>

#include <gtest/gtest.h>

namespace gantry::guard {
namespace {

TEST(TokenVaultTest, SameValueSamePlaceholderNumberedPerType) {
  TokenVault v;
  EXPECT_EQ(v.Tokenize("EMAIL", "a@x.io"), "<EMAIL_1>");
  EXPECT_EQ(v.Tokenize("EMAIL", "b@x.io"), "<EMAIL_2>");
  EXPECT_EQ(v.Tokenize("PHONE", "+1 415 555 2671"), "<PHONE_1>");
  EXPECT_EQ(v.Tokenize("EMAIL", "a@x.io"), "<EMAIL_1>");
  // The same text under another type is another entity.
  EXPECT_EQ(v.Tokenize("PERSON", "a@x.io"), "<PERSON_1>");
  EXPECT_EQ(v.size(), 4u);
  EXPECT_EQ(v.Original("<EMAIL_2>").value_or(""), "b@x.io");
  EXPECT_FALSE(v.Original("<EMAIL_3>").has_value());
}

TEST(TokenVaultTest, OddTypesBecomePii) {
  TokenVault v;
  EXPECT_EQ(v.Tokenize("lower", "x"), "<PII_1>");
  EXPECT_EQ(v.Tokenize("A_TYPE_NAME_LONGER_THAN_20", "y"), "<PII_2>");
  EXPECT_EQ(v.Tokenize("", "z"), "<PII_3>");
}

TEST(TokenVaultTest, RestoreReplacesOnlyKnownPlaceholders) {
  TokenVault v;
  v.Tokenize("EMAIL", "alice@example.com");
  EXPECT_EQ(v.Restore("to <EMAIL_1>."), "to alice@example.com.");
  EXPECT_EQ(v.Restore("<<EMAIL_1>>"), "<alice@example.com>");
  EXPECT_EQ(v.Restore("<EMAIL_1><EMAIL_1>"), "alice@example.comalice@example.com");
  EXPECT_EQ(v.Restore("<EMAIL_2> <email_1> <EMAIL_1 > <EMAIL_1"),
            "<EMAIL_2> <email_1> <EMAIL_1 > <EMAIL_1");
  EXPECT_EQ(v.Restore("a < b > c <div>"), "a < b > c <div>");
  EXPECT_EQ(v.Restore(""), "");
}

TEST(TokenVaultTest, RestorePrefixHoldsAPossiblePlaceholder) {
  TokenVault v;
  v.Tokenize("EMAIL", "alice@example.com");
  std::string out;
  EXPECT_EQ(v.RestorePrefix("mail <EMA", /*at_end=*/false, &out), 5u);
  EXPECT_EQ(out, "mail ");
  out.clear();
  // Not a placeholder character: decided at once.
  EXPECT_EQ(v.RestorePrefix("a <b", false, &out), 4u);
  EXPECT_EQ(out, "a <b");
  out.clear();
  EXPECT_EQ(v.RestorePrefix("mail <EMA", /*at_end=*/true, &out), 9u);
  EXPECT_EQ(out, "mail <EMA");
  // A '<' followed by more placeholder characters than any placeholder has.
  out.clear();
  const std::string long_run = "<" + std::string(40, 'A');
  EXPECT_EQ(v.RestorePrefix(long_run, false, &out), long_run.size());
}

}  // namespace
}  // namespace gantry::guard
