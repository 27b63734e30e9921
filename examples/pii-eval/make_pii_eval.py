#!/usr/bin/env python3
"""Generate examples/pii-eval/pii.jsonl, a labeled evaluation set for the PII detector.

Run from anywhere:  python3 examples/pii-eval/make_pii_eval.py
Standard library only. The output is deterministic (fixed seed): running the
script again rewrites pii.jsonl byte for byte the same.

Texts are written as templates with inline markers, e.g.
    Contact me at [[EMAIL:alice.smith@example.org]] tomorrow.
The script strips the markers and records each entity's type and its UTF-8
byte offsets [start, end) in the stripped text, so no offset is ever written
by hand. Every value is fake: reserved domains (example.com/.org/.net),
fictional phone ranges (555-01xx and the Ofcom, ACMA and ARCEP drama ranges),
public card test numbers, IBANs whose check digits the script computes for an
invented account number, random SSNs that pass the format rules, documentation
IP ranges, and keys/tokens made of random characters.
"""
import base64
import json
import os
import random
import re
import string
import sys

SEED = 20240131
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pii.jsonl")
MAX_TEXT_BYTES = 1500

TYPES = ["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "API_KEY", "JWT",
         "PRIVATE_KEY", "SECRET", "PERSON", "ADDRESS"]

MARKER = re.compile(r"\[\[([A-Z_]+):(.*?)\]\]", re.S)


def M(kind, value):
    """An inline marker: the value, labeled as an entity of type `kind`."""
    assert kind in TYPES, kind
    assert "]]" not in value and "[[" not in value, value
    assert value == value.strip(), repr(value)
    return f"[[{kind}:{value}]]"


def strip_markers(template):
    """Returns (text, entities) with byte offsets computed from the encoded prefix."""
    parts, entities, pos = [], [], 0
    for m in MARKER.finditer(template):
        parts.append(template[pos:m.start()])
        prefix = "".join(parts)
        start = len(prefix.encode("utf-8"))
        value = m.group(2)
        parts.append(value)
        entities.append({"type": m.group(1), "start": start,
                         "end": start + len(value.encode("utf-8"))})
        pos = m.end()
    parts.append(template[pos:])
    text = "".join(parts)
    assert "[[" not in text and "]]" not in text, template
    return text, entities


# ---------------------------------------------------------------- validators


def luhn_ok(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_mod97(compact):
    s = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97


def iban_check_digits(country, bban):
    n = iban_mod97(country + "00" + bban)
    return f"{98 - n:02d}"


# ---------------------------------------------------------------- value pools

FIRST_M = ["John", "Lukas", "Daniel", "Kenji", "Samuel", "Rahul", "Mateo", "Noah", "Diego",
           "Omar", "Marcus", "Peter", "Ethan", "Bruno", "Viktor", "Kwame", "Arjun"]
FIRST_F = ["Maria", "Priya", "Aisha", "Sofia", "Fatima", "Olga", "Elena", "Grace", "Hannah",
           "Amara", "Ingrid", "Laura", "Julia", "Nadia", "Carmen", "Leila", "Tessa", "Anika",
           "Yuki"]
FIRST = FIRST_M + FIRST_F
FIRST_ACCENT_M = ["José", "Tomás"]
FIRST_ACCENT_F = ["Chloé", "Zoë", "Renée", "Inés"]
LAST = ["Gonzalez", "O'Neil", "Raman", "Okafor", "Kowalski", "Lindqvist", "Haddad",
        "Nakamura", "Petrov", "Brennan", "Moreau", "Schmidt", "Alvarez", "Nguyen", "Osei",
        "Fischer", "Dubois", "Rossi", "MacLeod", "Bennett", "Castillo", "Sato", "Iverson",
        "Harper", "Mensah", "Novak", "Fernandes", "Kaur", "Dlamini", "Whitaker",
        "Garcia-Lopez", "Abernathy", "Quintero", "Vasquez"]
LAST_ACCENT = ["Müller", "García", "Jiménez", "Sørensen", "Brandão"]
FAMILY_FIRST = ["Chen Wei", "Zhou Lin", "Park Jisoo", "Tran Minh"]  # family name first

DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com",
           "support.example.org", "eu.example.net", "corp.example.com"]
ROLE_LOCALS = ["billing", "support", "hr", "security", "noreply-ops", "accounts"]

STREETS = ["Example", "Maple", "Oak", "Cedar", "Willow", "Birch", "Juniper", "Harbor",
           "Lakeview", "Sycamore", "Chestnut", "Orchard", "Meadow", "Hillcrest", "Riverside",
           "North Maple", "Old Mill", "Quarry", "Larkspur", "Foxglove"]
SUFFIX_FULL = ["Street", "Avenue", "Road", "Lane", "Drive", "Court", "Boulevard", "Way",
               "Place", "Terrace"]
SUFFIX_ABBR = ["St", "Ave", "Rd", "Ln", "Dr", "Blvd", "Ct"]
CITIES = [("Springfield", "IL"), ("Riverton", "WY"), ("Fairview", "OR"), ("Franklin", "TN"),
          ("Greenville", "SC"), ("Madison", "WI"), ("Georgetown", "TX"), ("Salem", "MA"),
          ("Clinton", "IA"), ("Arlington", "VA"), ("Bristol", "CT"), ("Dayton", "OH")]
AREA_CODES = ["415", "212", "202", "312", "617", "206", "303", "512", "646", "718", "305"]

# Public card test numbers (issuer documentation / payment sandboxes).
CARDS = {
    "visa": ["4111111111111111", "4242424242424242", "4012888888881881", "4000056655665556"],
    "visa13": ["4222222222222"],
    "mc": ["5500000000000004", "5555555555554444", "5105105105105100", "2223003122003222"],
    "amex": ["340000000000009", "378282246310005", "371449635398431"],
    "discover": ["6011111111111117", "6011000990139424"],
    "jcb": ["3566002020360505", "3530111333300000"],
    "diners": ["30569309025904"],
}

# BBAN layouts: (country, [(kind, count)...]) with kind n=digit, a=upper letter, c=either.
IBAN_LAYOUTS = [
    ("DE", [("n", 18)]), ("GB", [("a", 4), ("n", 14)]), ("FR", [("n", 10), ("c", 11), ("n", 2)]),
    ("NL", [("a", 4), ("n", 10)]), ("ES", [("n", 20)]), ("IT", [("a", 1), ("n", 10), ("c", 12)]),
    ("BE", [("n", 12)]), ("CH", [("n", 5), ("c", 12)]), ("AT", [("n", 16)]), ("PL", [("n", 24)]),
    ("IE", [("a", 4), ("n", 14)]), ("NO", [("n", 11)]), ("SE", [("n", 20)]), ("PT", [("n", 21)]),
    ("DK", [("n", 14)]), ("FI", [("n", 14)]),
]
IBAN_LENGTH = {"DE": 22, "GB": 22, "FR": 27, "NL": 18, "ES": 24, "IT": 27, "BE": 16, "CH": 21,
               "AT": 20, "PL": 28, "IE": 22, "NO": 15, "SE": 24, "PT": 25, "DK": 18, "FI": 18}

JWT_HEADERS = [
    {"alg": "HS256", "typ": "JWT"},
    {"alg": "RS256", "typ": "JWT", "kid": "k1"},
    {"typ": "JWT", "alg": "ES256"},
    {"alg": "HS512", "typ": "JWT"},
    {"alg": "RS256", "kid": "2024-01-signing"},
]
JWT_SIG_LEN = {"HS256": 43, "HS512": 86, "RS256": 342, "ES256": 86}

