#include "guard/pii.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <utility>

#include <re2/re2.h>

#include "guard/pii_checks.h"

namespace gantry::guard {

// Every pattern has bounded repetition only, so a match is at most
// kMaxEntityBytes long and depends on nothing past its end but one byte (\b).
struct PiiPatterns {
  RE2 email, phone, card, iban, ssn, ssn_bare, ipv4, ipv6, api_key, api_assign;
  RE2 person_trigger, person_title, address;
  PiiPatterns();
};

namespace {

constexpr size_t kHoldBytes = PiiDetector::kMaxEntityBytes + PiiDetector::kLookaheadBytes;

// A candidate finding plus the start of the regex match that produced it (for
// PERSON the trigger phrase, for a key assignment the key name). A stream cut
// never falls inside [ext_start, finding.end): the candidate is then found
// whole in one window, and overlap resolution on either side of a cut stays
// independent. Bytes a decision read past finding.end are covered by the
// held-back tail.
struct Candidate {
  Finding finding;
  size_t ext_start = 0;
};

// What one ScanPrefix call works on and collects.
struct State {
  std::string_view text;
  size_t from = 0;
  bool at_end = true;
  std::vector<Candidate> out;
  size_t hold = std::string_view::npos;  // earliest start later text could still change

  void Add(std::string_view type, size_t start, size_t end, double score,
           size_t match_start = std::string_view::npos) {
    Finding f{std::string(type), start, end, score, std::string(text.substr(start, end - start))};
    out.push_back({std::move(f), std::min(match_start, start)});
  }
  void Hold(size_t pos) { hold = std::min(hold, pos); }
  // Byte at `i`, or '\0' outside the text (treated as a boundary).
  char At(size_t i) const { return i < text.size() ? text[i] : '\0'; }
  char Before(size_t i, size_t back) const { return i >= back ? text[i - back] : '\0'; }
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlpha(char c) { return IsUpper(c) || IsLower(c); }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsWordChar(char c) { return IsAlnum(c) || c == '_'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsTokenChar(char c) {
  return IsAlnum(c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-';
}
bool IsBase64Char(char c) { return IsAlnum(c) || c == '+' || c == '/' || c == '='; }
bool IsBase64UrlOrDot(char c) { return IsAlnum(c) || c == '_' || c == '-' || c == '.'; }

std::string Digits(std::string_view s) {
  std::string d;
  for (char c : s) {
    if (IsDigit(c)) d.push_back(c);
  }
  return d;
}

const std::initializer_list<std::string_view> kPhoneWords = {
    "phone",  "phones", "telephone", "tel",      "call", "calling",
    "mobile", "cell",   "fax",       "whatsapp", "sms"};
const std::initializer_list<std::string_view> kSsnWords = {"ssn", "social security"};
const std::initializer_list<std::string_view> kSecretWords = {
    "secret", "token", "key",        "password",    "passwd", "api",
    "apikey", "auth",  "credential", "credentials", "bearer"};

// Whether one of `words` appears as a whole word in the kContextBytes before `pos`.
bool NearWord(std::string_view text, size_t pos, std::initializer_list<std::string_view> words) {
  const size_t begin = pos > PiiDetector::kContextBytes ? pos - PiiDetector::kContextBytes : 0;
  std::string before(text.substr(begin, pos - begin));
  for (char& c : before) {
    if (IsUpper(c)) c = static_cast<char>(c - 'A' + 'a');
  }
  for (std::string_view w : words) {
    for (size_t i = before.find(w); i != std::string::npos; i = before.find(w, i + 1)) {
      const size_t j = i + w.size();
      if ((i == 0 || !IsAlpha(before[i - 1])) && (j == before.size() || !IsAlpha(before[j]))) {
        return true;
      }
    }
  }
  return false;
}

// Calls fn(start, groups) for every position >= st.from where `re` matches. Each
// search restarts one byte after the previous match start, so which matches are
// seen does not depend on where scanning began: a stream window rescanning from
// a cut sees exactly what a scan of the whole text sees there.
template <typename Fn>
void ForEachMatch(const RE2& re, const State& st, Fn&& fn) {
  constexpr int kMaxGroups = 8;
  re2::StringPiece m[kMaxGroups];
  const int n = std::min(kMaxGroups, re.NumberOfCapturingGroups() + 1);
  const re2::StringPiece text(st.text.data(), st.text.size());
  size_t pos = st.from;
  while (pos < text.size() && re.Match(text, pos, text.size(), RE2::UNANCHORED, m, n)) {
    const size_t start = static_cast<size_t>(m[0].data() - text.data());
    fn(start, m);
    pos = start + 1;
  }
}

size_t OffsetOf(const State& st, const re2::StringPiece& sp) {
  return static_cast<size_t>(sp.data() - st.text.data());
}

// ---- EMAIL ---------------------------------------------------------------

bool DomainValid(std::string_view d) {
  if (d.size() > 253) return false;
  size_t labels = 0;
  std::string_view tld;
  for (size_t i = 0; i <= d.size();) {
    size_t dot = d.find('.', i);
    if (dot == std::string_view::npos) dot = d.size();
    const std::string_view label = d.substr(i, dot - i);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    ++labels;
    tld = label;
    i = dot + 1;
  }
  if (labels < 2 || tld.size() < 2) return false;
  return std::all_of(tld.begin(), tld.end(), IsAlpha);
}

void ScanEmails(const PiiPatterns& re, State& st) {
  ForEachMatch(re.email, st, [&](size_t s, const re2::StringPiece* m) {
    // Only maximal local parts: a suffix of a longer one is not another address.
    const char prev = st.Before(s, 1);
    if (IsAlnum(prev) || std::string_view("._%+-").find(prev) != std::string_view::npos) return;
    const std::string_view match(m[0].data(), m[0].size());
    const size_t at = match.find('@');
    std::string_view local = match.substr(0, at);
    std::string_view domain = match.substr(at + 1);
    size_t start = s;
    while (!local.empty() && local.front() == '.') {
      local.remove_prefix(1);
      ++start;
    }
    // A sentence may end right after the address.
    while (!domain.empty() && (domain.back() == '.' || domain.back() == '-')) {
      domain.remove_suffix(1);
    }
    if (local.empty() || local.back() == '.' || local.find("..") != std::string_view::npos) return;
    if (!DomainValid(domain)) return;
    const size_t end = s + at + 1 + domain.size();
    if (IsWordChar(st.At(end))) return;
    st.Add(kEmail, start, end, 0.9, s);
  });
}

// ---- PHONE ---------------------------------------------------------------

struct PhoneShape {
  bool plus = false;
  bool paren = false;
  std::vector<std::string> groups;  // digit groups, extension excluded
  std::string seps;                 // separator characters seen between groups
};

PhoneShape ParsePhone(std::string_view m) {
  PhoneShape p;
  bool new_group = true;
  for (char c : m) {
    if (c == 'x' || c == 'X' || c == 'e' || c == 'E' || c == '#') break;  // extension
    if (IsDigit(c)) {
      if (new_group) p.groups.emplace_back();
      p.groups.back().push_back(c);
      new_group = false;
    } else {
      if (c == '+') p.plus = true;
      if (c == '(') p.paren = true;
      if (c == ' ' || c == '.' || c == '-') p.seps.push_back(c);
      new_group = true;
    }
  }
  return p;
}

bool SizesAre(const PhoneShape& p, std::initializer_list<std::pair<size_t, size_t>> ranges) {
  if (p.groups.size() != ranges.size()) return false;
  size_t i = 0;
  for (const auto& [lo, hi] : ranges) {
    const size_t n = p.groups[i++].size();
    if (n < lo || n > hi) return false;
  }
  return true;
}

// 2024-01-31, 31.01.2024, 2174-01-01 00:00 (a date, then perhaps a time).
bool LooksLikeDate(const PhoneShape& p) {
  if (p.groups.size() < 3) return false;
  const size_t a = p.groups[0].size(), b = p.groups[1].size(), c = p.groups[2].size();
  return (a == 4 && b <= 2 && c <= 2) || (a <= 2 && b <= 2 && c == 4);
}

// Shapes that are something else written with phone-like separators.
bool LooksLikeNonPhone(const PhoneShape& p, const std::string& digits) {
  if (digits.size() >= 13 && LuhnValid(digits) && CardIssuerKnown(digits)) return true;
  if (p.plus) return false;  // "+" starts nothing but a phone number
  if (LooksLikeDate(p)) return true;
  // Years: 2017-2022, 2019 2020 2021.
  if (std::all_of(p.groups.begin(), p.groups.end(), [](const std::string& g) {
        return g.size() == 4 && (g.starts_with("19") || g.starts_with("20"));
      })) {
    return true;
  }
  if (SizesAre(p, {{3, 3}, {2, 2}, {4, 4}})) return true;  // an SSN
  const bool dots_only = !p.seps.empty() && p.seps.find_first_not_of('.') == std::string::npos;
  // Dotted numbers are IPs and versions unless shaped like 415.555.2671.
  if (dots_only && !SizesAre(p, {{3, 3}, {3, 3}, {4, 4}})) return true;
  // Dots mixed with other separators: clause and standard numbers (1003.1-2001).
  if (!dots_only && p.seps.find('.') != std::string::npos) return true;
  // Three groups ending in two digits: part numbers (800-29-29); national
  // formats with short groups have more of them (01 23 45 67 89).
  if (p.groups.size() == 3 && p.groups.back().size() < 3) return true;
  return false;
}

// Thousands separators: 1 234 567, 12.345.678.
bool LooksLikeAmount(const PhoneShape& p) {
  if (p.plus || p.paren || p.groups.size() < 3 || p.groups[0].size() > 3) return false;
  for (size_t i = 1; i < p.groups.size(); ++i) {
    if (p.groups[i].size() != 3) return false;
  }
  return true;
}

bool PhoneBoundaries(const State& st, size_t s, size_t e) {
  const char prev = st.Before(s, 1), prev2 = st.Before(s, 2);
  if (IsWordChar(prev) || prev == '+' || prev == '(' || prev == ')') return false;
  // Not the tail of an identifier (ORD-2024-...) or of a longer number; a
  // leading '+' starts a number by itself.
  if ((prev == '.' || prev == '-' || prev == '/') && IsAlnum(prev2)) return false;
  if (prev == ' ' && st.At(s) != '+' && (IsDigit(prev2) || prev2 == ')')) return false;
  const char next = st.At(e), next2 = st.At(e + 1);
  if (IsWordChar(next) || next == '(') return false;
  if ((next == ' ' || next == '.' || next == '-' || next == '/') && IsDigit(next2)) return false;
  return true;
}

void ScanPhones(const PiiPatterns& re, State& st) {
  ForEachMatch(re.phone, st, [&](size_t s, const re2::StringPiece* m) {
    const size_t e = s + m[0].size();
    if (!PhoneBoundaries(st, s, e)) return;
    const PhoneShape p = ParsePhone(std::string_view(m[0].data(), m[0].size()));
    std::string digits;
    for (const std::string& g : p.groups) digits += g;
    if (digits.size() < 7 || digits.size() > 15) return;
    if (p.groups.size() > 1 && p.groups.back().size() < 2) return;
    if (p.plus && digits[0] == '0') return;  // E.164 country codes never start with 0
    if (LooksLikeNonPhone(p, digits)) return;
    const bool context = NearWord(st.text, s, kPhoneWords);
    double score;
    if (p.plus) {
      score = context ? 0.9 : 0.75;
    } else if ((p.paren || p.groups.size() >= 3) && !LooksLikeAmount(p)) {
      score = context ? 0.85 : 0.65;
    } else if (context) {
      score = 0.7;  // 555-1234, 4155552671: a phone only when the text says so
    } else {
      return;
    }
    st.Add(kPhone, s, e, score);
  });
}

// ---- CREDIT_CARD ---------------------------------------------------------

void ScanCards(const PiiPatterns& re, State& st) {
  ForEachMatch(re.card, st, [&](size_t s, const re2::StringPiece* m) {
    const std::string_view match(m[0].data(), m[0].size());
    // Try the whole run, then shorter ones ending at a group boundary, so a card
    // followed by another number ("4111 1111 1111 1111 2024") is still found.
    for (size_t end = match.size(); end > 0;) {
      const std::string digits = Digits(match.substr(0, end));
      if (digits.size() < 13) return;
      if (LuhnValid(digits) && CardIssuerKnown(digits)) {
        st.Add(kCreditCard, s, s + end, 0.95);
        return;
      }
      const size_t sep = match.find_last_of(" -", end - 1);
      if (sep == std::string_view::npos) return;
      end = sep;
    }
  });
}

// ---- IBAN ----------------------------------------------------------------

void ScanIbans(const PiiPatterns& re, State& st) {
  ForEachMatch(re.iban, st, [&](size_t s, const re2::StringPiece* m) {
    const std::string_view match(m[0].data(), m[0].size());
    const size_t want = IbanLength(match.substr(0, 2));
    if (want == 0) return;
    // The pattern may run on into a following capitalized word or number; the
    // IBAN ends after its country's length, at a group boundary.
    std::string compact;
    size_t end = 0;
    for (; end < match.size() && compact.size() < want; ++end) {
      if (match[end] != ' ') compact.push_back(match[end]);
    }
    if (compact.size() != want || (end < match.size() && match[end] != ' ')) return;
    if (!IbanValid(compact)) return;
    st.Add(kIban, s, s + end, 0.98);
  });
}

// ---- US_SSN --------------------------------------------------------------

bool PartOfLongerNumber(const State& st, size_t s, size_t e) {
  const char prev = st.Before(s, 1), next = st.At(e);
  return ((prev == '-' || prev == '.') && IsDigit(st.Before(s, 2))) ||
         ((next == '-' || next == '.') && IsDigit(st.At(e + 1)));
}

void ScanSsns(const PiiPatterns& re, State& st) {
  ForEachMatch(re.ssn, st, [&](size_t s, const re2::StringPiece* m) {
    const size_t e = s + m[0].size();
    if (m[2] != m[4] || PartOfLongerNumber(st, s, e)) return;
    auto sv = [](const re2::StringPiece& p) { return std::string_view(p.data(), p.size()); };
    if (!SsnValid(sv(m[1]), sv(m[3]), sv(m[5]))) return;
    const bool context = NearWord(st.text, s, kSsnWords);
    const double score = context ? 0.95 : (m[2] == "-" ? 0.85 : 0.7);
    st.Add(kUsSsn, s, e, score);
  });
  ForEachMatch(re.ssn_bare, st, [&](size_t s, const re2::StringPiece* m) {
    const size_t e = s + m[0].size();
    const std::string_view d(m[0].data(), m[0].size());
    if (PartOfLongerNumber(st, s, e) || !NearWord(st.text, s, kSsnWords)) return;
    if (!SsnValid(d.substr(0, 3), d.substr(3, 2), d.substr(5, 4))) return;
    st.Add(kUsSsn, s, e, 0.8);
  });
}

// ---- IP_ADDRESS ----------------------------------------------------------

void ScanIps(const PiiPatterns& re, State& st) {
  ForEachMatch(re.ipv4, st, [&](size_t s, const re2::StringPiece* m) {
    const size_t e = s + m[0].size();
    // Not a slice of a longer dotted number (1.2.3.4.5) or of a hostname.
    if (st.Before(s, 1) == '.' && IsAlnum(st.Before(s, 2))) return;
    if (st.At(e) == '.' && IsAlnum(st.At(e + 1))) return;
    if (!Ipv4Valid(std::string_view(m[0].data(), m[0].size()))) return;
    st.Add(kIpAddress, s, e, 0.85);
  });
  ForEachMatch(re.ipv6, st, [&](size_t s, const re2::StringPiece* m) {
    const char prev = st.Before(s, 1);
    if (IsWordChar(prev) || prev == ':' || prev == '.') return;
    std::string_view cand(m[0].data(), m[0].size());
    const size_t match_end = s + cand.size();
    if (IsWordChar(st.At(match_end)) || st.At(match_end) == ':') return;
    // "::" in C++ (a::b) and clock times need a digit and a real address.
    if (std::none_of(cand.begin(), cand.end(), IsDigit)) return;
    if (!Ipv6Valid(cand)) {
      if (cand.back() != ':') return;
      cand.remove_suffix(1);  // "2001:db8::1:" at the end of a clause
      if (!Ipv6Valid(cand)) return;
    }
    st.Add(kIpAddress, s, s + cand.size(), 0.9);
  });
}

// ---- API_KEY -------------------------------------------------------------

bool PlaceholderValue(std::string_view v) {
  if (std::string_view("$<{%*").find(v.front()) != std::string_view::npos) return true;
  return v.find_first_not_of(v.front()) == std::string_view::npos;  // xxxxxxxx
}

void ScanApiKeys(const PiiPatterns& re, State& st) {
  ForEachMatch(re.api_key, st, [&](size_t s, const re2::StringPiece* m) {
    const size_t e = s + m[0].size();
    const char next = st.At(e);
    if (IsWordChar(next) || next == '-') return;  // longer than the format allows
    const std::string_view key(m[0].data(), m[0].size());
    if (key.starts_with("sk-")) {
      // OpenAI-style keys are random: a slug such as sk-learn-some-long-name is not.
      const std::string_view body = key.substr(key.find_first_of("-") + 1);
      if (std::none_of(body.begin(), body.end(), IsDigit) ||
          std::none_of(body.begin(), body.end(), IsAlpha)) {
        return;
      }
    }
    st.Add(kApiKey, s, e, 0.95);
  });
  ForEachMatch(re.api_assign, st, [&](size_t s, const re2::StringPiece* m) {
    std::string_view value(m[3].data(), m[3].size());
    while (!value.empty() && std::string_view(".)]}>").find(value.back()) != std::string::npos) {
      value.remove_suffix(1);
    }
    if (value.size() < 6 || PlaceholderValue(value)) return;
    // A lone lowercase word after "token:" is usually prose, not a credential.
    const bool word = std::all_of(value.begin(), value.end(), IsLower);
    if (word && value.size() < 12) return;
    // Unquoted, code assigns expressions (token = vocab_[id], password =
    // ReadLine()); a literal credential has a digit and no brackets.
    const bool quoted = m[2].size() > 0;
    if (!quoted && (std::none_of(value.begin(), value.end(), IsDigit) ||
                    value.find_first_of("()[]{}<>") != std::string_view::npos)) {
      return;
    }
    const size_t vs = OffsetOf(st, m[3]);
    st.Add(kApiKey, vs, vs + value.size(), 0.8, s);
  });
}

// ---- JWT -----------------------------------------------------------------

void ScanJwts(State& st) {
  const std::string_view text = st.text;
  for (size_t b = text.find("eyJ", st.from); b != std::string_view::npos;
       b = text.find("eyJ", b + 1)) {
    if (IsBase64UrlOrDot(st.Before(b, 1))) continue;
    size_t e = b;
    while (e < text.size() && e - b <= PiiDetector::kMaxJwtBytes && IsBase64UrlOrDot(text[e])) {
      ++e;
    }
    if (e - b > PiiDetector::kMaxJwtBytes) continue;
    if (e == text.size() && !st.at_end) {
      st.Hold(b);  // the token may go on in the next chunk
      continue;
    }
    std::string_view tok = text.substr(b, e - b);
    if (std::count(tok.begin(), tok.end(), '.') == 3 && tok.back() == '.') {
      tok.remove_suffix(1);  // a sentence ending right after the token
    }
    const size_t dot1 = tok.find('.');
    const size_t dot2 = tok.find('.', dot1 + 1);
    if (dot1 == std::string_view::npos || dot2 == std::string_view::npos ||
        tok.find('.', dot2 + 1) != std::string_view::npos || dot2 == dot1 + 1) {
      continue;
    }
    if (!JwtHeaderValid(tok.substr(0, dot1))) continue;
    st.Add(kJwt, b, b + tok.size(), 0.95);
  }
}

// ---- PRIVATE_KEY ---------------------------------------------------------

// The label between "-----BEGIN " and "-----" when it names a private key.
std::string_view PrivateKeyLabel(std::string_view text, size_t b) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  const size_t ls = b + kBegin.size();
  const size_t le = text.substr(0, ls + 45).find("-----", ls);
  if (le == std::string_view::npos || le - ls > 40) return {};
  const std::string_view label = text.substr(ls, le - ls);
  for (char c : label) {
    if (!IsUpper(c) && !IsDigit(c) && c != ' ') return {};
  }
  return label.find("PRIVATE KEY") == std::string_view::npos ? std::string_view() : label;
}

// End of the run of whole lines made only of base64 characters that follows
// `pos` (a line cut off by `limit` counts).
size_t Base64LinesEnd(std::string_view text, size_t pos, size_t limit) {
  size_t end = pos;
  while (pos < limit) {
    size_t line = pos;
    while (line < limit && (text[line] == '\n' || text[line] == '\r')) ++line;
    size_t e = line;
    while (e < limit && IsBase64Char(text[e])) ++e;
    const bool whole = e == limit || text[e] == '\n' || text[e] == '\r';
    if (e == line || !whole) break;
    end = pos = e;
  }
  return end;
}

void ScanPrivateKeys(State& st) {
  const std::string_view text = st.text;
  constexpr size_t kCap = PiiDetector::kMaxPrivateKeyBytes;
  for (size_t b = text.find("-----BEGIN ", st.from); b != std::string_view::npos;
       b = text.find("-----BEGIN ", b + 1)) {
    const std::string_view label = PrivateKeyLabel(text, b);
    if (label.empty()) continue;
    const size_t header_end = static_cast<size_t>(label.data() - text.data()) + label.size() + 5;
    const std::string end_marker = "-----END " + std::string(label) + "-----";
    const size_t limit = std::min(text.size(), b + kCap);
    const size_t end = text.substr(0, limit).find(end_marker, header_end);
    if (end != std::string_view::npos) {
      st.Add(kPrivateKey, b, end + end_marker.size(), 0.99);
      continue;
    }
    if (!st.at_end && text.size() < b + kCap) {
      st.Hold(b);  // the END line may still come
      continue;
    }
    // No END within the cap: report the header and the base64 lines after it,
    // so a truncated key does not leak while prose after it is left alone.
    st.Add(kPrivateKey, b, Base64LinesEnd(text, header_end, limit), 0.9);
  }
}

// ---- SECRET --------------------------------------------------------------

// Hex, or hex behind a short name prefix (req_3f9a..., id-0c1b...): digests,
// commit ids, UUIDs and request ids rather than credentials.
bool LooksHex(std::string_view tok) {
  const size_t sep = tok.find_first_of("_-");
  if (sep != std::string_view::npos && sep <= 8 &&
      std::all_of(tok.begin(), tok.begin() + static_cast<std::ptrdiff_t>(sep), IsAlpha)) {
    tok.remove_prefix(sep + 1);
  }
  if (tok.starts_with("0x") || tok.starts_with("0X")) {  // a C hex literal: 0x9e37...ULL
    tok.remove_prefix(2);
    while (!tok.empty() && std::string_view("uUlL").find(tok.back()) != std::string_view::npos) {
      tok.remove_suffix(1);
    }
  }
  return std::all_of(tok.begin(), tok.end(), [](char c) { return IsHex(c) || c == '-'; });
}

// Made of words: >= 90% of its letters sit in word-like pieces, either a
// lowercase run of two or more with an optional capital before it (three
// letters at least) or a capital and one lowercase letter (To, On):
// Utf16TextWithBomIsDecoded, WebKitFormBoundaryX3. Random base62 tokens reach
// that about 1.3% of the time at 20 bytes and 0.2% at 40.
bool LooksLikeWords(std::string_view tok, double share = 0.9) {
  size_t letters = 0, in_words = 0;
  for (size_t i = 0; i < tok.size();) {
    if (!IsAlpha(tok[i])) {
      ++i;
      continue;
    }
    const size_t start = i;
    const bool capital = IsUpper(tok[i]);
    if (capital) ++i;
    while (i < tok.size() && IsLower(tok[i])) ++i;
    const size_t len = i - start;
    if ((len >= 3 && len - capital >= 2) || (len == 2 && capital)) in_words += len;
    letters += len;
  }
  return letters > 0 && static_cast<double>(in_words) >= share * static_cast<double>(letters);
}

// Five consecutive ascending characters (01234, abcde): an alphabet or sample
// data; a random token has that with probability ~1e-7 per position.
bool HasAscendingRun(std::string_view tok) {
  size_t run = 1;
  for (size_t i = 1; i < tok.size(); ++i) {
    run = tok[i] == tok[i - 1] + 1 ? run + 1 : 1;
    if (run >= 5) return true;
  }
  return false;
}

// Score of a token run as a credential, 0 when it is not one (rule above
// ScanSecrets).
double SecretScore(std::string_view tok, bool context) {
  const bool lower = std::any_of(tok.begin(), tok.end(), IsLower);
  const bool upper = std::any_of(tok.begin(), tok.end(), IsUpper);
  const bool digit = std::any_of(tok.begin(), tok.end(), IsDigit);
  const bool hex = LooksHex(tok);
  // Hex carries at most 4 bits per character: judge it against that.
  const double threshold =
      hex ? 3.0 : std::min(4.0, 0.8 * std::log2(static_cast<double>(tok.size())));
  if (ShannonEntropy(tok) < threshold) return 0;
  if (!digit || !(lower || upper) || tok.front() == '/') return 0;
  // A path (two slashes or more) needs fewer word letters to count as words.
  const double share = std::count(tok.begin(), tok.end(), '/') >= 2 ? 0.75 : 0.9;
  if (!hex && (LooksLikeWords(tok, share) || HasAscendingRun(tok))) return 0;
  if (context) return 0.75;
  if (hex || !lower || !upper) return 0;
  size_t longest = 0, run = 0;
  for (char c : tok) {
    run = IsAlnum(c) ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest >= 12 ? 0.6 : 0;
}

// SECRET: a maximal run of [A-Za-z0-9+/=_-], 20-256 bytes, with Shannon entropy
// >= 4.0 bits/byte, relaxed to 0.8*log2(len) for runs shorter than 32 (a random
// 20-byte token cannot reach much more than 4: its maximum is log2(20) = 4.3),
// holding a letter and a digit, not starting with '/' (a path), and not made
// of words (LooksLikeWords: identifiers such as Utf16TextWithBomIsDecoded) or
// an alphabet (a run such as 01234). Without a context word (secret, token,
// key, password, api, auth, credential, bearer) in the 64 bytes before, it
// must also mix upper and lower case (identifiers such as
// _mm256_permutevar8x32 do not), have an unbroken alphanumeric stretch of >= 12
// (slugs such as my-post-2024-01-31 do not), and not be hex: git SHAs,
// digests, UUIDs and request ids count only next to a context word, and then
// need entropy >= 3.0 (hex carries at most 4 bits per character). A SECRET
// scores 0.6, or 0.75 with a context word: below every type whose findings
// can overlap it, so those win.
void ScanSecrets(State& st) {
  const std::string_view text = st.text;
  size_t i = st.from;
  while (i < text.size()) {
    if (!IsTokenChar(text[i]) || IsTokenChar(st.Before(i, 1))) {
      ++i;
      continue;
    }
    size_t e = i;
    while (e < text.size() && e - i <= 256 && IsTokenChar(text[e])) ++e;
    const size_t len = e - i;
    if (len >= 20 && len <= 256) {
      const std::string_view tok = text.substr(i, len);
      const double score = SecretScore(tok, NearWord(text, i, kSecretWords));
      if (score > 0) st.Add(kSecret, i, e, score);
    }
    i = e;
  }
}

// ---- PERSON / ADDRESS ----------------------------------------------------

bool IsStopWord(std::string_view w) {
  static constexpr std::string_view kStop[] = {
      "The",  "A",       "An",         "And",      "Or",  "But",  "I",    "In",   "On",
      "At",   "To",      "From",       "For",      "Of",  "With", "My",   "Your", "Our",
      "This", "That",    "Team",       "Inc",      "Ltd", "LLC",  "Corp", "Dear", "Hi",
      "Is",   "Support", "Management", "Customer", "Mr",  "Mrs",  "Ms",   "Dr",   "Prof"};
  return std::find(std::begin(kStop), std::end(kStop), w) != std::end(kStop);
}

// Length of the leading words of `name` that are not stop words.
size_t NameLength(std::string_view name) {
  size_t end = 0;
  for (size_t i = 0; i < name.size();) {
    size_t sp = name.find(' ', i);
    if (sp == std::string_view::npos) sp = name.size();
    if (IsStopWord(name.substr(i, sp - i))) break;
    end = sp;
    i = sp + 1;
  }
  return end;
}

void ScanPersons(const PiiPatterns& re, State& st) {
  const auto add = [&](size_t s, const re2::StringPiece* m, int group, double score) {
    const size_t ns = OffsetOf(st, m[group]);
    // The last word must end the name: in "Johnson5" it does not.
    if (IsAlnum(st.At(ns + m[group].size()))) return;
    const size_t len = NameLength(std::string_view(m[group].data(), m[group].size()));
    if (len == 0) return;
    st.Add(kPerson, ns, ns + len, score, s);
  };
  ForEachMatch(re.person_trigger, st, [&](size_t s, const re2::StringPiece* m) {
    // A field such as Upstream-Name: or user_name: names a thing, not a person.
    const char prev = st.Before(s, 1);
    if (prev == '-' || prev == '_' || prev == '.') return;
    // "my name is" says it outright; "name:" and sign-offs are weaker, and a
    // single word after "name:" is as often a thing (Name: Object).
    const std::string_view trigger(m[1].data(), m[1].size());
    const bool explicit_name = !trigger.empty() && (trigger[0] == 'm' || trigger[0] == 'M');
    const bool field = trigger.back() == ':';
    if (field && std::string_view(m[2].data(), m[2].size()).find(' ') == std::string_view::npos) {
      return;
    }
    add(s, m, 2, explicit_name ? 0.85 : 0.7);
  });
  ForEachMatch(re.person_title, st,
               [&](size_t s, const re2::StringPiece* m) { add(s, m, 1, 0.75); });
}

bool CopyrightYear(const State& st, size_t s) {
  const std::string_view num = st.text.substr(s, 4);
  if (num.size() < 4 || !(num.starts_with("19") || num.starts_with("20")) ||
      !std::all_of(num.begin(), num.end(), IsDigit) || IsDigit(st.At(s + 4))) {
    return false;
  }
  const size_t begin = s > PiiDetector::kContextBytes ? s - PiiDetector::kContextBytes : 0;
  return NearWord(st.text, s, {"copyright", "c"}) ||
         st.text.substr(begin, s - begin).find("\xC2\xA9") != std::string_view::npos;  // ©
}

void ScanAddresses(const PiiPatterns& re, State& st) {
  ForEachMatch(re.address, st, [&](size_t s, const re2::StringPiece* m) {
    const size_t e = s + m[0].size();
    // \b is ASCII-only: "Dr" in "Drąg" is not a street suffix.
    if (IsWordChar(st.At(e)) || static_cast<unsigned char>(st.At(e)) >= 0x80) return;
    // "Copyright 2016 Iain Lane": a year and a person, not a house number.
    if (CopyrightYear(st, s)) return;
    const bool with_city = m[1].size() > 0;
    st.Add(kAddress, s, e, with_city ? 0.85 : 0.7);
  });
}

// ---- resolution and cuts -------------------------------------------------

// Greedy by score, then length, then position: a kept finding is never
// overlapped by one ranked below it. Returns the kept findings sorted by start.
std::vector<Finding> Resolve(std::vector<Candidate>& cands) {
  std::vector<const Finding*> order;
  for (const Candidate& c : cands) {
    if (c.finding.end > c.finding.start) order.push_back(&c.finding);
  }
  std::sort(order.begin(), order.end(), [](const Finding* a, const Finding* b) {
    if (a->score != b->score) return a->score > b->score;
    if (a->end - a->start != b->end - b->start) return a->end - a->start > b->end - b->start;
    if (a->start != b->start) return a->start < b->start;
    return a->type < b->type;
  });
  std::map<size_t, const Finding*> kept;  // by start
  for (const Finding* f : order) {
    auto next = kept.lower_bound(f->start);
    if (next != kept.end() && next->first < f->end) continue;
    if (next != kept.begin() && std::prev(next)->second->end > f->start) continue;
    kept.emplace(f->start, f);
  }
  std::vector<Finding> out;
  out.reserve(kept.size());
  for (const auto& [start, f] : kept) out.push_back(*f);
  return out;
}

// The largest p <= limit such that no candidate's [ext_start, end) straddles p.
size_t SafeCut(std::vector<Candidate>& cands, size_t limit) {
  std::sort(cands.begin(), cands.end(),
            [](const Candidate& a, const Candidate& b) { return a.ext_start < b.ext_start; });
  std::vector<size_t> max_end(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) {
    max_end[i] = std::max(i ? max_end[i - 1] : 0, cands[i].finding.end);
  }
  size_t p = limit;
  for (;;) {
    // k = number of candidates starting before p.
    const auto it = std::lower_bound(cands.begin(), cands.end(), p,
                                     [](const Candidate& c, size_t v) { return c.ext_start < v; });
    const size_t k = static_cast<size_t>(it - cands.begin());
    if (k == 0 || max_end[k - 1] <= p) return p;
    p = cands[k - 1].ext_start;
  }
}

// Moves `pos` back to the start of the UTF-8 sequence it falls in.
size_t Utf8Floor(std::string_view text, size_t from, size_t pos) {
  for (int i = 0; i < 3 && pos > from && pos < text.size() &&
                  (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80;
       ++i) {
    --pos;
  }
  return pos;
}

std::vector<Candidate> Before(std::vector<Candidate>& cands, size_t cut) {
  std::vector<Candidate> out;
  for (Candidate& c : cands) {
    if (c.ext_start < cut) out.push_back(std::move(c));
  }
  return out;
}

RE2::Options PatternOptions(bool utf8) {
  RE2::Options o;
  o.set_encoding(utf8 ? RE2::Options::EncodingUTF8 : RE2::Options::EncodingLatin1);
  // Room for the DFA cache: with RE2's default (8 MiB) adversarial input (1 MiB
  // of overlapping key assignments) scans about 1.5x slower.
  o.set_max_mem(32 << 20);
  o.set_log_errors(false);
  return o;
}

// Letters of the Latin (with Latin-1 and Extended-A), Greek and Cyrillic
// alphabets. Explicit ranges rather than \p{Lu}/\p{Ll}: those expand to
// hundreds of UTF-8 ranges, and repeated {1,20} times they made a 200k
// instruction program whose DFA ran out of memory. Extended-A mixes cases and
// counts as both.
constexpr char kUpper[] =
    R"([A-Z\x{C0}-\x{D6}\x{D8}-\x{DE}\x{100}-\x{17F}\x{391}-\x{3A9}\x{401}\x{410}-\x{42F}])";
constexpr char kLower[] =
    R"([a-z\x{DF}-\x{F6}\x{F8}-\x{FF}\x{100}-\x{17F}\x{3B1}-\x{3C9}\x{430}-\x{44F}\x{451}])";

// A capitalized word of 2-21 letters, optionally hyphenated or with an inner
// capital (O'Brien, McDonald, Garcia-Lopez, José), or an initial ("Q.").
std::string NameWord() {
  const std::string u = kUpper, l = kLower;
  return "(?:" + u + "(?:'" + u + ")?" + l + "{1,20}(?:" + u + l + "{1,20})?(?:-" + u + l +
         "{1,20})?|" + u + R"(\.))";
}

// One to four name words; group 1.
std::string NamePattern() {
  const std::string word = NameWord();
  return "(" + word + "(?: " + word + "){0,3})";
}

// House number, capitalized street name, suffix (only an abbreviation takes a
// dot), optional unit; group 1 is an optional ", City, ST 12345".
std::string AddressPattern() {
  const std::string cap = std::string(kUpper) + kLower + "{1,20}";
  return R"(\b\d{1,6}[A-Za-z]? {1,2}(?:(?:)" + cap + R"(|\d{1,3}(?:st|nd|rd|th)) {1,2}){1,4})" +
         R"((?:(?:Street|Avenue|Road|Boulevard|Lane|Drive|Court|Way|Place|Terrace|Parkway|)"
         R"(Circle|Highway|Square|Trail)\b|)"
         R"((?:St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Ter|Pkwy|Cir|Hwy|Sq|Trl)\b\.?))"
         R"((?:,? {1,2}(?:Apt|Suite|Ste|Unit|#)\.? {0,2}[A-Za-z0-9-]{1,6})?)" +
         R"((,\s{1,2})" + cap + "(?: " + cap + R"(){0,2},\s{1,2}[A-Z]{2})" +
         R"((?: {1,2}\d{5}(?:-\d{4})?)?)?)";
}

}  // namespace

PiiPatterns::PiiPatterns()
    : email(R"([A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253})", PatternOptions(false)),
      phone(R"((?:\+\d{1,15}|\(\d{1,5}\)|\b\d{1,15})(?:[ .-]?(?:\(\d{1,5}\)|\d{1,15})){0,6})"
            R"((?: {0,2}(?:[Ee][Xx][Tt]\.?|[Xx]|#) {0,2}\d{1,6})?)",
            PatternOptions(false)),
      card(R"(\b\d(?:[ -]?\d){12,18}\b)", PatternOptions(false)),
      iban(R"(\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b)", PatternOptions(false)),
      ssn(R"(\b(\d{3})([ -])(\d{2})([ -])(\d{4})\b)", PatternOptions(false)),
      ssn_bare(R"(\b\d{9}\b)", PatternOptions(false)),
      ipv4(R"(\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b)", PatternOptions(false)),
      ipv6(R"([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3})",
           PatternOptions(false)),
      api_key(R"(\b(?:(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|)"
              R"(github_pat_[A-Za-z0-9_]{60,100}|xox[abprs]-[A-Za-z0-9-]{10,100}|)"
              R"([rs]k_live_[A-Za-z0-9]{16,99}|sk-ant-[A-Za-z0-9_-]{20,200}|)"
              R"(sk-(?:proj-)?[A-Za-z0-9_-]{20,200}|AIza[0-9A-Za-z_-]{35}))",
              PatternOptions(false)),
      api_assign(R"((?i)\b(?:[a-z0-9]{1,20}[_-]){0,4}()"
                 R"(api[_-]?key|apikey|access[_-]?key|access[_-]?token|auth[_-]?token|)"
                 R"(secret[_-]?key|client[_-]?secret|secret|token|password|passwd|pwd))"
                 R"(["']? {0,3}[:=] {0,3}(["']?))"
                 R"(([A-Za-z0-9!#$%&()*+./:<=>?@\[\]^_{|}~\\-]{6,128}))",
                 PatternOptions(false)),
      person_trigger(R"(\b((?i:my\s{1,3}name\s{1,3}is|my\s{1,3}name's|name\s{0,2}:|)"
                     R"(signed\s{0,2},?|sincerely\s{0,2},|regards\s{0,2},))\s{1,3})" +
                         NamePattern(),
                     PatternOptions(true)),
      person_title(R"(\b(?:Mrs|Mr|Ms|Dr|Prof)\.?\s{1,3})" + NamePattern(), PatternOptions(true)),
      address(AddressPattern(), PatternOptions(true)) {
  for (const RE2* re : {&email, &phone, &card, &iban, &ssn, &ssn_bare, &ipv4, &ipv6, &api_key,
                        &api_assign, &person_trigger, &person_title, &address}) {
    if (!re->ok()) {
      // The patterns are constants: a failure is a bug caught by any test run.
      std::fprintf(stderr, "gantry: PII pattern does not compile: %s: %s\n", re->pattern().c_str(),
                   re->error().c_str());
      std::abort();
    }
  }
}

bool IsPiiType(std::string_view type) {
  return std::find(kPiiTypes.begin(), kPiiTypes.end(), type) != kPiiTypes.end();
}

PiiDetector::PiiDetector() : re_(std::make_unique<PiiPatterns>()) {}
PiiDetector::~PiiDetector() = default;

std::vector<Finding> PiiDetector::Scan(std::string_view text) const {
  return ScanPrefix(text, 0, /*at_end=*/true).findings;
}

PiiDetector::PartialScan PiiDetector::ScanPrefix(std::string_view window, size_t from,
                                                 bool at_end) const {
  State st{window, std::min(from, window.size()), at_end};
  const PiiPatterns& re = *re_;
  ScanPrivateKeys(st);
  ScanJwts(st);
  ScanApiKeys(re, st);
  ScanIbans(re, st);
  ScanCards(re, st);
  ScanSsns(re, st);
  ScanEmails(re, st);
  ScanIps(re, st);
  ScanPhones(re, st);
  ScanSecrets(st);
  ScanPersons(re, st);
  ScanAddresses(re, st);

  const size_t size = window.size();
  size_t limit = size;
  if (!at_end) {
    limit = size >= st.from + kHoldBytes ? size - kHoldBytes : st.from;
    limit = Utf8Floor(window, st.from, std::max(st.from, std::min(limit, st.hold)));
  }
  size_t cut = SafeCut(st.out, limit);
  if (!at_end && cut == st.from && size - st.from > kMaxHoldBytes) {
    // Forced: emit up to `limit`, or past it to the end of a finding that
    // straddles it, so no detected entity is split.
    std::vector<Candidate> before = Before(st.out, limit);
    PartialScan r{Resolve(before), limit};
    for (const Finding& f : r.findings) r.safe_end = std::max(r.safe_end, f.end);
    return r;
  }
  std::vector<Candidate> before = Before(st.out, cut);
  return {Resolve(before), cut};
}

}  // namespace gantry::guard
