#!/usr/bin/env python3
"""Validate examples/pii-eval/pii.jsonl and print counts per type and category.

Run from anywhere:  python3 examples/pii-eval/check_pii_eval.py [path/to/pii.jsonl]
Standard library only. Exits 1 if any check fails.

Checks: ids unique; types and categories valid; 0 <= start < end <= len(text
bytes), on UTF-8 character boundaries, no surrounding whitespace; entities
sorted and non-overlapping; per-type validity (Luhn for cards, mod-97 and
country length for IBANs, SSN area/group/serial rules, IPv4/IPv6 syntax, JWT
header decoding to JSON with "alg", BEGIN/END lines of private keys, provider
key shapes); hard negatives have no entity, positives 1-3, mixed lines at least
two types; texts under 1,500 bytes. It also looks outside the labeled spans for
values the set's own generators produce (emails, card numbers, valid IBANs,
SSNs, IPv4 addresses, fictional phone ranges, key prefixes, JWTs, key blocks,
house-number addresses): one found there is an unlabeled entity.
"""
import base64
import ipaddress
import json
import os
import re
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "pii.jsonl")
TYPES = ["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "API_KEY", "JWT",
         "PRIVATE_KEY", "SECRET", "PERSON", "ADDRESS"]
CATEGORIES = ["positive", "hard_negative", "mixed"]
MAX_TEXT_BYTES = 1500
MIN_PER_TYPE = 15
IBAN_LENGTH = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18,
    "FR": 27, "GB": 22, "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23,
    "IS": 26, "IT": 27, "JO": 30, "KW": 30, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "QA": 29, "RO": 24, "SA": 24, "SE": 24,
    "SI": 19, "SK": 24, "SM": 27, "TR": 26, "VA": 22, "XK": 20}

errors = []


def err(rid, msg):
    errors.append(f"{rid}: {msg}")


