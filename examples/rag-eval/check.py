#!/usr/bin/env python3
"""Validate the rag-eval dataset: corpus/ + questions.jsonl.

Run from anywhere:  python3 examples/rag-eval/check.py
Exits 1 if any hard check fails; warnings are printed but do not fail.
"""
import json
import os
import re
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
QUESTIONS = os.path.join(HERE, "questions.jsonl")
KINDS = {"lexical", "paraphrase", "multi", "unanswerable", "offtopic"}
ID_RE = re.compile(r"^q\d{3}$")
# Markup that evidence must not span (Markdown emphasis/code/links/tables, HTML tags/entities).
MARKUP = ["**", "__", "`", "|", "<", ">", "&", "[", "]("]
STOP = set("""a an the of to in on at for and or is are was were be been it its this that with by
from as if do does did i my me we our you your can how what which who when where why much many
any not no into there their they them than then so up out about after before more most""".split())

errors, warnings = [], []


def err(msg):
    errors.append(msg)


def warn(msg):
    warnings.append(msg)


def words(s):
    return re.findall(r"[0-9A-Za-zÀ-ÿ]+(?:[.,'’-][0-9A-Za-zÀ-ÿ]+)*", s)


def content_words(s):
    return {w.lower() for w in words(s) if w.lower() not in STOP}


def visible_text_words(raw, ext):
    if ext == ".html":
        raw = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", raw)
        raw = re.sub(r"(?s)<[^>]+>", " ", raw)
    return len(words(raw))


