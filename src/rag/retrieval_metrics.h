// Ranked-retrieval metrics with binary relevance, as BEIR and trec_eval define
// them, for the RAG quality bench and the evaluation harness.
//
// `ranked` is a ranking of item ids (documents, usually), best first; an id
// may appear once (see UniqueInOrder). `relevant` is the set of ids that
// answer the query. With an empty `relevant` set every metric is 0: callers
// score unanswerable queries separately.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace gantry::rag {

// The ids in order of first appearance (chunk hits -> document ranking).
std::vector<std::string> UniqueInOrder(const std::vector<std::string>& ids);

// |relevant among the first k| / |relevant|.
double RecallAtK(const std::vector<std::string>& ranked, const std::set<std::string>& relevant,
                 size_t k);
// 1 / rank of the first relevant id within the first k, 0 when none.
double ReciprocalRankAtK(const std::vector<std::string>& ranked,
                         const std::set<std::string>& relevant, size_t k);
// DCG@k / ideal DCG@k with gain 1 for a relevant id and discount 1/log2(rank + 1).
double NdcgAtK(const std::vector<std::string>& ranked, const std::set<std::string>& relevant,
               size_t k);

}  // namespace gantry::rag