def luhn_ok(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(compact):
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", compact):
        return False
    if IBAN_LENGTH.get(compact[:2]) != len(compact):
        return False
    s = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def ssn_ok(a, g, s):
    return a not in ("000", "666") and not a.startswith("9") and g != "00" and s != "0000"


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_value(rid, typ, v):
    """Per-type validity of one labeled value; returns nothing, records errors."""
    if typ == "EMAIL":
        if not re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", v):
            err(rid, f"EMAIL malformed: {v!r}")
        elif not re.search(r"@(.+\.)?example\.(com|org|net)$", v):
            err(rid, f"EMAIL not on a reserved example domain: {v!r}")
    elif typ == "CREDIT_CARD":
        if not re.fullmatch(r"\d+(?:[ -]\d+)*", v):
            err(rid, f"CREDIT_CARD has bad separators: {v!r}")
        d = re.sub(r"\D", "", v)
        if not 13 <= len(d) <= 19 or not luhn_ok(d):
            err(rid, f"CREDIT_CARD not a Luhn-valid 13-19 digit number: {v!r}")
        if len({c for c in v if not c.isdigit()}) > 1:
            err(rid, f"CREDIT_CARD mixes separators: {v!r}")
    elif typ == "IBAN":
        if not re.fullmatch(r"[A-Z0-9]{4}(?: ?[A-Z0-9]{1,4})*", v) or ("  " in v):
            err(rid, f"IBAN badly grouped: {v!r}")
        if " " in v and any(len(p) != 4 for p in v.split(" ")[:-1]):
            err(rid, f"IBAN spaces not in groups of 4: {v!r}")
        if not iban_ok(v.replace(" ", "")):
            err(rid, f"IBAN fails length/mod-97: {v!r}")
    elif typ == "US_SSN":
        m = re.fullmatch(r"(\d{3})([- ]?)(\d{2})\2(\d{4})", v)
        if not m or not ssn_ok(m.group(1), m.group(3), m.group(4)):
            err(rid, f"US_SSN breaks the area/group/serial rules: {v!r}")
        elif v in ("078-05-1120",) or v.startswith("987-65-432"):
            err(rid, f"US_SSN uses a well-known published number: {v!r}")
    elif typ == "IP_ADDRESS":
        try:
            ip = ipaddress.ip_address(v)
        except ValueError:
            err(rid, f"IP_ADDRESS does not parse: {v!r}")
            return
        doc4 = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
        if ip.version == 4:
            ok = any(ip in n for n in doc4)
        elif ip.ipv4_mapped is not None:
            ok = any(ip.ipv4_mapped in n for n in doc4)
        else:
            ok = ip in ipaddress.ip_network("2001:db8::/32")
        if not ok:
            err(rid, f"IP_ADDRESS outside the documentation ranges: {v!r}")
    elif typ == "JWT":
        parts = v.split(".")
        if len(parts) != 3 or not all(re.fullmatch(r"[A-Za-z0-9_-]+", p) for p in parts):
            err(rid, f"JWT is not three base64url parts: {v[:40]!r}")
            return
        try:
            header = json.loads(b64url_decode(parts[0]))
            json.loads(b64url_decode(parts[1]))
        except ValueError as e:
            err(rid, f"JWT header/payload does not decode to JSON: {e}")
            return
        if not isinstance(header, dict) or "alg" not in header:
            err(rid, "JWT header has no alg")
    elif typ == "PRIVATE_KEY":
        m = re.fullmatch(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----(.+)-----END \1-----", v, re.S)
        if not m:
            err(rid, f"PRIVATE_KEY is not a whole BEGIN...END block: {v[:40]!r}")
    elif typ == "API_KEY":
        if re.search(r"\s", v) or len(v) < 8:
            err(rid, f"API_KEY value has whitespace or is too short: {v!r}")
        if v[0] in "\"'" or v[-1] in "\"',;":
            err(rid, f"API_KEY value includes a quote or delimiter: {v!r}")
        shapes = [r"AKIA[0-9A-Z]{16}", r"ghp_[A-Za-z0-9]{36}", r"github_pat_[A-Za-z0-9_]{60,100}",
                  r"xoxb-\d+-\d+-[A-Za-z0-9]+", r"sk_live_[A-Za-z0-9]{24,}",
                  r"sk-ant-[A-Za-z0-9_-]{20,}", r"sk-(proj-)?[A-Za-z0-9_-]{20,}",
                  r"AIza[0-9A-Za-z_-]{35}"]
        for prefix, shape in zip(["AKIA", "ghp_", "github_pat_", "xoxb-", "sk_live_", "sk-ant-", "sk-",
                                  "AIza"], shapes):
            if v.startswith(prefix) and not re.fullmatch(shape, v):
                err(rid, f"API_KEY with prefix {prefix} has the wrong shape: {v!r}")
                break
    elif typ == "SECRET":
        if not re.fullmatch(r"[A-Za-z0-9+/=_-]{20,}", v):
            err(rid, f"SECRET not a >=20-char token: {v!r}")
        body = v[6:] if v.startswith("whsec_") else v
        if not (re.search(r"[a-z]", body) and re.search(r"[A-Z]", body) and re.search(r"\d", body)):
            err(rid, f"SECRET does not mix case and digits: {v!r}")
        if re.match(r"(eyJ|AKIA|ghp_|github_pat_|xox[abprs]-|sk_live_|sk-|AIza)", v):
            err(rid, f"SECRET has the shape of another type: {v!r}")
    elif typ == "PERSON":
        if not re.fullmatch(r"[A-ZÀ-Þ][A-Za-zÀ-ÿ'-]+(?: [A-ZÀ-Þ][A-Za-zÀ-ÿ'-]+)*", v):
            err(rid, f"PERSON is not capitalized name words: {v!r}")
        if re.match(r"(Mr|Mrs|Ms|Dr|Prof)\b", v):
            err(rid, f"PERSON span includes a title: {v!r}")
    elif typ == "ADDRESS":
        if not re.match(r"\d{1,5} ", v):
            err(rid, f"ADDRESS does not start with a house number: {v!r}")
    elif typ == "PHONE":
        d = re.sub(r"\D", "", v)
        if not re.fullmatch(r"\+?[\d (). -]+?(?: (?:ext\.? |x)\d+| ?x\d+)?", v) or not 7 <= len(d) <= 19:
            err(rid, f"PHONE malformed: {v!r}")


# Things the generators produce; found outside a labeled span they are unlabeled entities.
UNLABELED = [
    ("EMAIL", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ("PHONE", re.compile(r"555[-. ]?01\d\d|7946 ?0\d{3}|7700 ?900\d{3}|496 ?0\d{3}|491 ?570|99 00 \d\d")),
    ("US_SSN", re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")),
    ("IP_ADDRESS", re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d]|\.\d)")),
    ("IP_ADDRESS", re.compile(r"(?i)2001:0?db8:|::ffff:")),
    ("API_KEY", re.compile(r"AKIA[0-9A-Z]{12}|gh[pousr]_[A-Za-z0-9]{20}|github_pat_|xox[abprs]-\d|"
                           r"sk_live_|sk-ant-|sk-proj-|sk-[A-Za-z0-9]{20}|AIza[0-9A-Za-z_-]{20}")),
    ("JWT", re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.")),
    ("PRIVATE_KEY", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("ADDRESS", re.compile(r"\b\d{1,5} (?:[A-Z][a-z]+ |\d{1,2}(?:st|nd|rd|th) ){1,3}"
                           r"(?:Street|Avenue|Road|Lane|Drive|Court|Boulevard|Way|Place|Terrace|"
                           r"St|Ave|Rd|Ln|Dr|Blvd|Ct)\b")),
]


def unlabeled(rid, masked):
    for typ, rx in UNLABELED:
        for m in rx.finditer(masked):
            if typ == "US_SSN" and not ssn_ok(m.group(1), m.group(3), m.group(4)):
                continue
            if typ == "IP_ADDRESS" and "." in m.group(0) and ":" not in m.group(0):
                if any(int(o) > 255 for o in m.group(0).split(".")):
                    continue
            err(rid, f"unlabeled {typ}-like value outside the spans: {m.group(0)!r}")
    # Card numbers: maximal digit runs with single space/dash separators.
    for m in re.finditer(r"(?<![\d-])\d(?:[ -]?\d)*(?![\d])", masked):
        d = re.sub(r"\D", "", m.group(0))
        if 13 <= len(d) <= 19 and luhn_ok(d):
            err(rid, f"unlabeled Luhn-valid number outside the spans: {m.group(0)!r}")
    # IBANs: a country code, check digits and groups; valid at some group boundary.
    for m in re.finditer(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){2,8}", masked):
        compact = m.group(0).replace(" ", "")
        n = IBAN_LENGTH.get(compact[:2])
        if n and len(compact) >= n and iban_ok(compact[:n]):
            err(rid, f"unlabeled valid IBAN outside the spans: {m.group(0)!r}")


def main():
    ids = set()
    by_type, by_cat = Counter(), Counter()
    by_cat_type = {c: Counter() for c in CATEGORIES}
    lines_with = Counter()
    multiline = 0
    non_ascii = 0
    with open(PATH, encoding="utf-8") as f:
        raw_lines = f.read().split("\n")
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    for n, line in enumerate(raw_lines, 1):
        try:
            row = json.loads(line)
        except ValueError as e:
            err(f"line {n}", f"not JSON: {e}")
            continue
        rid = row.get("id", f"line {n}")
        if set(row) != {"id", "category", "text", "entities"}:
            err(rid, f"unexpected keys {sorted(row)}")
        if not re.fullmatch(r"p\d{4}", str(rid)):
            err(rid, "id is not p + 4 digits")
        if rid in ids:
            err(rid, "duplicate id")
        ids.add(rid)
        cat = row.get("category")
        if cat not in CATEGORIES:
            err(rid, f"bad category {cat!r}")
            continue
        by_cat[cat] += 1
        text = row.get("text")
        if not isinstance(text, str) or not text:
            err(rid, "empty or missing text")
            continue
        b = text.encode("utf-8")
        if len(b) >= MAX_TEXT_BYTES:
            err(rid, f"text is {len(b)} bytes (limit {MAX_TEXT_BYTES})")
        multiline += "\n" in text
        non_ascii += any(ord(c) > 127 for c in text)
        ents = row.get("entities")
        if not isinstance(ents, list):
            err(rid, "entities is not a list")
            continue
        prev_end = 0
        masked = bytearray(b)
        for e in ents:
            if set(e) != {"type", "start", "end"}:
                err(rid, f"entity keys {sorted(e)}")
                continue
            typ, s, t = e["type"], e["start"], e["end"]
            if typ not in TYPES:
                err(rid, f"bad type {typ!r}")
                continue
            if not (isinstance(s, int) and isinstance(t, int) and 0 <= s < t <= len(b)):
                err(rid, f"{typ} offsets out of range: {s}..{t} (text {len(b)} bytes)")
                continue
            if s < prev_end:
                err(rid, f"{typ} at {s} is unsorted or overlaps the previous entity (ends {prev_end})")
            prev_end = max(prev_end, t)
            try:
                v = b[s:t].decode("utf-8")
            except UnicodeDecodeError:
                err(rid, f"{typ} {s}..{t} cuts a UTF-8 character")
                continue
            if v != v.strip():
                err(rid, f"{typ} span has surrounding whitespace: {v!r}")
            check_value(rid, typ, v)
            by_type[typ] += 1
            by_cat_type[cat][typ] += 1
            masked[s:t] = b"#" * (t - s)
        types_here = {e.get("type") for e in ents}
        for typ in types_here:
            lines_with[typ] += 1
        if cat == "hard_negative" and ents:
            err(rid, "hard negative with entities")
        if cat == "positive" and not 1 <= len(ents) <= 3:
            err(rid, f"positive line with {len(ents)} entities (want 1-3)")
        if cat == "mixed" and len(types_here) < 2:
            err(rid, "mixed line with fewer than two entity types")
        unlabeled(rid, masked.decode("utf-8"))

    for typ in TYPES:
        if by_type[typ] < MIN_PER_TYPE:
            err("set", f"{typ} has {by_type[typ]} entities (want >= {MIN_PER_TYPE})")

    total = sum(by_cat.values())
    print(f"{PATH}: {total} lines ({multiline} multi-line, {non_ascii} with non-ASCII text)")
    print("lines per category: " + ", ".join(f"{c} {by_cat[c]}" for c in CATEGORIES))
    print()
    print(f"{'type':<12} {'entities':>8} {'lines':>6} {'positive':>9} {'mixed':>6}")
    for typ in TYPES:
        print(f"{typ:<12} {by_type[typ]:>8} {lines_with[typ]:>6} {by_cat_type['positive'][typ]:>9} "
              f"{by_cat_type['mixed'][typ]:>6}")
    print(f"{'total':<12} {sum(by_type.values()):>8}")
    print()
    if errors:
        for e in errors:
            print("FAIL", e)
        print(f"{len(errors)} problem(s)")
        return 1
    print("OK: all checks pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
