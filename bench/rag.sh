#!/usr/bin/env bash
# RAG retrieval quality and speed, next to the reference tools in the same run.
# See docs/benchmarks.md ("RAG").
#
#   bash bench/rag.sh [quality|ingest|latency|all]     (default: all)
#
# quality: gantry-rag-bench quality on examples/rag-eval (recall@5, MRR@10, nDCG@10 for
#          lexical, dense and hybrid, and the answer stage's relevance floor), then
#          bench/rag_ref.py on the very same chunks (rank_bm25, sentence-transformers).
# ingest:  ingestion MB/s, chunks/s, embeddings/s with the real MiniLM (COPIES copies of
#          the corpus, default 4), and sentence-transformers' embeddings/s on those chunks.
# latency: search p50/p99 on CHUNKS synthetic chunks (default 100000).
#
# Needs build/gantry-rag-bench (scripts/build.sh), models/ (build/gantry models pull) and
# the reference venv: python3 -m venv .venv-ref && .venv-ref/bin/pip install numpy \
#   sentence-transformers rank_bm25
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
what="${1:-all}"
py="${REF_PYTHON:-.venv-ref/bin/python}"
bench=build/gantry-rag-bench
[ -x "$bench" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
"$py" -c "import rank_bm25, sentence_transformers" 2>/dev/null ||
  { echo "no rank_bm25 / sentence-transformers in $py (see header)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

if [ "$what" = quality ] || [ "$what" = all ]; then
  echo "## Retrieval quality: gantry (FTS5 bm25, MiniLM + HNSW, RRF)"
  echo
  "$bench" quality --dump-chunks "$tmp/chunks.jsonl"
  echo
  echo "## Reference on the same chunks: rank_bm25, sentence-transformers exact cosine, RRF"
  echo
  "$py" bench/rag_ref.py --chunks "$tmp/chunks.jsonl" 2>/dev/null
  echo
fi

if [ "$what" = ingest ] || [ "$what" = all ]; then
  echo "## Ingestion with the real MiniLM (${COPIES:-4} copies of examples/rag-eval/corpus)"
  echo
  echo "| threads | MB | chunks | MB/s | chunks/s | embeddings/s | share of time embedding |"
  echo "|---|---|---|---|---|---|---|"
  for t in 1 2; do
    "$bench" ingest --copies "${COPIES:-4}" --threads "$t" 2>/dev/null |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print("| %d | %.2f | %d | %.3f | %.1f | %.1f | %.0f%% |" % (d["threads"], d["mb"], d["chunks"], d["mb_s"], d["chunks_s"], d["embeddings_s"], 100*d["embed_share"]))'
  done
  [ -f "$tmp/chunks.jsonl" ] || "$bench" quality --dump-chunks "$tmp/chunks.jsonl" >/dev/null 2>&1
  echo
  echo "| reference | threads | chunks | embeddings/s |"
  echo "|---|---|---|---|"
  for t in 1 2; do
    "$py" bench/rag_ref.py --chunks "$tmp/chunks.jsonl" --embed-throughput --threads "$t" 2>/dev/null |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print("| %s | %d | %d | %.1f |" % (d["engine"], d["threads"], d["chunks"], d["embeddings_s"]))'
  done
  echo
fi

if [ "$what" = latency ] || [ "$what" = all ]; then
  echo "## Search latency at ${CHUNKS:-100000} chunks (k=10, one query at a time)"
  echo
  "$bench" latency --chunks "${CHUNKS:-100000}" --queries "${QUERIES:-300}" |
    python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%d chunks in %d documents (%.1f MB), built in %.0f s (%.0f chunks/s, %.2f MB/s without model cost);"
      " index saved in %.2f s, reopened in %.2f s" % (d["chunks"], d["documents"], d["mb"], d["ingest_s"],
      d["ingest_chunks_s"], d["ingest_mb_s"], d["flush_s"], d["reopen_s"]))
print()
print("| search | p50 ms | p99 ms |")
print("|---|---|---|")
for c in d["cases"]:
    print("| %s | %.2f | %.2f |" % (c["case"], c["p50_ms"], c["p99_ms"]))
'
fi
