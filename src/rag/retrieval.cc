#include "rag/retrieval.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <unordered_map>
#include <unordered_set>

namespace gantry::rag {

Result<SearchMode> ParseSearchMode(const std::string& s) {
  if (s == "lexical") return SearchMode::kLexical;
  if (s == "dense") return SearchMode::kDense;
  if (s == "hybrid") return SearchMode::kHybrid;
  return InvalidArgument("mode must be \"lexical\", \"dense\" or \"hybrid\", got \"" + s + "\"");
}

const char* SearchModeName(SearchMode m) {
  switch (m) {
    case SearchMode::kLexical:
      return "lexical";
    case SearchMode::kDense:
      return "dense";
    case SearchMode::kHybrid:
      return "hybrid";
  }
  return "hybrid";
}

std::vector<FusedId> ReciprocalRankFusion(const std::vector<std::vector<int64_t>>& ranked_lists,
                                          const std::vector<double>& weights, double k) {
  std::unordered_map<int64_t, size_t> slot;
  std::vector<FusedId> out;
  for (size_t l = 0; l < ranked_lists.size(); ++l) {
    const double w = l < weights.size() ? weights[l] : 1.0;
    for (size_t r = 0; r < ranked_lists[l].size(); ++r) {
      const int64_t id = ranked_lists[l][r];
      auto [it, inserted] = slot.emplace(id, out.size());
      if (inserted) out.push_back({id, 0});
      out[it->second].score += w / (k + static_cast<double>(r + 1));
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const FusedId& a, const FusedId& b) { return a.score > b.score; });
  return out;
}

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  const size_t n = std::min(a.size(), b.size());
  float s = 0;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

std::vector<size_t> MaximalMarginalRelevance(const std::vector<double>& relevance,
                                             const std::vector<std::vector<float>>& vectors,
                                             size_t k, double lambda) {
  const size_t n = std::min(relevance.size(), vectors.size());
  std::vector<size_t> picked;
  std::vector<bool> used(n, false);
  // Highest similarity of each candidate to anything picked so far.
  std::vector<double> redundancy(n, -std::numeric_limits<double>::infinity());
  while (picked.size() < std::min(k, n)) {
    size_t best = n;
    double best_score = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < n; ++i) {
      if (used[i]) continue;
      const double red = picked.empty() ? 0.0 : redundancy[i];
      const double s = lambda * relevance[i] - (1 - lambda) * red;
      if (s > best_score) {
        best_score = s;
        best = i;
      }
    }
    if (best == n) break;
    used[best] = true;
    picked.push_back(best);
    for (size_t i = 0; i < n; ++i) {
      if (!used[i]) redundancy[i] = std::max<double>(redundancy[i], Dot(vectors[i], vectors[best]));
    }
  }
  return picked;
}

namespace {

// A short list of English function words (the NLTK set, trimmed).
const std::unordered_set<std::string>& StopWords() {
  static const auto* words = new std::unordered_set<std::string>{
      "a",       "about",    "above",   "after",  "again",  "against", "all",   "am",     "an",
      "and",     "any",      "are",     "as",     "at",     "be",      "been",  "before", "being",
      "below",   "between",  "both",    "but",    "by",     "can",     "could", "did",    "do",
      "does",    "doing",    "down",    "during", "each",   "few",     "for",   "from",   "further",
      "had",     "has",      "have",    "having", "he",     "her",     "here",  "hers",   "him",
      "his",     "how",      "i",       "if",     "in",     "into",    "is",    "it",     "its",
      "itself",  "me",       "more",    "most",   "my",     "no",      "nor",   "not",    "of",
      "off",     "on",       "once",    "only",   "or",     "other",   "our",   "ours",   "out",
      "over",    "own",      "same",    "she",    "should", "so",      "some",  "such",   "than",
      "that",    "the",      "their",   "theirs", "them",   "then",    "there", "these",  "they",
      "this",    "those",    "through", "to",     "too",    "under",   "until", "up",     "very",
      "was",     "we",       "were",    "what",   "when",   "where",   "which", "while",  "who",
      "whom",    "why",      "will",    "with",   "would",  "you",     "your",  "yours",  "tell",
      "explain", "describe", "please"};
  return *words;
}

}  // namespace

std::string LexicalQueryText(const std::string& question) {
  std::vector<std::string> words, kept;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) words.push_back(std::move(cur));
    cur.clear();
  };
  for (unsigned char c : question) {
    // Bytes >= 0x80 belong to UTF-8 letters: keep them inside words.
    if (std::isalnum(c) || c >= 0x80 || c == '_') {
      cur.push_back(static_cast<char>(std::tolower(c)));
    } else {
      flush();
    }
  }
  flush();
  for (const auto& w : words) {
    if (!StopWords().count(w)) kept.push_back(w);
  }
  if (kept.empty()) kept = words;
  std::string out;
  for (const auto& w : kept) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

}  // namespace gantry::rag
