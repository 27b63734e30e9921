#!/usr/bin/env python3
"""llama.cpp's speed on the same workload as gantry-engine-bench (one JSON line).

Prompt: the same token ids, evaluated as one batch (llama.cpp's normal prompt path);
generation: greedy, one token per eval. Best of --reps after one warm-up run.
Needs llama-cpp-python (PyPI) in .venv-ref; see bench/engine.sh.
"""
import argparse
import json
import time

import numpy as np
from llama_cpp import Llama

ap = argparse.ArgumentParser()
ap.add_argument("--model", default="models/gemma-3-270m-q4_k_m.gguf")
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--prompt-tokens", type=int, default=128)
ap.add_argument("--gen-tokens", type=int, default=64)
ap.add_argument("--reps", type=int, default=3)
a = ap.parse_args()

llm = Llama(model_path=a.model, n_ctx=a.prompt_tokens + a.gen_tokens + 8, n_threads=a.threads,
            n_threads_batch=a.threads, n_batch=512, logits_all=False, verbose=False)
prompt = [2] + [1000 + (i * 37) % 5000 for i in range(1, a.prompt_tokens)]
best_pp = best_tg = 0.0
for rep in range(a.reps + 1):
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(prompt)
    t1 = time.perf_counter()
    for _ in range(a.gen_tokens):
        tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        llm.eval([tok])
    t2 = time.perf_counter()
    if rep == 0:
        continue
    best_pp = max(best_pp, a.prompt_tokens / (t1 - t0))
    best_tg = max(best_tg, a.gen_tokens / (t2 - t1))
print(json.dumps({"engine": "llama.cpp", "threads": a.threads, "pp_tokens": a.prompt_tokens,
                  "pp_tok_s": best_pp, "tg_tokens": a.gen_tokens, "tg_tok_s": best_tg}))
