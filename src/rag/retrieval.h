// Retrieval building blocks: fusion, diversity and the rerank hook. Pure
// functions over candidate lists; RagService wires them to the store and the
// vector index.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/request_context.h"
#include "core/status.h"
#include "providers/chat_model.h"

namespace gantry::rag {

enum class SearchMode { kLexical, kDense, kHybrid };
Result<SearchMode> ParseSearchMode(const std::string& s);  // lexical | dense | hybrid
const char* SearchModeName(SearchMode m);

// Reciprocal rank fusion (Cormack et al. 2009): score(d) = sum over lists of
// weight / (k + rank), rank 1-based. Ties keep the order of first appearance.
// Returns (id, fused score), best first.
struct FusedId {
  int64_t id = 0;
  double score = 0;
};
std::vector<FusedId> ReciprocalRankFusion(const std::vector<std::vector<int64_t>>& ranked_lists,
                                          const std::vector<double>& weights, double k = 60);

// Maximal marginal relevance: picks `k` of the candidates, each time the one
// maximizing lambda * sim(query, c) - (1 - lambda) * max sim(c, picked).
// `relevance[i]` is sim(query, candidates[i]); `vectors` are unit vectors.
// Returns indexes into the candidates, in pick order. lambda = 1 keeps the
// relevance order.
std::vector<size_t> MaximalMarginalRelevance(const std::vector<double>& relevance,
                                             const std::vector<std::vector<float>>& vectors,
                                             size_t k, double lambda);

float Dot(const std::vector<float>& a, const std::vector<float>& b);

// The terms of a user question that are worth matching lexically: lowercase
// words with English stop words removed (a question of only stop words keeps
// them all). The store quotes each term, so FTS syntax in the text is inert.
std::string LexicalQueryText(const std::string& question);

// Optional second stage: scores (query, passage) pairs, higher is more
// relevant; one score per text, in order. Implementations may call a model.
class Reranker {
 public:
  virtual ~Reranker() = default;
  virtual providers::Awaitable<Result<std::vector<double>>> Score(
      const RequestContext& ctx, const std::string& query,
      const std::vector<std::string>& passages) = 0;
};

}  // namespace gantry::rag
