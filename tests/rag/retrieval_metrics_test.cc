#include "rag/retrieval_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace gantry::rag {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;

TEST(RetrievalMetrics, UniqueInOrderKeepsFirstAppearance) {
  EXPECT_THAT(UniqueInOrder({"b", "a", "b", "c", "a"}), ElementsAre("b", "a", "c"));
  EXPECT_TRUE(UniqueInOrder({}).empty());
}

TEST(RetrievalMetrics, RecallCountsRelevantWithinK) {
  const std::vector<std::string> ranked = {"x", "a", "y", "b", "z", "c"};
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, {"a", "b", "c"}, 5), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, {"a", "b", "c"}, 6), 1.0);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, {"a"}, 1), 0.0);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, {"q"}, 10), 0.0);
  EXPECT_DOUBLE_EQ(RecallAtK({"a"}, {"a"}, 5), 1.0);  // shorter than k
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, {}, 5), 0.0);
}

TEST(RetrievalMetrics, ReciprocalRankOfFirstRelevant) {
  const std::vector<std::string> ranked = {"x", "y", "a", "b"};
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(ranked, {"a", "b"}, 10), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(ranked, {"b"}, 10), 0.25);
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(ranked, {"b"}, 3), 0.0);  // beyond the cutoff
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(ranked, {"x"}, 10), 1.0);
}

TEST(RetrievalMetrics, NdcgMatchesHandComputedValues) {
  // One relevant at rank 1: perfect.
  EXPECT_DOUBLE_EQ(NdcgAtK({"a", "x"}, {"a"}, 10), 1.0);
  // One relevant at rank 2: (1/log2 3) / 1.
  EXPECT_NEAR(NdcgAtK({"x", "a"}, {"a"}, 10), 1.0 / std::log2(3.0), 1e-12);
  // Two relevant at ranks 1 and 3: (1 + 1/2) / (1 + 1/log2 3).
  EXPECT_NEAR(NdcgAtK({"a", "x", "b"}, {"a", "b"}, 10), (1.0 + 0.5) / (1.0 + 1.0 / std::log2(3.0)),
              1e-12);
  // The ideal DCG is capped at k: three relevant, k = 2, both top ranks relevant.
  EXPECT_DOUBLE_EQ(NdcgAtK({"a", "b", "c"}, {"a", "b", "c"}, 2), 1.0);
  // Nothing relevant retrieved within k.
  EXPECT_DOUBLE_EQ(NdcgAtK({"x", "y", "a"}, {"a"}, 2), 0.0);
  EXPECT_DOUBLE_EQ(NdcgAtK({"a"}, {}, 10), 0.0);
}

}  // namespace
}  // namespace gantry::rag
