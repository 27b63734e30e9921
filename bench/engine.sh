#!/usr/bin/env bash
# Local engine speed next to the reference tools, same files, same run: Gemma 3 prompt
# processing (pp) and generation (tg) tokens/s against llama.cpp, and MiniLM
# sentences/s against sentence-transformers, at 1 and 2 threads. See docs/benchmarks.md.
#
#   bash bench/engine.sh
#
# Needs build/gantry-engine-bench, models/ (build/gantry models pull) and the reference
# venv: python3 -m venv .venv-ref && .venv-ref/bin/pip install llama-cpp-python numpy \
#   sentence-transformers
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
models="${GANTRY_MODELS:-models}"
model="$models/gemma-3-270m-q4_k_m.gguf"
py="${REF_PYTHON:-.venv-ref/bin/python}"
[ -x build/gantry-engine-bench ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
[ -f "$model" ] || { echo "no $model: run build/gantry models pull" >&2; exit 1; }
"$py" -c "import llama_cpp" 2>/dev/null || { echo "no llama-cpp-python in $py (see header)" >&2; exit 1; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '| engine | threads | pp%s tok/s | tg%s tok/s |\n|---|---|---|---|\n' "${PP:-128}" "${TG:-64}"
for t in 1 2; do
  for eng in gantry llama.cpp; do
    if [ "$eng" = gantry ]; then
      line=$(build/gantry-engine-bench --model "$model" --threads "$t" --prompt-tokens "${PP:-128}" --gen-tokens "${TG:-64}")
    else
      line=$("$py" bench/engine_llamacpp.py --model "$model" --threads "$t" --prompt-tokens "${PP:-128}" --gen-tokens "${TG:-64}" 2>/dev/null)
    fi
    echo "$line" >&2
    echo "$line" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("| %s | %d | %.1f | %.1f |" % (d["engine"], d["threads"], d["pp_tok_s"], d["tg_tok_s"]))'
  done
done

echo
echo "Continuous batching: sequences decoded together in one pass (gantry; the serving scheduler's step)"
echo
echo "| engine | threads | sequences | total tg tok/s |"
echo "|---|---|---|---|"
for t in 1 2; do
  for n in 4 8 16; do
    line=$(build/gantry-engine-bench --model "$model" --threads "$t" --prompt-tokens 32 --gen-tokens 32 --reps 2 --sequences "$n")
    echo "$line" >&2
    echo "$line" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("| gantry | %d | %d | %.1f |" % (d["threads"], d["batch_sequences"], d["batch_tg_tok_s"]))'
  done
done

echo
echo "| engine | threads | batch | MiniLM sentences/s |"
echo "|---|---|---|---|"
build/gantry_engine_model_tests --gtest_filter='MiniLmParity.Throughput' 2>/dev/null |
  sed -n 's/^MiniLM: \([0-9]*\) thread(s), batch *\([0-9]*\): \([0-9.]*\) sentences\/s$/| gantry | \1 | \2 | \3 |/p'
"$py" bench/embed_st.py "$models/all-MiniLM-L6-v2" 2>/dev/null
