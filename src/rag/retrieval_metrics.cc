#include "rag/retrieval_metrics.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace gantry::rag {

std::vector<std::string> UniqueInOrder(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const auto& id : ids) {
    if (seen.insert(id).second) out.push_back(id);
  }
  return out;
}

double RecallAtK(const std::vector<std::string>& ranked, const std::set<std::string>& relevant,
                 size_t k) {
  if (relevant.empty()) return 0;
  size_t found = 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) found += relevant.count(ranked[i]);
  return static_cast<double>(found) / static_cast<double>(relevant.size());
}

double ReciprocalRankAtK(const std::vector<std::string>& ranked,
                         const std::set<std::string>& relevant, size_t k) {
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    if (relevant.count(ranked[i])) return 1.0 / static_cast<double>(i + 1);
  }
  return 0;
}

double NdcgAtK(const std::vector<std::string>& ranked, const std::set<std::string>& relevant,
               size_t k) {
  if (relevant.empty()) return 0;
  double dcg = 0, ideal = 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    if (relevant.count(ranked[i])) dcg += 1.0 / std::log2(static_cast<double>(i) + 2);
  }
  for (size_t i = 0; i < std::min(k, relevant.size()); ++i)
    ideal += 1.0 / std::log2(static_cast<double>(i) + 2);
  return dcg / ideal;
}

}  // namespace gantry::rag
