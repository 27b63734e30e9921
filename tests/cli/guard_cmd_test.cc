#include "cli/guard_cmd.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace gantry::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

struct Run {
  int rc;
  std::string out, err;
};

Run Scan(const std::string& input, GuardScanFlags flags) {
  std::istringstream in(input);
  std::ostringstream out, err;
  const int rc = RunGuardScan(flags, in, out, err);
  return {rc, out.str(), err.str()};
}

TEST(GuardScan, JsonListsFindingsWithOffsetsAndActions) {
  const std::string text = "Mail alice@example.com, card 4111 1111 1111 1111.";
  GuardScanFlags f;
  f.json = true;
  f.modes = {"EMAIL=hash"};
  auto r = Scan(text, f);
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = Json::parse(r.out);
  ASSERT_EQ(j["findings"].size(), 2u) << r.out;
  const auto& email = j["findings"][0];
  EXPECT_EQ(email["type"], "EMAIL");
  EXPECT_EQ(email["value"], "alice@example.com");
  EXPECT_EQ(email["start"], text.find("alice"));
  EXPECT_EQ(email["end"], text.find(","));
  EXPECT_EQ(email["action"], "hash");
  EXPECT_GT(email["score"].get<double>(), 0.5);
  EXPECT_EQ(j["findings"][1]["type"], "CREDIT_CARD");
  EXPECT_EQ(j["findings"][1]["action"], "mask");
  const std::string redacted = j["redacted"];
  EXPECT_THAT(redacted, Not(HasSubstr("alice@example.com")));
  EXPECT_THAT(redacted, HasSubstr("****1111"));
  EXPECT_EQ(j["blocked"], false);
}

TEST(GuardScan, PlainOutputIsTheRedactedTextAndNeverEchoesValuesToStderr) {
  auto r = Scan("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 ok", {});
  ASSERT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, Not(HasSubstr("ghp_")));
  EXPECT_THAT(r.out, HasSubstr("[API_KEY]"));
  EXPECT_THAT(r.err, HasSubstr("API_KEY"));
  EXPECT_THAT(r.err, Not(HasSubstr("ghp_")));
}

TEST(GuardScan, BlockModeExitsOne) {
  GuardScanFlags f;
  f.modes = {"US_SSN=block"};
  auto r = Scan("ssn 123-45-6789", f);
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("blocks US_SSN"));
  EXPECT_THAT(r.out, Not(HasSubstr("6789")));
}

TEST(GuardScan, CleanTextPassesUnchanged) {
  GuardScanFlags f;
  f.json = true;
  auto r = Scan("Nothing personal here, version 1.2.3.", f);
  ASSERT_EQ(r.rc, 0);
  auto j = Json::parse(r.out);
  EXPECT_TRUE(j["findings"].empty());
  EXPECT_EQ(j["redacted"], "Nothing personal here, version 1.2.3.");
}

TEST(GuardScan, BadFlagsNameTheProblem) {
  GuardScanFlags f;
  f.default_mode = "shred";
  auto r = Scan("x", f);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("shred"));
  GuardScanFlags g;
  g.modes = {"EMAIL"};
  r = Scan("x", g);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("TYPE=MODE"));
  GuardScanFlags h;
  h.modes = {"NOT_A_TYPE=mask"};
  r = Scan("x", h);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("NOT_A_TYPE"));
}

TEST(GuardScan, InvalidUtf8DoesNotBreakJson) {
  GuardScanFlags f;
  f.json = true;
  auto r = Scan(std::string("bob@example.org \xff\xfe end"), f);
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = Json::parse(r.out);
  EXPECT_EQ(j["findings"][0]["type"], "EMAIL");
}

}  // namespace
}  // namespace gantry::cli
