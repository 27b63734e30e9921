// Sampler: picks the next token from one row of logits, with the semantics of
// llama.cpp's default sampler chain and the OpenAI request fields.
//
// Per Sample() call, over the n_vocab logits:
//   1. Penalties over the history window: the last `penalty_last_n` tokens passed to
//      AcceptPrompt()/Accept() (prompt and output, as llama.cpp's server does; a caller
//      that wants OpenAI's "generated tokens only" skips AcceptPrompt). For a token seen
//      `count` > 0 times in the window:
//        logit = logit <= 0 ? logit * repetition_penalty : logit / repetition_penalty
//        logit -= count * frequency_penalty + presence_penalty
//      History ids outside [0, n_vocab) are ignored.
//   2. Clean-up: NaN -> -inf, +inf -> FLT_MAX; a row with no finite value left is
//      treated as uniform (all 0). Masked tokens (-inf) are never drawn.
//   3. temperature == 0: greedy, the argmax of the penalized logits (ties to the lowest
//      id); no random number is used. Otherwise:
//   4. top-k (top_k > 0): the k best tokens.
//   5. top-p (top_p < 1): the smallest prefix, best first, of the remaining tokens whose
//      probability mass (softmax of the remaining logits, temperature 1) is >= top_p.
//   6. min-p (min_p > 0): drops tokens whose probability is < min_p * the best one's.
//   7. temperature: softmax(logit / temperature) over what remains, then one draw.
// "Best first" is the total order (logit descending, id ascending), so ties are cut
// deterministically and what survives truncation is always a prefix of that order.
// No step sorts the vocabulary: top-k is an nth_element, top-p finds where the mass
// crosses p by halving with nth_element and sorts at most 64 tokens, min-p is a
// threshold, and without truncation the draw is one O(n_vocab) pass over the full
// softmax.
//
// Determinism: each non-greedy Sample() consumes exactly one output of a
// std::mt19937_64 (whose sequence the C++ standard fixes), turned into a double in
// [0, 1) as (x >> 11) * 2^-53, and walks the surviving tokens in ascending id order
// with the cumulative weight summed in double. The same seed, logits and history give
// the same tokens on every run and platform (up to last-ulp differences of the libm
// exp, which would matter only for a draw within ~1e-7 of a boundary). Without a seed,
// the generator is seeded from std::random_device; seed() reports the seed used.
//
// Log-probabilities (OpenAI `logprobs` / `top_logprobs`): the model's distribution,
// i.e. log_softmax of the penalized, cleaned logits (after step 2) at temperature 1, over the
// whole vocabulary, before top-k/top-p/min-p and temperature. They do not depend on
// the sampling settings other than the penalties, so a token cut by truncation still
// has a finite logprob, and greedy decoding reports the same values as sampling.
//
// Thread safety: thread-compatible. A Sampler holds one sequence's history and random
// state: one thread at a time, one sequence per Sampler.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "core/status.h"

namespace gantry::engine {

struct SamplingParams {
  float temperature = 1.0f;         // [0, 2]; 0 = greedy
  int top_k = 0;                    // >= 0; 0 = off
  float top_p = 1.0f;               // (0, 1]; 1 = off
  float min_p = 0.0f;               // [0, 1]; 0 = off
  float repetition_penalty = 1.0f;  // > 0; 1 = off (llama.cpp's repeat_penalty)
  float frequency_penalty = 0.0f;   // [-2, 2] (OpenAI)
  float presence_penalty = 0.0f;    // [-2, 2] (OpenAI)
  int penalty_last_n = 64;          // >= 0: history window of the penalties; 0 = none
  std::optional<uint64_t> seed;     // unset: from std::random_device
  bool logprobs = false;            // fill SampleResult::logprob
  int top_logprobs = 0;             // [0, 20]; > 0 requires logprobs

  // kInvalidArgument naming the first field out of range (NaN is out of range).
  Status Validate() const;
};

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};

struct SampleResult {
  int32_t token = 0;
  // The chosen token's log-probability; 0 unless params.logprobs.
  float logprob = 0.0f;
  // The top_logprobs most likely tokens, best first (ties: lower id first); at most
  // n_vocab entries; empty unless params.logprobs.
  std::vector<TokenLogprob> top;
};

class Sampler final {
 public:
  // kInvalidArgument when params.Validate() fails.
  static Result<std::unique_ptr<Sampler>> Create(const SamplingParams& params);

  // Picks a token from `logits` (one per vocabulary id). On return `logits` holds the
  // cleaned, penalized logits (truncation and temperature are not written back).
  // Does not record the token: call Accept() with the token actually emitted.
  // REQUIRES: !logits.empty() and logits.size() <= INT32_MAX.
  SampleResult Sample(std::span<float> logits);

  // Appends to the penalty history (only the last penalty_last_n are kept).
  void Accept(int32_t token);
  void AcceptPrompt(std::span<const int32_t> tokens);
  // Forgets the history (the random state goes on).
  void ResetHistory();

  const SamplingParams& params() const { return params_; }
  uint64_t seed() const { return seed_; }

 private:
  struct Candidate {
    float logit;
    int32_t id;
  };

  Sampler(const SamplingParams& params, uint64_t seed);
  void ApplyPenalties(std::span<float> logits);
  void FillLogprobs(std::span<const float> logits, float max_logit, SampleResult& out) const;
  // Reduces cand_ to the tokens that survive top-k, top-p and min-p.
  void Truncate(std::span<const float> logits);
  int32_t Draw(std::span<const float> logits, float max_logit, const Candidate* worst_kept);

  SamplingParams params_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::vector<int32_t> history_;  // ring buffer of up to penalty_last_n tokens
  size_t history_next_ = 0;       // next slot to overwrite once full
  // Scratch, reused across calls.
  std::vector<int32_t> window_;
  std::vector<Candidate> cand_;
  std::vector<std::pair<int32_t, float>> kept_;
};

}  // namespace gantry::engine