B64_WORDS = ["hello world", "The quick brown fox", "Hello, World!", "good morning team",
             "username and password", "Lorem ipsum dolor sit amet", "release notes 2024",
             "this is only a test", "the weather is nice today"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def asciify(name):
    table = str.maketrans({"é": "e", "á": "a", "ë": "e", "ü": "ue", "í": "i", "ø": "o",
                           "ã": "a", "'": "", " ": ".", "-": ""})
    return name.lower().translate(table)


class G:
    """Random values (lowercase methods) and marked entities (UPPERCASE methods)."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    # -- basics
    def n(self, a, b):
        return self.r.randint(a, b)

    def pick(self, seq):
        return self.r.choice(seq)

    def chars(self, alphabet, k):
        return "".join(self.r.choice(alphabet) for _ in range(k))

    # -- people
    def first(self, gender=None):
        gender = gender or self.pick("mf")
        if self.r.random() < 0.1:
            return self.pick(FIRST_ACCENT_M if gender == "m" else FIRST_ACCENT_F)
        return self.pick(FIRST_M if gender == "m" else FIRST_F)

    def last(self):
        return self.pick(LAST_ACCENT) if self.r.random() < 0.1 else self.pick(LAST)

    def name(self, gender=None):
        if gender is None and self.r.random() < 0.05:
            return self.pick(FAMILY_FIRST)
        return f"{self.first(gender)} {self.last()}"

    def email(self, name=None):
        if name is None and self.r.random() < 0.12:
            return f"{self.pick(ROLE_LOCALS)}@{self.pick(DOMAINS)}"
        name = name or f"{self.pick(FIRST)} {self.pick(LAST)}"
        first, last = name.split(" ", 1)
        f, l = asciify(first), asciify(last)
        style = self.n(0, 6)
        local = [f"{f}.{l}", f"{f[0]}{l}", f"{f}_{l}", f"{f}+{self.pick(['billing', 'news', 'work'])}",
                 f"{f}{l}{self.n(1, 99)}", f"{f}.{l}", f"{f[0]}.{l}"][style]
        addr = f"{local}@{self.pick(DOMAINS)}"
        if self.r.random() < 0.08:
            addr = addr[0].upper() + addr[1:]
        return addr

    def person_email(self):
        first, last = self.pick(FIRST), self.pick(LAST)
        name = f"{first} {last}"
        return name, self.email(name)

    # -- phone numbers (fictional ranges only)
    def phone(self, kind=None):
        line = f"01{self.n(0, 99):02d}"
        area = self.pick(AREA_CODES)
        kinds = ["paren", "dots", "dashes", "intl_sp", "intl_ext", "intl_paren", "e164",
                 "tollfree", "uk_london", "uk_london_nat", "uk_mobile", "uk_mobile_nat",
                 "uk_manc", "au_mobile", "au_nat", "fr_intl", "fr_nat", "paren_x"]
        kind = kind or self.pick(kinds)
        uk = f"{self.n(0, 999):03d}"
        au = self.pick(["156", "157", "158", "159", "110", "313", "737"])
        fr = f"{self.n(10, 99):02d} {self.n(10, 99):02d}"
        return {
            "paren": f"({area}) 555-{line}",
            "dots": f"{area}.555.{line}",
            "dashes": f"{area}-555-{line}",
            "intl_sp": f"+1 {area} 555 {line}",
            "intl_ext": f"+1-{area}-555-{line} ext. {self.n(2, 999)}",
            "intl_paren": f"+1 ({area}) 555-{line}",
            "e164": f"+1{area}555{line}",
            "tollfree": f"1-800-555-{line}",
            "uk_london": f"+44 20 7946 0{uk}",
            "uk_london_nat": f"020 7946 0{uk}",
            "uk_mobile": f"+44 7700 900{uk}",
            "uk_mobile_nat": f"07700 900{uk}",
            "uk_manc": f"+44 161 496 0{uk}",
            "au_mobile": f"+61 491 570 {au}",
            "au_nat": f"0491 570 {au}",
            "fr_intl": f"+33 1 99 00 {fr}",
            "fr_nat": f"01 99 00 {fr}",
            "paren_x": f"({area}) 555-{line} x{self.n(10, 9999)}",
        }[kind]

    def phone_bare(self):
        return f"555{self.pick(['-', ' '])}01{self.n(0, 99):02d}"

    # -- cards
    def card(self, kind=None, sep=None):
        kind = kind or self.pick(["visa", "visa", "mc", "mc", "amex", "discover", "jcb",
                                  "diners", "visa13"])
        num = self.pick(CARDS[kind])
        assert luhn_ok(num), num
        sep = self.pick(["", " ", " ", "-"]) if sep is None else sep
        if kind == "visa13" or not sep:
            return num
        if len(num) == 15:
            groups = [num[:4], num[4:10], num[10:]]
        elif len(num) == 14:
            groups = [num[:4], num[4:10], num[10:]]
        else:
            groups = [num[i:i + 4] for i in range(0, 16, 4)]
        return sep.join(groups)

    def bad_card(self, sep=None):
        while True:
            num = self.pick("4536") + "".join(str(self.n(0, 9)) for _ in range(15))
            if not luhn_ok(num):
                break
        sep = self.pick(["", " ", "-"]) if sep is None else sep
        return sep.join(num[i:i + 4] for i in range(0, 16, 4))

    # -- IBAN
    def bban(self, layout):
        out = []
        for kind, count in layout:
            alphabet = {"n": string.digits, "a": string.ascii_uppercase,
                        "c": string.digits + string.ascii_uppercase}[kind]
            out.append(self.chars(alphabet, count))
        return "".join(out)

    def iban_compact(self):
        country, layout = self.pick(IBAN_LAYOUTS)
        bban = self.bban(layout)
        iban = country + iban_check_digits(country, bban) + bban
        assert len(iban) == IBAN_LENGTH[country] and iban_mod97(iban) == 1, iban
        return iban

    @staticmethod
    def group4(s):
        return " ".join(s[i:i + 4] for i in range(0, len(s), 4))

    def iban(self, spaced=None):
        iban = self.iban_compact()
        spaced = self.r.random() < 0.6 if spaced is None else spaced
        return self.group4(iban) if spaced else iban

    def bad_iban(self, spaced=True):
        iban = self.iban_compact()
        while True:
            cd = f"{self.n(2, 98):02d}"
            bad = iban[:2] + cd + iban[4:]
            if iban_mod97(bad) != 1:
                break
        return self.group4(bad) if spaced else bad

    # -- SSN
    def ssn_parts(self):
        while True:
            area = self.n(1, 899)
            group, serial = self.n(1, 99), self.n(1, 9999)
            s = f"{area:03d}-{group:02d}-{serial:04d}"
            if area != 666 and s not in ("078-05-1120", "123-45-6789", "219-09-9999"):
                return f"{area:03d}", f"{group:02d}", f"{serial:04d}"

    def ssn(self, fmt="dash"):
        a, g, s = self.ssn_parts()
        return {"dash": f"{a}-{g}-{s}", "space": f"{a} {g} {s}", "bare": f"{a}{g}{s}"}[fmt]

    def bad_ssn(self):
        a, g, s = self.ssn_parts()
        kind = self.n(0, 4)
        if kind == 0:
            a = "000"
        elif kind == 1:
            a = "666"
        elif kind == 2:
            a = f"9{self.n(0, 99):02d}"
        elif kind == 3:
            g = "00"
        else:
            s = "0000"
        return f"{a}-{g}-{s}"

    # -- IP addresses (documentation ranges)
    def ipv4(self):
        return f"{self.pick(['192.0.2', '198.51.100', '203.0.113'])}.{self.n(1, 254)}"

    def ipv6(self, kind=None):
        kind = kind or self.pick(["short", "short", "mid", "full", "mapped", "upper"])
        h = lambda: f"{self.n(1, 0xffff):x}"
        if kind == "short":
            return f"2001:db8::{h()}"
        if kind == "mid":
            return f"2001:db8:{h()}:{h()}::{h()}"
        if kind == "full":
            return "2001:0db8:" + ":".join(f"{self.n(0, 0xffff):04x}" for _ in range(6))
        if kind == "mapped":
            return f"::ffff:{self.ipv4()}"
        return f"2001:DB8:{self.n(1, 0xffff):X}::{self.n(1, 0xffff):X}"

    def ip(self):
        return self.ipv4() if self.r.random() < 0.6 else self.ipv6()

    # -- API keys
    ALNUM = string.ascii_letters + string.digits
    UPNUM = string.ascii_uppercase + string.digits

    def api_key(self, provider=None):
        provider = provider or self.pick(["aws", "github", "github_pat", "slack", "stripe",
                                          "openai_proj", "openai", "anthropic", "google"])
        if provider == "aws":
            return "AKIAIOSFODNN7EXAMPLE" if self.r.random() < 0.3 else \
                "AKIA" + self.chars(self.UPNUM, 9) + "EXAMPLE"
        if provider == "github":
            return "ghp_" + self.chars(self.ALNUM, 36)
        if provider == "github_pat":
            return "github_pat_11" + self.chars(self.UPNUM, 20) + "_" + self.chars(self.ALNUM, 59)
        if provider == "slack":
            return (f"xoxb-{self.n(10**10, 10**11 - 1)}-{self.n(10**12, 10**13 - 1)}-"
                    + self.chars(self.ALNUM, 24))
        if provider == "stripe":
            return "sk_live_" + self.chars(self.ALNUM, self.pick([24, 32, 99 - 8 - 10]))
        if provider == "openai_proj":
            return "sk-proj-" + self.chars(self.ALNUM + "-_", 48) + "T3BlbkFJ" + self.chars(self.ALNUM, 24)
        if provider == "openai":
            return "sk-" + self.chars(self.ALNUM, 20) + "T3BlbkFJ" + self.chars(self.ALNUM, 20)
        if provider == "anthropic":
            return "sk-ant-api03-" + self.chars(self.ALNUM + "-_", 93) + "AA"
        if provider == "google":
            return "AIza" + self.chars(self.ALNUM + "-_", 35)
        raise ValueError(provider)

    def aws_secret(self):
        return self.chars(self.ALNUM + "/+", 30) + "EXAMPLEKEY"

    def password(self):
        while True:
            body = self.chars(self.ALNUM + "!#%*+-_.@^", self.n(10, 18))
            pw = self.pick(string.ascii_letters) + body + self.pick(string.digits)
            if any(c.isdigit() for c in body) and any(c in "!#%*+-_.@^" for c in pw):
                return pw

    def hexkey(self, k=32):
        return self.chars("0123456789abcdef", k)

    # -- JWT
    def jwt(self):
        header = self.pick(JWT_HEADERS)
        iat = self.n(1_700_000_000, 1_720_000_000)
        payload = {"sub": self.pick([f"user_{self.n(1000, 99999)}", self.uuid()]),
                   "iat": iat, "exp": iat + self.pick([900, 3600, 86400])}
        if self.r.random() < 0.5:
            payload["iss"] = self.pick(["https://auth.example.com", "https://login.example.org/"])
        if self.r.random() < 0.4:
            payload["role"] = self.pick(["admin", "reader", "billing"])
        h = b64url(json.dumps(header, separators=(",", ":")).encode())
        p = b64url(json.dumps(payload, separators=(",", ":")).encode())
        s = self.chars(self.ALNUM + "-_", JWT_SIG_LEN[header["alg"]])
        return f"{h}.{p}.{s}"

    # -- private keys
    PK_KINDS = {
        "RSA PRIVATE KEY": bytes.fromhex("308204a40201000282010100"),
        "PRIVATE KEY": bytes.fromhex("308204be020100300d06092a864886f70d0101010500048204a8"),
        "EC PRIVATE KEY": bytes.fromhex("30770201010420"),
        "OPENSSH PRIVATE KEY": b"openssh-key-v1\x00\x00\x00\x00\x04none",
        "ENCRYPTED PRIVATE KEY": bytes.fromhex("308205263050"),
        "DSA PRIVATE KEY": bytes.fromhex("308201bb02010002818100"),
    }

    def pk_body_lines(self, label, lines):
        head = self.PK_KINDS[label]
        raw = head + bytes(self.n(0, 255) for _ in range(48 * lines - len(head) + self.n(0, 30)))
        b64 = base64.b64encode(raw).decode("ascii")
        return [b64[i:i + (70 if label == "OPENSSH PRIVATE KEY" else 64)]
                for i in range(0, len(b64), 70 if label == "OPENSSH PRIVATE KEY" else 64)]

    def private_key(self, label=None, lines=None, newline="\n", indent=""):
        label = label or self.pick(list(self.PK_KINDS))
        lines = lines or self.n(4, 9)
        body = self.pk_body_lines(label, lines)
        extra = []
        if label == "RSA PRIVATE KEY" and self.r.random() < 0.3:
            extra = ["Proc-Type: 4,ENCRYPTED",
                     f"DEK-Info: AES-128-CBC,{self.chars('0123456789ABCDEF', 32)}", ""]
        rows = [f"-----BEGIN {label}-----"] + extra + body + [f"-----END {label}-----"]
        return (newline + indent).join(rows)

    # -- secrets
    def secret(self, kind=None):
        kind = kind or self.pick(["alnum", "alnum", "urlsafe", "b64", "whsec"])
        while True:
            if kind == "alnum":
                tok = self.chars(self.ALNUM, self.pick([24, 32, 40]))
            elif kind == "urlsafe":
                tok = self.chars(self.ALNUM + "-_", self.pick([32, 43]))
            elif kind == "b64":
                tok = base64.b64encode(bytes(self.n(0, 255) for _ in range(self.pick([24, 32])))).decode()
            else:
                tok = "whsec_" + self.chars(self.ALNUM, 32)
            body = tok[6:] if kind == "whsec" else tok
            ok = (any(c.isupper() for c in body) and any(c.islower() for c in body)
                  and any(c.isdigit() for c in body)
                  and not re.match(r"(eyJ|sk|gh|xox|AKIA|AIza|[-_/+=])", tok))
            if ok:
                return tok

    # -- addresses
    def street(self):
        num = self.n(1, 9899)
        if self.r.random() < 0.12:
            name = f"{self.pick(['2nd', '3rd', '4th', '7th', '11th', '21st'])}"
        else:
            name = self.pick(STREETS)
        suffix = self.pick(SUFFIX_ABBR) if self.r.random() < 0.3 else self.pick(SUFFIX_FULL)
        return f"{num} {name} {suffix}"

    def address(self, city=None, unit=None):
        s = self.street()
        unit = self.r.random() < 0.15 if unit is None else unit
        if unit:
            s += self.pick([f", Apt {self.n(1, 40)}{self.pick('ABCD')}", f", Suite {self.n(100, 950)}",
                            f" Unit {self.n(1, 99)}"])
        city = self.r.random() < 0.6 if city is None else city
        if city:
            c, st = self.pick(CITIES)
            zipc = f"{self.n(10000, 99899)}"
            if self.r.random() < 0.15:
                zipc += f"-{self.n(1000, 9999)}"
            s += f", {c}, {st} {zipc}"
        return s

    # -- negative material
    def date_iso(self):
        return f"20{self.n(19, 26)}-{self.n(1, 12):02d}-{self.n(1, 28):02d}"

    def date_eu(self):
        return f"{self.n(1, 28):02d}.{self.n(1, 12):02d}.20{self.n(19, 26)}"

    def date_us(self):
        return f"{self.n(1, 12):02d}/{self.n(1, 28):02d}/20{self.n(19, 26)}"

    def time(self):
        return f"{self.n(0, 23):02d}:{self.n(0, 59):02d}"

    def ts(self):
        return f"{self.date_iso()}T{self.time()}:{self.n(0, 59):02d}Z"

    def logts(self):
        return f"{self.date_iso()} {self.time()}:{self.n(0, 59):02d}"

    def ver(self):
        return f"{self.n(0, 12)}.{self.n(0, 30)}.{self.n(0, 40)}"

    def order(self):
        return f"ORD-20{self.n(21, 25)}-{self.n(100000, 999999)}"

    def inv(self):
        return f"INV-{self.n(1, 99999):05d}"

    def price(self):
        return self.pick([f"€{self.n(1, 9)},{self.n(100, 999)}.{self.n(0, 99):02d}",
                          f"${self.n(5, 999)}.{self.n(0, 99):02d}",
                          f"£{self.n(5, 999)}.{self.n(0, 99):02d}",
                          f"{self.n(1, 9)}.{self.n(100, 999)},{self.n(0, 99):02d} €"])

    def uuid(self):
        h = self.hexkey(32)
        h = h[:12] + "4" + h[13:16] + self.pick("89ab") + h[17:]
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def sha1(self):
        return self.hexkey(40)

    def sha7(self):
        return self.hexkey(7)

    def sha256(self):
        return self.hexkey(64)

    def md5(self):
        return self.hexkey(32)

    def b64w(self):
        w = self.pick(B64_WORDS)
        return base64.b64encode(w.encode()).decode(), w

    def ups(self):
        return "1Z" + self.chars(self.UPNUM, 6) + self.chars(string.digits, 10)

    def ean13(self):
        while True:
            d = "400" + "".join(str(self.n(0, 9)) for _ in range(9))
            check = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(d)) % 10) % 10
            code = d + str(check)
            if not luhn_ok(code):
                return code

    # -- marked entities
    def EMAIL(self, name=None):
        return M("EMAIL", self.email(name))

    def PHONE(self, kind=None):
        return M("PHONE", self.phone(kind))

    def PHONE_BARE(self):
        return M("PHONE", self.phone_bare())

    def CC(self, kind=None, sep=None):
        return M("CREDIT_CARD", self.card(kind, sep))

    def IBAN(self, spaced=None):
        return M("IBAN", self.iban(spaced))

    def SSN(self, fmt="dash"):
        return M("US_SSN", self.ssn(fmt))

    def IP(self):
        return M("IP_ADDRESS", self.ip())

    def IP4(self):
        return M("IP_ADDRESS", self.ipv4())

    def IP6(self, kind=None):
        return M("IP_ADDRESS", self.ipv6(kind))

    def KEY(self, provider=None):
        return M("API_KEY", self.api_key(provider))

    def VAL(self, kind="password"):
        v = {"password": self.password, "hex": self.hexkey, "aws": self.aws_secret,
             "alnum": lambda: self.chars(self.ALNUM, 32)}[kind]()
        return M("API_KEY", v)

    def JWT(self):
        return M("JWT", self.jwt())

    def PK(self, **kw):
        return M("PRIVATE_KEY", self.private_key(**kw))

    def SECRET(self, kind=None):
        return M("SECRET", self.secret(kind))

    def PERSON(self, name=None, gender=None):
        return M("PERSON", name or self.name(gender))

    def ADDRESS(self, city=None, unit=None):
        return M("ADDRESS", self.address(city, unit))

    def FROM(self):
        """A From: header with a labeled name and matching address."""
        name, email = self.person_email()
        return f"From: {M('PERSON', name)} <{M('EMAIL', email)}>"


# ---------------------------------------------------------------- positives
# One list per primary type; a template may carry up to two more entities.

POS = {
    "EMAIL": [
        lambda g: f"Contact me at {g.EMAIL()} tomorrow.",
        lambda g: f"{g.EMAIL()} is the address on file for this account.",
        lambda g: f"Please send the signed form to <{g.EMAIL()}>.",
        lambda g: f"""{{"user": {{"id": {g.n(100, 99999)}, "email": "{g.EMAIL()}", "verified": true}}}}""",
        lambda g: f"{g.ts()} INFO auth: login ok user={g.EMAIL()} ip={g.IP()}",
        lambda g: f"cc: {g.EMAIL()}, {g.EMAIL()}",
        lambda g: f"Reply-To: {g.EMAIL()}\nSubject: Re: refund for order {g.order()}",
        lambda g: f"<a href=\"mailto:{g.EMAIL()}?subject=Hello\">write to us</a>",
        lambda g: f"notify:\n  on_failure: {g.EMAIL()}\n  on_success: false",
        lambda g: f"Is the old one ({g.EMAIL()}) still the right contact?",
        lambda g: f"Can you update my email to {g.EMAIL()}.",
        lambda g: f"git config --global user.email \"{g.EMAIL()}\"",
        lambda g: f"Forwarded by {g.EMAIL()} on {g.date_iso()}: see thread below",
    ],
    "PHONE": [
        lambda g: f"You can reach me on {g.PHONE()} after 5pm.",
        lambda g: f"Call me at {g.PHONE_BARE()} when you land.",
        lambda g: f"{g.PHONE()} is my mobile, text before calling.",
        lambda g: f"""{{"name": "{g.PERSON()}", "phone": "{g.PHONE()}", "vip": false}}""",
        lambda g: f"Support hotline: {g.PHONE()} (Mon–Fri, 9:00–17:00).",
        lambda g: f"tel: {g.PHONE()}",
        lambda g: f"Office {g.PHONE('paren')}, fax {g.PHONE('dashes')}",
        lambda g: f"UK office: {g.PHONE('uk_london')}; mobile {g.PHONE('uk_mobile_nat')}.",
        lambda g: f"contact:\n  phone_number: '{g.PHONE()}'\n  preferred: sms",
        lambda g: f"[{g.logts()}] sms gateway: delivered to {g.PHONE('e164')} status=OK",
        lambda g: f"If the line drops, dial {g.PHONE('intl_ext')}.",
        lambda g: f"Mobile: {g.PHONE_BARE()}",
        lambda g: f"Our Sydney desk is on {g.PHONE('au_mobile')}, Paris on {g.PHONE('fr_intl')}.",
        lambda g: f"Please call back on {g.PHONE('paren_x')} before {g.time()}.",
    ],
    "CREDIT_CARD": [
        lambda g: f"My card number is {g.CC()}, exp 12/27.",
        lambda g: f"{g.CC()} was declined again, can you check?",
        lambda g: f"card: \"{g.CC()}\"",
        lambda g: f"{g.logts()} ERROR payment failed card={g.CC(sep='')} amount={g.price()}",
        lambda g: f"""{{"pan": "{g.CC()}", "cvv": "123", "exp": "08/29"}}""",
        lambda g: f"Charge it to the Amex ({g.CC('amex')}).",
        lambda g: f"Use {g.CC()} for the checkout test; it always succeeds.",
        lambda g: f"cc# {g.CC('visa', '-')}",
        lambda g: f"Card ending 1111? No, the full number is {g.CC('visa', ' ')}",
        lambda g: f"Billing: Visa {g.CC('visa')} / Mastercard {g.CC('mc')}",
        lambda g: f"Discover {g.CC('discover', ' ')} on file for {g.PERSON()}? Hmm, wrong customer.",
        lambda g: f"Paid with JCB {g.CC('jcb')} and Diners {g.CC('diners', ' ')}.",
    ],
    "IBAN": [
        lambda g: f"Please wire the deposit to {g.IBAN()} by Friday.",
        lambda g: f"IBAN: {g.IBAN(True)}",
        lambda g: f"{g.IBAN()} (account holder: {g.PERSON()})",
        lambda g: f"""{{"iban": "{g.IBAN(False)}", "currency": "EUR"}}""",
        lambda g: f"Überweisung an {g.IBAN(True)} ist eingegangen.",
        lambda g: f"{g.logts()} payout account={g.IBAN(False)} status=pending",
        lambda g: f"Refund to my IBAN {g.IBAN()}, thanks!",
        lambda g: f"bank:\n  iban: \"{g.IBAN(True)}\"\n  reference: {g.inv()}",
        lambda g: f"Old account {g.IBAN()} is closed; new one is {g.IBAN()}.",
        lambda g: f"Could you pay the invoice into \"{g.IBAN(True)}\"?",
    ],
    "US_SSN": [
        lambda g: f"SSN: {g.SSN()}",
        lambda g: f"My social security number is {g.SSN('bare')}.",
        lambda g: f"{g.SSN()} is listed as the applicant's SSN.",
        lambda g: f"""{{"employee": {g.n(100, 9999)}, "ssn": "{g.SSN()}"}}""",
        lambda g: f"W-9 attached; taxpayer id {g.SSN()}.",
        lambda g: f"employee record: ssn={g.SSN('bare')} dept=finance",
        lambda g: f"Verify SSN {g.SSN('space')} before onboarding.",
        lambda g: f"Applicant (SSN {g.SSN()}) passed the background check.",
        lambda g: f"Name: {g.PERSON()}\nSSN: {g.SSN()}",
        lambda g: f"The number on my card is {g.SSN()} if that helps.",
    ],
    "IP_ADDRESS": [
        lambda g: f"Blocked {g.IP4()} after 5 failed logins.",
        lambda g: f"upstream {g.IP4()}:8080 timed out after 30s",
        lambda g: f"server {{\n  listen [{g.IP6('short')}]:443 ssl;\n  server_name shop.example.com;\n}}",
        lambda g: f"GET /api/v1/items 200 0.012s client={g.IP6()}",
        lambda g: f"allowed_ips:\n  - {g.IP4()}\n  - {g.IP6('mid')}",
        lambda g: f"The VPN gave me {g.IP6('mapped')}, is that normal?",
        lambda g: f"{g.IP4()} - - [31/Jan/2024:10:22:01 +0000] \"GET /index.html HTTP/1.1\" 200 512",
        lambda g: f"ping {g.IP6('full')}",
        lambda g: f"Failover moved the VIP from {g.IP4()} to {g.IP4()}.",
        lambda g: f"""{{"remote_addr": "{g.IP()}", "status": 403, "jwt": "{g.JWT()}"}}""",
        lambda g: f"ssh admin@{g.IP4()} -p 2222",
        lambda g: f"Resolved api.example.net to {g.IP6('upper')} (AAAA)",
    ],
    "API_KEY": [
        lambda g: f"export AWS_ACCESS_KEY_ID={g.KEY('aws')}\nexport AWS_SECRET_ACCESS_KEY={g.VAL('aws')}",
        lambda g: f"aws_secret_access_key = {g.VAL('aws')}",
        lambda g: f"GITHUB_TOKEN={g.KEY('github')}",
        lambda g: f"ci:\n  token: {g.KEY('github_pat')}",
        lambda g: f"SLACK_BOT_TOKEN={g.KEY('slack')}",
        lambda g: f"stripe.api_key = \"{g.KEY('stripe')}\"",
        lambda g: f"OPENAI_API_KEY={g.KEY('openai_proj')}",
        lambda g: f"client = anthropic.Anthropic(api_key=\"{g.KEY('anthropic')}\")",
        lambda g: f"https://maps.googleapis.com/maps/api/geocode/json?place_id=ChIJ42&key={g.KEY('google')}",
        lambda g: f"database:\n  user: app\n  password: {g.VAL('password')}\n  pool: 10",
        lambda g: f"""{{"apiKey": "{g.VAL('alnum')}", "region": "eu-west-1"}}""",
        lambda g: f"db_password = '{g.VAL('password')}'",
        lambda g: f"I accidentally pasted my key {g.KEY('openai')} in the chat, please rotate it",
        lambda g: f"{g.KEY()} leaked in build log #{g.n(100, 9999)}",
        lambda g: f"api_key: \"{g.VAL('hex')}\"",
        lambda g: f"const token = \"{g.KEY('github')}\";",
        lambda g: f"Here is the Anthropic key for staging: {g.KEY('anthropic')}",
    ],
    "JWT": [
        lambda g: f"Authorization: Bearer {g.JWT()}",
        lambda g: f"curl -H 'Authorization: Bearer {g.JWT()}' https://api.example.com/v1/me",
        lambda g: f"""{{"access_token": "{g.JWT()}", "token_type": "Bearer", "expires_in": 3600}}""",
        lambda g: f"Cookie: session={g.JWT()}; theme=dark\nX-Forwarded-For: {g.IP4()}",
        lambda g: f"https://app.example.com/callback#id_token={g.JWT()}&state=af0ifjsldkj",
        lambda g: f"The token {g.JWT()} issued to {g.EMAIL()} expired at {g.ts()}.",
        lambda g: f"auth:\n  jwt: {g.JWT()}",
        lambda g: f"here's the JWT I got back: {g.JWT()}",
        lambda g: f"{g.JWT()}",
    ],
    "PRIVATE_KEY": [
        lambda g: f"id_rsa contents:\n{g.PK(label='RSA PRIVATE KEY')}",
        lambda g: f"{g.PK()}",
        lambda g: (f"""{{"type": "service_account", "project_id": "demo-project", "private_key": """
                   f""""{g.PK(label='PRIVATE KEY', newline=chr(92) + 'n', lines=6)}\\n", """
                   f""""client_email": "{g.EMAIL()}"}}"""),
        lambda g: f"ssh_key: |\n  {g.PK(label='OPENSSH PRIVATE KEY', indent='  ')}\nhost: git.example.com",
        lambda g: f"Accidentally committed key.pem:\n```\n{g.PK(label='EC PRIVATE KEY')}\n```\nplease purge it ({g.EMAIL()})",
        lambda g: f"{g.PK(label='ENCRYPTED PRIVATE KEY')}\n(passphrase is in the vault)",
        lambda g: f"Here is the server key, don't share:\n\n{g.PK()}\n\nRegards, {g.PERSON()}",
    ],
    "SECRET": [
        lambda g: f"Authorization: Bearer {g.SECRET('alnum')}",
        lambda g: f"The session secret is {g.SECRET()}, rotate it monthly.",
        lambda g: f"Set-Cookie: sid={g.SECRET('urlsafe')}; HttpOnly; Secure; Path=/",
        lambda g: f"Webhook signing secret {g.SECRET('whsec')} was shown only once.",
        lambda g: f"HMAC salt: {g.SECRET('b64')}",
        lambda g: f"ENCRYPTION_SALT={g.SECRET()}",
        lambda g: f"X-Signature: {g.SECRET('b64')}",
        lambda g: f"I've put the shared value {g.SECRET()} in the vault; don't paste it here again.",
        lambda g: f"{g.logts()} DEBUG session cookie value {g.SECRET('urlsafe')} issued to {g.IP4()}",
        lambda g: f"https://files.example.com/report.pdf?expires=1717171717&sig={g.SECRET('alnum')}",
        lambda g: f"MASTER_SEED: \"{g.SECRET('alnum')}\"",
        lambda g: f"{g.SECRET()} <- this is the signing value from the old server",
        lambda g: f"Recovery blob (keep offline): {g.SECRET('b64')}",
    ],
    "PERSON": [
        lambda g: f"Hi, my name is {g.PERSON()} and I need help with my order {g.order()}.",
        lambda g: f"Name: {g.PERSON()}\nDepartment: Finance",
        lambda g: f"Dr. {g.PERSON()} will see you at {g.time()}.",
        lambda g: f"Please forward this to Mr. {g.PERSON(gender='m')}.",
        lambda g: f"Thanks for your help.\nRegards, {g.PERSON()}",
        lambda g: f"I will send the contract today.\n\nSincerely,\n{g.PERSON()}",
        lambda g: f"""{{"name": "{g.PERSON()}", "role": "admin"}}""",
        lambda g: f"Prof. {g.PERSON()} approved the request on {g.date_iso()}.",
        lambda g: f"Signed, {g.PERSON()} (Operations)",
        lambda g: f"Best regards,\n{g.PERSON()}\nCustomer Success",
        lambda g: f"{g.FROM()}\nSubject: quarterly numbers",
        lambda g: f"Ms. {g.PERSON(g.last())} asked for a callback.",
        lambda g: f"my name's {g.PERSON()}, I'm the new contractor",
        lambda g: f"Mr. {g.PERSON('Chen Wei')} and Mrs. {g.PERSON(gender='f')} joined the call.",
        lambda g: f"name: {g.PERSON()}\nrole: on-call",
    ],
    "ADDRESS": [
        lambda g: f"Ship it to {g.ADDRESS()}.",
        lambda g: f"{g.ADDRESS(city=True)} (please leave the parcel with the doorman)",
        lambda g: f"address: \"{g.ADDRESS(city=True)}\"",
        lambda g: f"Our office moved to {g.ADDRESS()} (second floor).",
        lambda g: f"""{{"shipping_address": "{g.ADDRESS(city=True)}", "gift": false}}""",
        lambda g: f"I live at {g.ADDRESS(city=False)}, the blue house on the corner.",
        lambda g: f"Return label: {g.ADDRESS(city=True)}",
        lambda g: f"Meet me at {g.ADDRESS(city=False)} at 7.",
        lambda g: f"Deliver to: {g.ADDRESS(unit=True)}; ring twice",
        lambda g: f"Billing address is {g.ADDRESS(city=True)}, same as shipping.",
        lambda g: f"We moved from {g.ADDRESS(city=False)} to {g.ADDRESS(city=True)} last spring.",
    ],
}

# ---------------------------------------------------------------- hard negatives
# No entity at all. Numbers that look like entities fail the rules that define them.

NEG = [
    lambda g: f"The release is scheduled for {g.date_iso()} at {g.time()} UTC.",
    lambda g: f"Invoice {g.inv()} was paid on {g.date_eu()}; total {g.price()}.",
    lambda g: f"Upgraded the library from {g.ver()} to {g.ver()}, no breaking changes.",
    lambda g: f"Order #{g.n(10000, 99999)} shipped via UPS, tracking {g.ups()}.",
    lambda g: f"Card check failed: {g.bad_card(' ')} does not pass the Luhn checksum.",
    lambda g: f"Reference number {g.bad_card('')} is not a valid card number.",
    lambda g: f"The sample IBAN {g.bad_iban()} has wrong check digits and was rejected.",
    lambda g: f"Test value {g.bad_ssn()} is not a valid SSN; the checker refused it.",
    lambda g: f"Request id {g.uuid()} completed in {g.n(5, 900)} ms.",
    lambda g: f"Fixed in commit {g.sha7()} (full hash {g.sha1()}).",
    lambda g: f"sha256: {g.sha256()}  release.tar.gz",
    lambda g: (lambda b: f"echo {b[0]} | base64 -d   # prints \"{b[1]}\"")(g.b64w()),
    lambda g: "Rename getUserProfileById to fetchUserProfile in UserProfileService.",
    lambda g: "Docs live at https://docs.example.com/guide/install?lang=en#step-3",
    lambda g: f"Logs are written to /var/log/app/20{g.n(20, 25)}/01/31/server.log",
    lambda g: "The Board Meeting Will Start At Noon In The Main Hall.",
    lambda g: "We walked down the street and turned onto the avenue by the park.",
    lambda g: f"Windows build 10.0.{g.n(19041, 22631)}.{g.n(1000, 4000)} fixed the driver crash.",
    lambda g: f"The package costs {g.price()} or {g.price()} including VAT.",
    lambda g: f"Meeting moved to {g.date_eu()}, 14:00–15:30 CET.",
    lambda g: f"Population grew from 1,{g.n(100, 999)},{g.n(100, 999)} to 1,{g.n(100, 999)},{g.n(100, 999)} between 2010 and 2020.",
    lambda g: "Set max_connections to 500 and shared_buffers to 4GB.",
    lambda g: "Room 4.12 is on the fourth floor, next to lab 4.14.",
    lambda g: f"Chapter {g.n(1, 9)}.{g.n(1, 9)}.{g.n(1, 9)} explains the retry policy.",
    lambda g: "Use semver: 2.14.0-rc.1+build.5 is a pre-release.",
    lambda g: f"The checksum was md5 {g.md5()}.",
    lambda g: "Python 3.11.7 and Node 20.11.0 are installed on the runner.",
    lambda g: "HTTP/1.1 404 Not Found after 3 retries.",
    lambda g: "Temperatures ranged from -4.5 °C to 12.3 °C overnight.",
    lambda g: "Error code 0x80070005 means access denied.",
    lambda g: f"Our fiscal year ends on {g.date_iso()}; Q3 revenue was €12.4M.",
    lambda g: "Port 8080 is open; 443 redirects to 8443.",
    lambda g: f"Batch {g.date_iso()}-{g.n(1, 99):04d} finished with 0 errors.",
    lambda g: f"Lot number LOT-{g.n(10000, 99999)}-B expires 03/2026.",
    lambda g: f"The flight departs at {g.time()} from gate B{g.n(1, 60)}.",
    lambda g: "Set the timeout to 00:05:00 (five minutes).",
    lambda g: f"Serial no. SN-{g.chars(g.UPNUM, 4)}-{g.chars(g.UPNUM, 4)}-{g.n(1000, 9999)} is covered by warranty.",
    lambda g: "The function parseHttpResponseHeaders2 returns a map of header names to values.",
    lambda g: "CSS color #1e90ff and rgba(30, 144, 255, 0.5) for the button.",
    lambda g: f"Docker image nginx:1.{g.n(20, 27)}.{g.n(0, 5)}-alpine pulled in 4.2s.",
    lambda g: f"k8s pod web-{g.hexkey(10)}-{g.chars('bcdfghjklmnpqrstvwxz2456789', 5)} restarted 3 times.",
    lambda g: "Version 1.2.3 deprecates the --legacy flag; use --mode=strict instead.",
    lambda g: f"Average latency {g.n(5, 20)}.{g.n(0, 9)} ms, p99 {g.n(50, 99)}.{g.n(0, 9)} ms over 10,000 requests.",
    lambda g: "The meeting notes are in Q1-2024-planning.docx on the shared drive.",
    lambda g: f"Product code {g.ean13()} is the EAN printed on the label.",
    lambda g: "Shipment weighs 12.75 kg; dimensions 40 x 30 x 20 cm.",
    lambda g: f"Timestamps like {g.n(1600000000, 1799999999)} are seconds since the epoch.",
    lambda g: f"Ticket JIRA-{g.n(1000, 9999)} is blocked by JIRA-{g.n(1000, 9999)}.",
    lambda g: "Apply patch 0001-fix-null-deref.patch before building.",
    lambda g: f"The table has {g.n(1, 9)},{g.n(100, 999)},{g.n(100, 999)} rows and 42 columns.",
    lambda g: "Set LOG_LEVEL=debug and RETRY_COUNT=5 in the environment.",
    lambda g: "Password must be at least 12 characters long and contain a digit.",
    lambda g: "Enter your API key in the settings page; never share it in chat.",
    lambda g: "The token expires after 3600 seconds; refresh it before then.",
    lambda g: "Call the function twice if the first call returns 429.",
    lambda g: "Phone support is available Monday to Friday, 9:00 to 17:00.",
    lambda g: "Our office is on the second floor of the main building.",
    lambda g: "Name the file report-final-v2.pdf and upload it to the portal.",
    lambda g: "He took the Street View photos in 2019 for the city archive.",
    lambda g: "Main Street Bakery opens at 7:00 on weekdays.",
    lambda g: "IPv6 uses 128-bit addresses; IPv4 uses 32-bit addresses.",
    lambda g: (lambda b: f"The base64 string {b[0]} decodes to '{b[1]}'.")(g.b64w()),
    lambda g: f"Sprint {g.n(20, 26)}.{g.n(1, 9)} starts on Monday.",
    lambda g: f"Git tag v{g.ver()} points to {g.sha1()}.",
    lambda g: f"Flight LH{g.n(100, 999)} lands at {g.time()} local time.",
    lambda g: "Temperature sensor TMP-117 reads 21.4 °C.",
    lambda g: f"Invoice total: {g.n(1, 9)}.{g.n(100, 999)},00 € (incl. 19 % MwSt.)",
    lambda g: "Use `kubectl rollout restart deployment/api-gateway` to redeploy.",
    lambda g: f"at com.example.orders.OrderService.submit(OrderService.java:{g.n(10, 999)})",
    lambda g: "The release notes mention two CVEs: CVE-2023-44487 and CVE-2024-3094.",
    lambda g: f"Download https://downloads.example.org/releases/v{g.ver()}/app-linux-x86_64.tar.gz",
    lambda g: "Use UTC; 2024-03-10T02:30:00-08:00 does not exist in Pacific time.",
    lambda g: f"Zip the folder as backup_{g.date_iso().replace('-', '')}_{g.time().replace(':', '')}.zip.",
    lambda g: f"SKU: WM-{g.n(1000, 9999)}-BLK-XL is out of stock.",
    lambda g: "The conference runs 2024-09-16 to 2024-09-19 in Hall 3.",
    lambda g: "The Quarterly Report Is Attached For Your Review.",
    lambda g: f"Order {g.order()} was split into two shipments.",
    lambda g: f"Policy number POL-{g.n(10, 99)}-{g.n(100000, 999999)} renews on {g.date_us()}.",
    lambda g: f"A UUID like {g.uuid()} is just an identifier.",
    lambda g: "Run `npm install lodash@4.17.21` to pin the version.",
    lambda g: f"Account balance after transfer: ${g.n(1, 99)},{g.n(100, 999)}.{g.n(10, 99)}.",
    lambda g: "Set `retries: 3` and `timeout: 30s` in config.yaml.",
    lambda g: f"Card {g.bad_card('-')} failed validation (checksum mismatch).",
    lambda g: f"IBAN-like string {g.bad_iban(False)} fails the mod-97 check.",
    lambda g: f"Form field shows {g.bad_ssn()}, which is not a valid SSN pattern.",
    lambda g: f"ETag: \"{g.md5()}\"",
    lambda g: "password: ${DB_PASSWORD}",
    lambda g: "api_key = \"<your-api-key>\"",
    lambda g: "The secret ingredient is cinnamon, not nutmeg.",
    lambda g: "Keep the spare key under the blue flower pot.",
    lambda g: f"Build #{g.n(1000, 9999)} on branch feature/checkout-v2 took {g.n(2, 15)} min {g.n(1, 59)} s.",
    lambda g: f"ISO week {g.n(1, 52)}, day {g.n(1, 7)}; deadline {g.date_us()} 11:59 PM.",
    lambda g: f"C:\\Users\\Public\\Documents\\Reports\\{g.date_iso()}-summary.xlsx was locked.",
    lambda g: f"The {g.pick(['5th', '6th', '8th', '9th'])} Avenue bus was late again this morning.",
    lambda g: "Dear team, the Annual Report Goes Out On Friday.",
    lambda g: f"SELECT * FROM orders WHERE created_at > '{g.date_iso()}' LIMIT 100;",
    lambda g: f"Exchange rate 1 EUR = 1.{g.n(1000, 1300)} USD on {g.date_iso()}.",
    lambda g: f"Tracking number {g.n(1000, 9999)} {g.n(1000, 9999)} {g.n(1000, 9999)} {g.n(1000, 9999)} {g.n(1000, 9999)} {g.n(10, 99)} is in transit.",
    lambda g: "Bump minSdkVersion to 24 and targetSdkVersion to 34.",
    lambda g: f"Coupon code SPRING{g.n(10, 50)} gives 15% off until {g.date_eu()}.",
]

# ---------------------------------------------------------------- mixed
# Several types together, with negative distractors (dates, ids, versions, amounts).


def mixed_templates():
    return [
        lambda g: (f"Ticket #{g.n(10000, 99999)} opened {g.date_iso()}.\nName: {g.PERSON()}\n"
                   f"Email: {g.EMAIL()}\nPhone: {g.PHONE()}\nOrder {g.order()}, total {g.price()}."),
        lambda g: (f"{g.ts()} WARN payment user={g.EMAIL()} card={g.CC(sep='')} ip={g.IP4()} "
                   f"req={g.uuid()} amount={g.price()}"),
        lambda g: (f"database:\n  host: {g.IP4()}\n  port: 5432\n  password: \"{g.VAL('password')}\"\n"
                   f"smtp:\n  user: {g.EMAIL()}\n  api_key: {g.KEY('stripe')}\nversion: {g.ver()}"),
        lambda g: (f"""{{"id": "{g.uuid()}", "name": "{g.PERSON()}", "email": "{g.EMAIL()}", """
                   f""""ssn": "{g.SSN()}", "address": "{g.ADDRESS(city=True)}", "created": "{g.ts()}"}}"""),
        lambda g: (f"{g.FROM()}\nTo: {g.EMAIL()}\nDate: {g.date_iso()}\n\nHi team,\n"
                   f"please refund card {g.CC()} for order {g.order()}.\n\nRegards,\n{g.PERSON()}"),
        lambda g: (f"APP_VERSION={g.ver()}\nAWS_ACCESS_KEY_ID={g.KEY('aws')}\n"
                   f"AWS_SECRET_ACCESS_KEY={g.VAL('aws')}\nSTRIPE_KEY={g.KEY('stripe')}\nBUILD_SHA={g.sha1()}\n"
                   f"COOKIE_SIGNING_SALT={g.SECRET('alnum')}\nADMIN_EMAIL={g.EMAIL()}"),
        lambda g: (f"hi, my name is {g.PERSON()}, I live at {g.ADDRESS(city=True)} and my SSN is "
                   f"{g.SSN()}. You can call me at {g.PHONE()}. Order #{g.n(1000, 9999)} never arrived."),
        lambda g: (f"Transfer of {g.price()} to IBAN {g.IBAN()} on {g.date_eu()}, reference {g.inv()}. "
                   f"Questions: {g.EMAIL()}"),
        lambda g: (f"curl -H 'Authorization: Bearer {g.JWT()}' https://api.example.com/v2/users/{g.uuid()}"
                   f"  # from {g.IP()} at {g.ts()}"),
        lambda g: (f"Deploy key for repo (commit {g.sha7()}), owner {g.EMAIL()}:\n"
                   f"{g.PK(lines=5)}"),
        lambda g: (f"[{g.logts()}] session {g.SECRET('urlsafe')} created for {g.IP6()} "
                   f"(client v{g.ver()}, build {g.sha7()})"),
        lambda g: (f"Name: {g.PERSON()}\nSSN: {g.SSN('bare')}\nAddress: {g.ADDRESS(city=True)}\n"
                   f"Phone: {g.PHONE()}\nStart date: {g.date_iso()}"),
        lambda g: (f"GITHUB_TOKEN={g.KEY('github')}\nSLACK_WEBHOOK_SECRET={g.VAL('alnum')}\n"
                   f"# rotated {g.date_iso()} by {g.EMAIL()}"),
        lambda g: (f"Dr. {g.PERSON()} paid {g.price()} with {g.CC()} (invoice {g.inv()}); "
                   f"receipt sent to {g.EMAIL()}."),
        lambda g: (f"""{{"event": "login", "ts": "{g.ts()}", "ip": "{g.IP()}", "user": "{g.EMAIL()}", """
                   f""""token": "{g.JWT()}", "app_version": "{g.ver()}"}}"""),
        lambda g: (f"Please update my details: new phone {g.PHONE()}, new address {g.ADDRESS(city=True)}. "
                   f"Old card {g.bad_card(' ')} was a typo, the real one is {g.CC(sep=' ')}."),
        lambda g: (f"kind: Secret\nmetadata:\n  name: api-creds\nstringData:\n  OPENAI_API_KEY: {g.KEY('openai_proj')}\n"
                   f"  ANTHROPIC_API_KEY: {g.KEY('anthropic')}\n  EGRESS_IP: \"{g.IP4()}\"\ntype: Opaque"),
        lambda g: (f"Bounce for {g.EMAIL()} from relay {g.IP4()} ({g.IP6('short')}) at {g.time()}; "
                   f"queue id {g.hexkey(12).upper()}."),
        lambda g: (f"Payroll change for {g.PERSON()}: IBAN {g.IBAN(True)}, SSN {g.SSN()}, effective {g.date_us()}."),
        lambda g: (f"Incident {g.date_iso()}: key {g.KEY('aws')} was used from {g.IP4()}; "
                   f"contact on-call {g.PHONE('intl_ext')} or {g.EMAIL()}."),
        lambda g: (f"Sincerely,\n{g.PERSON()}\n{g.ADDRESS(city=True)}\nTel: {g.PHONE()}\n{g.EMAIL()}"),
        lambda g: (f"Auth: Bearer {g.SECRET('alnum')}\nX-Request-Id: {g.uuid()}\nX-Forwarded-For: {g.IP4()}, {g.IP4()}"),
        lambda g: (f"Mr. {g.PERSON(gender='m')} called from {g.PHONE('uk_london_nat')} about the refund to "
                   f"{g.IBAN(False)} (case {g.n(100000, 999999)}, opened {g.date_eu()})."),
        lambda g: (f"vault dump:\n  db_password: {g.VAL('password')}\n  jwt: {g.JWT()}\n  tls_key: |\n    "
                   f"{g.PK(label='EC PRIVATE KEY', indent='    ', lines=3)}"),
        lambda g: (f"Support chat {g.date_iso()} {g.time()}: user pasted {g.JWT()} and asked why it fails; "
                   f"token was issued to {g.EMAIL()} from {g.IP6('short')} (app v{g.ver()})."),
        lambda g: (f"Rotation checklist ({g.date_iso()}):\n1. revoke {g.KEY('github')}\n"
                   f"2. replace the signing value {g.SECRET('b64')}\n3. re-issue the server key below\n"
                   f"{g.PK(label='PRIVATE KEY', lines=4)}\nowner: Prof. {g.PERSON()}"),
        lambda g: (f"Shipping to {g.ADDRESS(city=True)}. Questions? Call {g.PHONE('tollfree')}. "
                   f"Tracking {g.ups()}, weight 2.4 kg, order {g.order()}. Signed, {g.PERSON()}"),
    ]


# ---------------------------------------------------------------- build


def build():
    g = G(SEED)
    rows = []

    def add(category, template):
        text, entities = strip_markers(template)
        rows.append({"category": category, "text": text, "entities": entities})

    # 150 positives: 12 lines per type plus one more for the types that mixed lines
    # carry least often, round-robin over the types, cycling through each type's
    # templates.
    lines_left = {t: 12 for t in TYPES}
    for t in ["JWT", "PRIVATE_KEY", "SECRET", "IBAN", "US_SSN", "ADDRESS"]:
        lines_left[t] += 1
    pos_index = {t: 0 for t in TYPES}
    while any(lines_left.values()):
        for t in TYPES:
            if lines_left[t]:
                lines_left[t] -= 1
                add("positive", POS[t][pos_index[t] % len(POS[t])](g))
                pos_index[t] += 1

    # 100 hard negatives, one per template.
    assert len(NEG) == 100, len(NEG)
    for tmpl in NEG:
        add("hard_negative", tmpl(g))

    # 50 mixed: each template twice with fresh values.
    mixed = mixed_templates()
    for i in range(50):
        add("mixed", mixed[i % len(mixed)](g))

    out = []
    for i, r in enumerate(rows, 1):
        out.append({"id": f"p{i:04d}", "category": r["category"], "text": r["text"],
                    "entities": r["entities"]})
    return out


def main():
    rows = build()
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    by_type, by_cat = {}, {}
    for r in rows:
        by_cat[r["category"]] = by_cat.get(r["category"], 0) + 1
        for e in r["entities"]:
            by_type[e["type"]] = by_type.get(e["type"], 0) + 1
    print(f"wrote {len(rows)} lines to {os.path.relpath(OUT)}")
    print("categories:", ", ".join(f"{k} {v}" for k, v in by_cat.items()))
    print("entities:", ", ".join(f"{t} {by_type.get(t, 0)}" for t in TYPES),
          f"(total {sum(by_type.values())})")


if __name__ == "__main__":
    sys.exit(main())
