#!/usr/bin/env python3
"""sentence-transformers' speed on the workload of MiniLmParity.Throughput (same 64
sentences, batches of 1 and 16, 1 and 2 threads), for bench/engine.sh. Prints
markdown rows. Needs sentence-transformers in .venv-ref."""
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

model_dir = sys.argv[1] if len(sys.argv) > 1 else "models/all-MiniLM-L6-v2"
base = ("The quick brown fox jumps over the lazy dog while the farmer watches from the porch "
        "and drinks his morning coffee")
texts = [f"{base} {i}." for i in range(64)]
m = SentenceTransformer(model_dir, device="cpu")
for threads in (1, 2):
    torch.set_num_threads(threads)
    for batch in (1, 16):
        m.encode(texts[:batch], batch_size=batch)
        t = time.perf_counter()
        for i in range(0, len(texts), batch):
            m.encode(texts[i:i + batch], batch_size=batch)
        print("| sentence-transformers | %d | %d | %.1f |" % (threads, batch,
                                                           len(texts) / (time.perf_counter() - t)))
