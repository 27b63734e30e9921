#include "engine/sampler.h"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>

namespace gantry::engine {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kMaxTopLogprobs = 20;

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

Status OutOfRange(const char* field, const char* range, double got) {
  return InvalidArgument(std::string(field) + " must be " + range + ", got " + Num(got));
}

}  // namespace

Status SamplingParams::Validate() const {
  // Written as !(in range) so that NaN fails too.
  if (!(temperature >= 0.0f && temperature <= 2.0f)) {
    return OutOfRange("temperature", "in [0, 2]", temperature);
  }
  if (top_k < 0) return OutOfRange("top_k", ">= 0 (0 = off)", top_k);
  if (!(top_p > 0.0f && top_p <= 1.0f)) return OutOfRange("top_p", "in (0, 1]", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f)) return OutOfRange("min_p", "in [0, 1]", min_p);
  if (!(repetition_penalty > 0.0f && std::isfinite(repetition_penalty))) {
    return OutOfRange("repetition_penalty", "> 0 and finite", repetition_penalty);
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    return OutOfRange("frequency_penalty", "in [-2, 2]", frequency_penalty);
  }
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    return OutOfRange("presence_penalty", "in [-2, 2]", presence_penalty);
  }
  if (penalty_last_n < 0) return OutOfRange("penalty_last_n", ">= 0 (0 = none)", penalty_last_n);
  if (top_logprobs < 0 || top_logprobs > kMaxTopLogprobs) {
    return OutOfRange("top_logprobs", "in [0, 20]", top_logprobs);
  }
  if (top_logprobs > 0 && !logprobs) {
    return InvalidArgument("top_logprobs requires logprobs to be true");
  }
  return OkStatus();
}

Result<std::unique_ptr<Sampler>> Sampler::Create(const SamplingParams& params) {
  RETURN_IF_ERROR(params.Validate());
  uint64_t seed = 0;
  if (params.seed) {
    seed = *params.seed;
  } else {
    std::random_device rd;
    seed = (static_cast<uint64_t>(rd()) << 32) ^ static_cast<uint64_t>(rd());
  }
  return std::unique_ptr<Sampler>(new Sampler(params, seed));
}

Sampler::Sampler(const SamplingParams& params, uint64_t seed)
    : params_(params), seed_(seed), rng_(seed) {}

void Sampler::Accept(int32_t token) {
  const size_t cap = static_cast<size_t>(params_.penalty_last_n);
  if (cap == 0) return;
  if (history_.size() < cap) {
    history_.push_back(token);
  } else {
    history_[history_next_] = token;
    history_next_ = (history_next_ + 1) % cap;
  }
}

void Sampler::AcceptPrompt(std::span<const int32_t> tokens) {
  // Only the tail can end up in the window.
  const size_t cap = static_cast<size_t>(params_.penalty_last_n);
  if (tokens.size() > cap) tokens = tokens.subspan(tokens.size() - cap);
  for (int32_t t : tokens) Accept(t);
}

void Sampler::ResetHistory() {
  history_.clear();
  history_next_ = 0;
}

void Sampler::ApplyPenalties(std::span<float> logits) {
  const float rep = params_.repetition_penalty;
  const float freq = params_.frequency_penalty;
  const float pres = params_.presence_penalty;
  if (history_.empty() || (rep == 1.0f && freq == 0.0f && pres == 0.0f)) return;
  window_.assign(history_.begin(), history_.end());
  std::sort(window_.begin(), window_.end());
  const int64_t n = static_cast<int64_t>(logits.size());
  for (size_t i = 0; i < window_.size();) {
    const int32_t token = window_[i];
    size_t j = i;
    while (j < window_.size() && window_[j] == token) ++j;
    const int count = static_cast<int>(j - i);
    i = j;
    if (token < 0 || token >= n) continue;
    float& l = logits[static_cast<size_t>(token)];
    if (rep != 1.0f) l = l <= 0.0f ? l * rep : l / rep;
    l -= static_cast<float>(count) * freq + pres;
  }
}

namespace {

// The total order "more likely first": logit descending, then id ascending.
template <typename C>
bool Better(const C& a, const C& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

}  // namespace

void Sampler::FillLogprobs(std::span<const float> logits, float max_logit,
                           SampleResult& out) const {
  double sum = 0.0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max_logit);
  const double lse = max_logit + std::log(sum);
  out.logprob = static_cast<float>(logits[static_cast<size_t>(out.token)] - lse);

  // Top N in one pass: most tokens fail the first comparison against the current Nth.
  const size_t want = std::min(static_cast<size_t>(params_.top_logprobs), logits.size());
  out.top.clear();
  if (want == 0) return;
  std::vector<Candidate> best;
  best.reserve(want + 1);
  for (size_t i = 0; i < logits.size(); ++i) {
    const Candidate c{logits[i], static_cast<int32_t>(i)};
    if (best.size() == want && !Better(c, best.back())) continue;
    auto pos =
        std::upper_bound(best.begin(), best.end(), c,
                         [](const Candidate& a, const Candidate& b) { return Better(a, b); });
    best.insert(pos, c);
    if (best.size() > want) best.pop_back();
  }
  out.top.reserve(want);
  for (const Candidate& c : best) out.top.push_back({c.id, static_cast<float>(c.logit - lse)});
}

