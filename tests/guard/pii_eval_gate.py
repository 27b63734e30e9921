#!/usr/bin/env python3
"""Quality gate for the PII detector on examples/pii-eval (ctest guard.pii_eval).

Runs `gantry-pii-bench quality --json` and fails if micro precision or recall, or any
type's recall, falls below floors set under the values measured on 2026-11-23
(docs/benchmarks.md "PII"): micro 0.976 / 0.965, PERSON recall 0.70, SECRET precision
0.714, every other type 1.000.

Usage: pii_eval_gate.py BENCH_BINARY PII_JSONL
"""
import json
import subprocess
import sys

bench, data = sys.argv[1], sys.argv[2]
r = subprocess.run([bench, "quality", "--json", "--set", data], capture_output=True, text=True,
                   timeout=300)
if r.returncode != 0:
    sys.exit(f"gantry-pii-bench failed: {r.stderr}")
report = json.loads(r.stdout)
floors = {"PERSON": (0.95, 0.65), "SECRET": (0.65, 0.95)}  # (precision, recall)
failures = []
for t, m in report["types"].items():
    p_floor, r_floor = floors.get(t, (0.95, 0.95))
    if m["precision"] < p_floor or m["recall"] < r_floor:
        failures.append(f"{t}: precision {m['precision']:.3f} (floor {p_floor}), "
                        f"recall {m['recall']:.3f} (floor {r_floor})")
if len(report["types"]) < 12:
    failures.append(f"only {len(report['types'])} entity types scored, expected 12")
a = report["all"]
if a["precision"] < 0.95 or a["recall"] < 0.94:
    failures.append(f"micro precision {a['precision']:.3f} / recall {a['recall']:.3f} "
                    "below 0.95 / 0.94")
if failures:
    sys.exit("PII quality below its floors:\n  " + "\n  ".join(failures))
print(f"PII quality ok: micro precision {a['precision']:.3f}, recall {a['recall']:.3f}")
