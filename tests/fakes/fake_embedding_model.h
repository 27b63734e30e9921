// BagOfWordsEmbed: a deterministic rag::EmbedFn for tests. Each lowercase
// alphanumeric word is hashed into one of `dim` buckets and the counts are
// L2-normalized, so texts that share words are similar and texts with
// disjoint words are (up to hash collisions) orthogonal. A text with no words
// maps to a fixed unit vector rather than the zero vector.
#pragma once

#include <cctype>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rag/rag_service.h"

namespace gantry::testing {

inline std::vector<float> BagOfWordsVector(std::string_view text, int dim) {
  std::vector<float> v(static_cast<size_t>(dim), 0.0f);
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : word) h = (h ^ c) * 1099511628211ull;
    v[h % static_cast<uint64_t>(dim)] += 1.0f;
    word.clear();
  };
  for (unsigned char c : text) {
    if (std::isalnum(c)) {
      word += static_cast<char>(std::tolower(c));
    } else {
      flush();
    }
  }
  flush();
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  if (norm == 0) {
    v[0] = 1.0f;
    return v;
  }
  const float inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : v) x *= inv;
  return v;
}

// Counts the embedding requests it answers (shared by copies of the EmbedFn).
struct EmbedCalls {
  int requests = 0;
  int texts = 0;
};

inline providers::Awaitable<Result<providers::EmbeddingResponse>> BagOfWordsEmbedImpl(
    int dim, std::shared_ptr<EmbedCalls> calls, providers::EmbeddingRequest request) {
  providers::EmbeddingResponse r;
  r.model = request.model;
  std::vector<std::string> inputs;
  if (request.input.is_string()) {
    inputs.push_back(request.input.get<std::string>());
  } else {
    for (const auto& e : request.input) inputs.push_back(e.get<std::string>());
  }
  if (calls) {
    ++calls->requests;
    calls->texts += static_cast<int>(inputs.size());
  }
  for (const auto& in : inputs) r.data.push_back(BagOfWordsVector(in, dim));
  co_return r;
}

inline rag::EmbedFn BagOfWordsEmbed(int dim, std::shared_ptr<EmbedCalls> calls = nullptr) {
  return [dim, calls](const RequestContext&, providers::EmbeddingRequest request) {
    return BagOfWordsEmbedImpl(dim, calls, std::move(request));
  };
}

}  // namespace gantry::testing