void Sampler::Truncate(std::span<const float> logits) {
  const size_t n = logits.size();
  cand_.resize(n);
  for (size_t i = 0; i < n; ++i) cand_[i] = {logits[i], static_cast<int32_t>(i)};
  const auto better = [](const Candidate& a, const Candidate& b) { return Better(a, b); };

  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    const size_t k = static_cast<size_t>(params_.top_k);
    std::nth_element(cand_.begin(), cand_.begin() + static_cast<ptrdiff_t>(k), cand_.end(), better);
    cand_.resize(k);
  }

  if (params_.top_p < 1.0f) {
    float m = -kInf;
    for (const Candidate& c : cand_) m = std::max(m, c.logit);
    double total = 0.0;
    for (const Candidate& c : cand_) total += std::exp(static_cast<double>(c.logit) - m);
    const double target = static_cast<double>(params_.top_p) * total;
    const auto weight = [m](const Candidate& c) {
      return std::exp(static_cast<double>(c.logit) - m);
    };
    const auto at = [this](size_t i) { return cand_.begin() + static_cast<ptrdiff_t>(i); };
    // Narrow down [lo, hi), the slice of the best-first order where the cumulative mass
    // crosses the target, without sorting: [0, lo) is known to be better than the slice
    // and to hold `before` of the mass, [hi, size) to be worse. Peaked distributions
    // cross within the best few dozen tokens, so the first cut is at 64; after that,
    // halving with nth_element keeps the whole search O(n) expected.
    constexpr size_t kSortBelow = 64;
    size_t lo = 0;
    size_t hi = cand_.size();
    double before = 0.0;
    bool first_cut = true;
    while (hi - lo > kSortBelow) {
      const size_t mid = first_cut ? lo + kSortBelow : lo + (hi - lo) / 2;
      first_cut = false;
      std::nth_element(at(lo), at(mid), at(hi), better);
      double mass = 0.0;
      for (size_t i = lo; i < mid; ++i) mass += weight(cand_[i]);
      if (before + mass >= target) {
        hi = mid;
      } else {
        before += mass;
        lo = mid;
      }
    }
    std::sort(at(lo), at(hi), better);
    size_t keep = hi;  // if rounding kept the sum below the target
    for (size_t i = lo; i < hi; ++i) {
      before += weight(cand_[i]);
      if (before >= target) {
        keep = i + 1;
        break;
      }
    }
    cand_.resize(keep);
  }

  if (params_.min_p > 0.0f) {
    float m = -kInf;
    for (const Candidate& c : cand_) m = std::max(m, c.logit);
    // p_i >= min_p * p_max  <=>  logit_i >= max_logit + log(min_p) (as llama.cpp).
    const float threshold = m + std::log(params_.min_p);
    std::erase_if(cand_, [threshold](const Candidate& c) { return c.logit < threshold; });
  }
}

int32_t Sampler::Draw(std::span<const float> logits, float max_logit, const Candidate* worst_kept) {
  // Survivors are a prefix of the best-first order, so "not worse than the worst kept
  // one" selects them; walking ids in ascending order makes the draw independent of
  // how nth_element happened to arrange the candidates.
  const float temperature = params_.temperature;
  kept_.clear();
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const Candidate c{logits[i], static_cast<int32_t>(i)};
    if (worst_kept != nullptr && Better(*worst_kept, c)) continue;
    const float w = std::exp((c.logit - max_logit) / temperature);
    if (w > 0.0f) {
      kept_.emplace_back(c.id, w);
      total += w;
    }
  }
  // The best token has weight exp(0) = 1, so kept_ is never empty.
  assert(!kept_.empty());
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;  // [0, 1)
  const double target = u * total;
  double cum = 0.0;
  for (const auto& [id, w] : kept_) {
    cum += w;
    if (target < cum) return id;
  }
  return kept_.back().first;  // rounding: target landed on the total
}

SampleResult Sampler::Sample(std::span<float> logits) {
  assert(!logits.empty());
  ApplyPenalties(logits);

  // Clean-up and the arg max (ties to the lowest id) in one pass.
  float max_logit = -kInf;
  size_t argmax = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    float& l = logits[i];
    if (std::isnan(l)) {
      l = -kInf;
    } else if (l == kInf) {
      l = FLT_MAX;
    }
    if (l > max_logit) {
      max_logit = l;
      argmax = i;
    }
  }
  if (max_logit == -kInf) {  // nothing finite: uniform
    std::fill(logits.begin(), logits.end(), 0.0f);
    max_logit = 0.0f;
    argmax = 0;
  }

  SampleResult out;
  if (params_.temperature == 0.0f) {
    out.token = static_cast<int32_t>(argmax);
  } else {
    const bool truncate =
        (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < logits.size()) ||
        params_.top_p < 1.0f || params_.min_p > 0.0f;
    if (!truncate) {
      out.token = Draw(logits, max_logit, nullptr);
    } else {
      Truncate(logits);
      const auto worst =
          std::min_element(cand_.begin(), cand_.end(),
                           [](const Candidate& a, const Candidate& b) { return Better(b, a); });
      const Candidate worst_kept = *worst;
      out.token = Draw(logits, max_logit, &worst_kept);
    }
  }
  if (params_.logprobs) FillLogprobs(logits, max_logit, out);
  return out;
}

}  // namespace gantry::engine
