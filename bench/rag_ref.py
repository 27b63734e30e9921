#!/usr/bin/env python3
"""Reference retrieval on the chunks gantry made, for bench/rag.sh.

Reads the chunks `gantry-rag-bench quality --dump-chunks FILE` wrote and the golden
questions, and scores the same metrics (document recall@5, MRR@10, nDCG@10 and
evidence in the top-5 chunks) with the reference tools:
  lexical: rank_bm25's BM25Okapi (k1=1.5, b=0.75) over lowercased word tokens,
  dense:   sentence-transformers all-MiniLM-L6-v2, exact cosine over every chunk,
  hybrid:  reciprocal rank fusion (k=60) of the two top-200 lists, as gantry fuses.
Same chunks, same questions, so differences come from the retrievers alone.
With --embed-throughput it also times sentence-transformers embedding all chunk
texts (batches of 32) at the given thread count, to set beside gantry's ingest rate.

Needs .venv-ref with sentence-transformers and rank_bm25.
"""
import argparse
import json
import math
import os
import re
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from rank_bm25 import BM25Okapi  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

WORD = re.compile(r"\w+", re.UNICODE)


def tokens(text):
    return WORD.findall(text.lower())


def squash(text):
    return " ".join(text.lower().split())


def unique_in_order(ids):
    seen, out = set(), []
    for i in ids:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def recall_at(ranked, relevant, k):
    return len([d for d in ranked[:k] if d in relevant]) / len(relevant)


def rr_at(ranked, relevant, k):
    for i, d in enumerate(ranked[:k]):
        if d in relevant:
            return 1.0 / (i + 1)
    return 0.0


def ndcg_at(ranked, relevant, k):
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal


def rrf(lists, k=60):
    score = {}
    for lst in lists:
        for rank, i in enumerate(lst):
            score[i] = score.get(i, 0.0) + 1.0 / (k + rank + 1)
    return [i for i, _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", required=True)
    ap.add_argument("--questions", default="examples/rag-eval/questions.jsonl")
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--embed-throughput", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    chunks = [json.loads(line) for line in open(args.chunks, encoding="utf-8")]
    questions = [json.loads(line) for line in open(args.questions, encoding="utf-8") if line.strip()]
    texts = [c["text"] for c in chunks]
    sources = [c["source"] for c in chunks]

    bm25 = BM25Okapi([tokens(t) for t in texts])
    model = SentenceTransformer(args.model, device="cpu")
    t0 = time.perf_counter()
    vecs = model.encode(texts, batch_size=32, normalize_embeddings=True)
    embed_s = time.perf_counter() - t0
    if args.embed_throughput:
        print(json.dumps({"engine": "sentence-transformers", "threads": args.threads,
                          "chunks": len(texts), "embeddings_s": len(texts) / embed_s}))
        return

    depth = 200
    results = {m: {} for m in ("lexical", "dense", "hybrid")}
    for q in questions:
        if not q["relevant"]:
            continue
        lex_scores = bm25.get_scores(tokens(q["question"]))
        lex = [int(i) for i in np.argsort(-lex_scores, kind="stable")[:depth] if lex_scores[i] > 0]
        qv = model.encode([q["question"]], normalize_embeddings=True)[0]
        dense_scores = vecs @ qv
        dense = [int(i) for i in np.argsort(-dense_scores, kind="stable")[:depth]]
        ranked = {"lexical": lex, "dense": dense, "hybrid": rrf([lex, dense])}
        relevant = set(q["relevant"])
        ev = squash(q.get("evidence", ""))
        for mode, ids in ranked.items():
            ids = ids[:50]
            docs = unique_in_order(sources[i] for i in ids)
            evidence = 1.0 if ev and any(ev in squash(texts[i]) for i in ids[:5]) else 0.0
            row = (recall_at(docs, relevant, 5), rr_at(docs, relevant, 10),
                   ndcg_at(docs, relevant, 10), evidence)
            for kind in ("all", q["kind"]):
                results[mode].setdefault(kind, []).append(row)

    print("| mode | questions | recall@5 | MRR@10 | nDCG@10 | evidence in top-5 chunks |")
    print("|---|---|---|---|---|---|")
    for mode in ("lexical", "dense", "hybrid"):
        rows = results[mode]["all"]
        means = [sum(r[i] for r in rows) / len(rows) for i in range(4)]
        print("| %s | %d | %.3f | %.3f | %.3f | %.3f |" % (mode, len(rows), *means))
    print()
    print("By question kind (nDCG@10):")
    print()
    print("| kind | lexical | dense | hybrid |")
    print("|---|---|---|---|")
    for kind in sorted(k for k in results["hybrid"] if k != "all"):
        cells = []
        for mode in ("lexical", "dense", "hybrid"):
            rows = results[mode][kind]
            cells.append(sum(r[2] for r in rows) / len(rows))
        print("| %s (%d) | %.3f | %.3f | %.3f |" % (kind, len(results["hybrid"][kind]), *cells))


if __name__ == "__main__":
    main()
