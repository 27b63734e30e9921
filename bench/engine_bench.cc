// gantry-engine-bench: prompt-processing and generation speed of the local Gemma 3
// engine, as tokens/s, for a given thread count. bench/engine.sh runs it next to
// llama.cpp (llama-cpp-python) on the same GGUF; see docs/benchmarks.md.
//
//   gantry-engine-bench --model models/gemma-3-270m-q4_k_m.gguf --threads 2
//       [--prompt-tokens 128] [--gen-tokens 64] [--reps 3] [--sequences N]
//
// Prints one JSON line: {"threads", "pp_tokens", "pp_tok_s", "tg_tokens", "tg_tok_s"}
// with the best of --reps runs (after one warm-up run). The prompt is token ids
// cycling through a fixed range; generation is greedy from the prompt.
// With --sequences N > 1 it also decodes N sequences together, one ForwardBatch per step
// as the serving scheduler does, and adds "batch_sequences" and "batch_tg_tok_s" (all
// sequences' tokens per second together).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "engine/gemma3.h"

using gantry::engine::Gemma3Model;
using gantry::engine::GgufFile;
using gantry::engine::Workers;

int main(int argc, char** argv) {
  CLI::App app{"gantry local engine benchmark"};
  std::string model = "models/gemma-3-270m-q4_k_m.gguf";
  int threads = 1, prompt_tokens = 128, gen_tokens = 64, reps = 3;
  app.add_option("--model", model);
  app.add_option("--threads", threads)->check(CLI::Range(1, 256));
  app.add_option("--prompt-tokens", prompt_tokens)->check(CLI::Range(1, 4096));
  app.add_option("--gen-tokens", gen_tokens)->check(CLI::Range(1, 4096));
  app.add_option("--reps", reps)->check(CLI::Range(1, 100));
  int sequences = 1;
  app.add_option("--sequences", sequences)->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);

  auto file = GgufFile::Open(model);
  if (!file.ok()) {
    std::fprintf(stderr, "%s\n", file.status().ToString().c_str());
    return 1;
  }
  auto m = Gemma3Model::Load(*file);
  if (!m.ok()) {
    std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
    return 1;
  }
  const auto& model_ref = **m;
  Workers workers(threads);
  std::vector<int32_t> prompt = {2};
  for (int i = 1; i < prompt_tokens; ++i) prompt.push_back(1000 + (i * 37) % 5000);
  std::vector<float> logits(model_ref.hparams().n_vocab);

  double best_pp = 0, best_tg = 0;
  for (int rep = 0; rep <= reps; ++rep) {
    auto state = model_ref.NewState(prompt_tokens + gen_tokens + 1);
    const auto t0 = std::chrono::steady_clock::now();
    if (auto s = model_ref.Forward(prompt, *state, logits, workers); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    const auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < gen_tokens; ++i) {
      const int32_t next[] = {
          static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin())};
      if (auto s = model_ref.Forward(next, *state, logits, workers); !s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 1;
      }
    }
    const auto t2 = std::chrono::steady_clock::now();
    if (rep == 0) continue;  // warm-up: page in the mapping, warm caches
    const double pp = prompt_tokens / std::chrono::duration<double>(t1 - t0).count();
    const double tg = gen_tokens / std::chrono::duration<double>(t2 - t1).count();
    best_pp = std::max(best_pp, pp);
    best_tg = std::max(best_tg, tg);
  }
  nlohmann::json out = {{"engine", "gantry"},         {"threads", threads},
                        {"pp_tokens", prompt_tokens}, {"pp_tok_s", best_pp},
                        {"tg_tokens", gen_tokens},    {"tg_tok_s", best_tg}};
  if (sequences > 1) {
    // N sequences with different prompts, prefilled, then decoded together.
    const int V = model_ref.hparams().n_vocab;
    gantry::engine::Gemma3Scratch scratch;
    double best = 0;
    for (int rep = 0; rep <= reps; ++rep) {
      std::vector<std::unique_ptr<gantry::engine::Gemma3State>> states;
      std::vector<std::vector<float>> seq_logits(sequences, std::vector<float>(V));
      std::vector<int32_t> next(sequences);
      for (int q = 0; q < sequences; ++q) {
        states.push_back(model_ref.NewState(prompt_tokens + gen_tokens + 1));
        std::vector<int32_t> p = prompt;
        for (size_t i = 1; i < p.size(); ++i) p[i] += q * 17;
        if (auto s = model_ref.Forward(p, *states[q], seq_logits[q], workers); !s.ok()) return 1;
      }
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < gen_tokens; ++i) {
        std::vector<gantry::engine::Gemma3BatchItem> items;
        for (int q = 0; q < sequences; ++q) {
          next[q] = static_cast<int32_t>(
              std::max_element(seq_logits[q].begin(), seq_logits[q].end()) - seq_logits[q].begin());
          items.push_back({states[q].get(), std::span<const int32_t>(&next[q], 1), seq_logits[q]});
        }
        if (auto s = model_ref.ForwardBatch(items, scratch, workers); !s.ok()) return 1;
      }
      const auto t1 = std::chrono::steady_clock::now();
      if (rep == 0) continue;
      best =
          std::max(best, sequences * gen_tokens / std::chrono::duration<double>(t1 - t0).count());
    }
    out["batch_sequences"] = sequences;
    out["batch_tg_tok_s"] = best;
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
