// gantry-engine-bench: prompt-processing and generation speed of the local Gemma 3
// engine, as tokens/s, for a given thread count. bench/engine.sh runs it next to
// llama.cpp (llama-cpp-python) on the same GGUF; see docs/benchmarks.md.
//
//   gantry-engine-bench --model models/gemma-3-270m-q4_k_m.gguf --threads 2
//       [--prompt-tokens 128] [--gen-tokens 64] [--reps 3]
//
// Prints one JSON line: {"threads", "pp_tokens", "pp_tok_s", "tg_tokens", "tg_tok_s"}
// with the best of --reps runs (after one warm-up run). The prompt is token ids
// cycling through a fixed range; generation is greedy from the prompt.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
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
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
