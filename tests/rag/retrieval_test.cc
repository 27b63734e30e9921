#include "rag/retrieval.h"

#include <gtest/gtest.h>

namespace gantry::rag {
namespace {

TEST(ReciprocalRankFusion, SumsReciprocalRanks) {
  // Doc 2 is second in both lists: 2/(60+2) beats 1/(60+1) for docs 1 and 3.
  auto fused = ReciprocalRankFusion({{1, 2, 4}, {3, 2}}, {});
  ASSERT_EQ(fused.size(), 4u);
  EXPECT_EQ(fused[0].id, 2);
  EXPECT_NEAR(fused[0].score, 1.0 / 62 + 1.0 / 62, 1e-12);
  EXPECT_EQ(fused[1].id, 1);  // tie with 3: first appearance wins
  EXPECT_EQ(fused[2].id, 3);
  EXPECT_EQ(fused[3].id, 4);
}

TEST(ReciprocalRankFusion, WeightsScaleLists) {
  auto fused = ReciprocalRankFusion({{1}, {2}}, {1.0, 2.0});
  ASSERT_EQ(fused.size(), 2u);
  EXPECT_EQ(fused[0].id, 2);
  EXPECT_NEAR(fused[0].score, 2.0 / 61, 1e-12);
}

TEST(ReciprocalRankFusion, EmptyInput) {
  EXPECT_TRUE(ReciprocalRankFusion({}, {}).empty());
  EXPECT_TRUE(ReciprocalRankFusion({{}, {}}, {}).empty());
}

TEST(MaximalMarginalRelevance, LambdaOneKeepsRelevanceOrder) {
  std::vector<double> rel = {0.9, 0.8, 0.7};
  std::vector<std::vector<float>> v = {{1, 0}, {1, 0}, {0, 1}};
  auto picks = MaximalMarginalRelevance(rel, v, 3, 1.0);
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2}));
}

TEST(MaximalMarginalRelevance, PrefersDiverseCandidates) {
  // 0 and 1 are duplicates; with lambda 0.5 the orthogonal 2 comes second.
  std::vector<double> rel = {0.9, 0.89, 0.6};
  std::vector<std::vector<float>> v = {{1, 0}, {1, 0}, {0, 1}};
  auto picks = MaximalMarginalRelevance(rel, v, 2, 0.5);
  EXPECT_EQ(picks, (std::vector<size_t>{0, 2}));
}

TEST(MaximalMarginalRelevance, KLargerThanCandidates) {
  auto picks = MaximalMarginalRelevance({0.5}, {{1, 0}}, 5, 0.5);
  EXPECT_EQ(picks.size(), 1u);
}

TEST(LexicalQueryText, DropsStopWordsAndPunctuation) {
  EXPECT_EQ(LexicalQueryText("What is the refund policy?"), "refund policy");
  EXPECT_EQ(LexicalQueryText("\"AND\" OR NEAR(x*) -y"), "near x y");
  // Only stop words: keep them rather than search for nothing.
  EXPECT_EQ(LexicalQueryText("what is it"), "what is it");
  EXPECT_EQ(LexicalQueryText(""), "");
}

TEST(SearchMode, ParsesNames) {
  EXPECT_EQ(*ParseSearchMode("lexical"), SearchMode::kLexical);
  EXPECT_EQ(*ParseSearchMode("dense"), SearchMode::kDense);
  EXPECT_EQ(*ParseSearchMode("hybrid"), SearchMode::kHybrid);
  EXPECT_FALSE(ParseSearchMode("semantic").ok());
}

}  // namespace
}  // namespace gantry::rag