# ---------------------------------------------------------------- corpus
docs = {}
for root, _, files in os.walk(CORPUS):
    for name in files:
        path = os.path.join(root, name)
        rel = os.path.relpath(path, CORPUS).replace(os.sep, "/")
        with open(path, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            err(f"{rel}: not valid UTF-8 ({e})")
            continue
        docs[rel] = text

corpus_bytes = sum(len(t.encode("utf-8")) for t in docs.values())
ext_counts = Counter(os.path.splitext(r)[1] for r in docs)
folder_docs = Counter(r.split("/")[0] for r in docs)
pipe_tables = [r for r, t in docs.items() if r.endswith(".md") and re.search(r"(?m)^\|[-| :]+\|\s*$", t)]
fenced = [r for r, t in docs.items() if r.endswith(".md") and "```" in t]

for rel, text in sorted(docs.items()):
    ext = os.path.splitext(rel)[1]
    if ext not in {".md", ".txt", ".html"}:
        err(f"{rel}: unexpected extension {ext}")
    n = visible_text_words(text, ext)
    if not 300 <= n <= 1200:
        warn(f"{rel}: {n} words (target 300-1200)")
    if ext == ".html":
        for tag in ("<nav", "<footer", "<h1", "<h2", "<p>"):
            if tag not in text:
                warn(f"{rel}: no {tag} element")
        if "<main" not in text and "<article" not in text:
            err(f"{rel}: content is in neither <main> nor <article>")
if len(pipe_tables) < 4:
    err(f"only {len(pipe_tables)} Markdown docs with pipe tables (need >= 4)")
if len(fenced) < 3:
    err(f"only {len(fenced)} Markdown docs with fenced code blocks (need >= 3)")

# ---------------------------------------------------------------- questions
questions = []
with open(QUESTIONS, encoding="utf-8") as f:
    for lineno, line in enumerate(f, 1):
        if not line.strip():
            err(f"questions.jsonl:{lineno}: blank line")
            continue
        try:
            questions.append(json.loads(line))
        except json.JSONDecodeError as e:
            err(f"questions.jsonl:{lineno}: invalid JSON ({e})")

ids = Counter(q.get("id") for q in questions)
for qid, n in ids.items():
    if n > 1:
        err(f"duplicate id {qid} ({n} times)")

referenced = Counter()
overlap = {}
for q in questions:
    qid = q.get("id", "?")
    keys = set(q)
    if keys != {"id", "question", "relevant", "evidence", "kind"}:
        err(f"{qid}: keys are {sorted(keys)}")
    if not ID_RE.match(str(qid)):
        err(f"{qid}: id does not look like q001")
    kind, rel, ev, text = q.get("kind"), q.get("relevant"), q.get("evidence"), q.get("question", "")
    if kind not in KINDS:
        err(f"{qid}: invalid kind {kind!r}")
        continue
    if not isinstance(rel, list) or not isinstance(ev, str) or not isinstance(text, str) or not text.strip():
        err(f"{qid}: bad field types")
        continue
    if kind in ("unanswerable", "offtopic"):
        if rel or ev:
            err(f"{qid}: unanswerable must have relevant == [] and evidence == ''")
        continue
    if not rel:
        err(f"{qid}: answerable question without relevant documents")
        continue
    if len(set(rel)) != len(rel):
        err(f"{qid}: duplicate paths in relevant")
    if kind == "multi" and len(rel) < 2:
        err(f"{qid}: multi question needs >= 2 relevant documents")
    if kind != "multi" and len(rel) > 2:
        warn(f"{qid}: {len(rel)} relevant documents for a {kind} question")
    for r in rel:
        referenced[r] += 1
        if r not in docs:
            err(f"{qid}: relevant path does not exist: {r}")
    if rel[0] not in docs:
        continue
    raw = docs[rel[0]]
    if not ev:
        err(f"{qid}: empty evidence")
        continue
    if ev not in raw:
        err(f"{qid}: evidence not found verbatim in {rel[0]}: {ev!r}")
        continue
    if "\n" in ev or ev != ev.strip():
        err(f"{qid}: evidence contains a line break or surrounding whitespace")
    for m in MARKUP:
        if m in ev:
            err(f"{qid}: evidence contains markup {m!r}")
    nw = len(ev.split())
    if not 5 <= nw <= 25:
        err(f"{qid}: evidence has {nw} words (need 5-25)")
    if raw.count(ev) > 1:
        warn(f"{qid}: evidence occurs {raw.count(ev)} times in {rel[0]}")
    others = [d for d, t in docs.items() if d != rel[0] and ev in t]
    if others:
        warn(f"{qid}: evidence also occurs in {others}")
    # Evidence must sit in prose (a paragraph or list item), not in a Markdown table row.
    line = next(l for l in raw.splitlines() if ev in l)
    if line.lstrip().startswith("|"):
        err(f"{qid}: evidence comes from a table row")
    # How many of the evidence's content words does the question reuse?
    ew = content_words(ev)
    overlap[qid] = (kind, len(ew & content_words(text)) / max(1, len(ew)))

for q in questions:
    qid = q.get("id")
    if q.get("kind") == "paraphrase" and qid in overlap and overlap[qid][1] > 0.34:
        warn(f"{qid}: paraphrase question reuses {overlap[qid][1]:.0%} of the evidence's content words")

for d in sorted(docs):
    if not referenced[d]:
        warn(f"{d}: no question refers to this document")

# ---------------------------------------------------------------- report
kinds = Counter(q.get("kind") for q in questions)
print(f"questions: {len(questions)}")
for k in ("lexical", "paraphrase", "multi", "unanswerable", "offtopic"):
    print(f"  {k:<13} {kinds.get(k, 0)}")
print("\nquestions per folder (by first relevant document):")
qfolder = Counter(q["relevant"][0].split("/")[0] for q in questions if q.get("relevant"))
for folder in sorted(folder_docs):
    print(f"  {folder:<10} {qfolder.get(folder, 0):>3} questions  {folder_docs[folder]:>3} documents")
print("\ndocuments by type: " + ", ".join(f"{e} {n}" for e, n in sorted(ext_counts.items())))
print(f"Markdown docs with pipe tables: {len(pipe_tables)}, with fenced code: {len(fenced)}")
for k in ("lexical", "paraphrase", "multi"):
    vals = [v for kk, v in overlap.values() if kk == k]
    if vals:
        print(f"mean share of evidence content words reused by {k} questions: {sum(vals) / len(vals):.0%}")
print(f"\ncorpus: {len(docs)} documents, {corpus_bytes} bytes")

for w in warnings:
    print("WARNING:", w)
for e in errors:
    print("ERROR:", e)
print("\nFAIL" if errors else "\nOK")
sys.exit(1 if errors else 0)
