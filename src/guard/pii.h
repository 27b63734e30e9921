// PII detection: finds personal data and secrets in UTF-8 text.
//
// Candidates come from RE2 patterns (linear time, no backtracking) and small
// scanners, then are validated in code (Luhn, mod-97, SSN rules, inet_pton, JWT
// header, entropy). Overlapping findings are resolved by keeping the higher
// score, then the longer span.
//
// Every rule looks at a bounded neighbourhood of a finding: at most
// kContextBytes before it (context words such as "phone" or "ssn") and
// kLookaheadBytes after it; a finding spans at most kMaxEntityBytes, except a
// JWT (kMaxJwtBytes) and a private-key block (kMaxPrivateKeyBytes). That
// locality is what lets StreamRedactor give the same result on a stream as on
// the whole text.
//
// Thread safety: a PiiDetector is immutable after construction; Scan may be
// called concurrently from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::guard {

struct PiiPatterns;  // the compiled RE2 patterns (pii.cc)

// Entity type names. Stable: policies, logs and scripts refer to them.
inline constexpr std::string_view kEmail = "EMAIL";
inline constexpr std::string_view kPhone = "PHONE";
inline constexpr std::string_view kCreditCard = "CREDIT_CARD";
inline constexpr std::string_view kIban = "IBAN";
inline constexpr std::string_view kUsSsn = "US_SSN";
inline constexpr std::string_view kIpAddress = "IP_ADDRESS";
inline constexpr std::string_view kApiKey = "API_KEY";
inline constexpr std::string_view kJwt = "JWT";
inline constexpr std::string_view kPrivateKey = "PRIVATE_KEY";
inline constexpr std::string_view kSecret = "SECRET";
inline constexpr std::string_view kPerson = "PERSON";
inline constexpr std::string_view kAddress = "ADDRESS";
inline constexpr std::array<std::string_view, 12> kPiiTypes = {
    kEmail,  kPhone, kCreditCard, kIban,   kUsSsn,  kIpAddress,
    kApiKey, kJwt,   kPrivateKey, kSecret, kPerson, kAddress};

bool IsPiiType(std::string_view type);

struct Finding {
  std::string type;  // one of kPiiTypes
  size_t start = 0;  // byte offsets into the scanned UTF-8 text: [start, end)
  size_t end = 0;
  double score = 0;   // confidence in [0, 1]; validated structures >= 0.9
  std::string value;  // the matched text, text.substr(start, end - start)

  friend bool operator==(const Finding&, const Finding&) = default;
};

class PiiDetector final {
 public:
  // Longest span of any entity but JWT and PRIVATE_KEY.
  static constexpr size_t kMaxEntityBytes = 320;
  // Bytes after a candidate that its validation may look at.
  static constexpr size_t kLookaheadBytes = 8;
  // Bytes before a candidate searched for context words.
  static constexpr size_t kContextBytes = 64;
  // A JWT longer than this is not reported as a JWT.
  static constexpr size_t kMaxJwtBytes = 4096;
  // A BEGIN line with no matching END within this many bytes marks a truncated
  // block: the header and the base64 lines after it are reported.
  static constexpr size_t kMaxPrivateKeyBytes = 16384;
  // A stream window never holds back more than this (see ScanPrefix).
  static constexpr size_t kMaxHoldBytes = 65536;

  PiiDetector();
  ~PiiDetector();
  PiiDetector(const PiiDetector&) = delete;
  PiiDetector& operator=(const PiiDetector&) = delete;

  // All findings in `text`, sorted by start, non-overlapping. Any bytes are
  // accepted (malformed UTF-8 included); time is linear in text.size() (RE2,
  // and every pattern has a bounded length).
  std::vector<Finding> Scan(std::string_view text) const;

  struct PartialScan {
    std::vector<Finding> findings;  // offsets into the window, all in [from, safe_end)
    size_t safe_end = 0;            // window[from, safe_end) is final
  };
  // Streaming support for StreamRedactor. `window` is already-handled context
  // (window[0, from), at least kContextBytes of it when available) followed by
  // pending text that more text may follow unless `at_end`. Returns the
  // findings of window[from, safe_end), where safe_end is the largest point
  // (on a UTF-8 boundary) such that no later text can change anything before
  // it; at_end gives safe_end == window.size(). Findings equal those Scan()
  // reports in that range of the whole text, provided earlier calls ended at
  // `from`. Only when more than kMaxHoldBytes would be held back (a chain of
  // overlapping candidates, not expected in real text) is the cut forced, right
  // after the findings determined so far.
  PartialScan ScanPrefix(std::string_view window, size_t from, bool at_end) const;

 private:
  std::unique_ptr<const PiiPatterns> re_;
};

}  // namespace gantry::guard
