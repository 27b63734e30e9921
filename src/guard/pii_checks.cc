#include "guard/pii_checks.h"

#include <arpa/inet.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace gantry::guard {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Value of the first `n` digits of `s`. REQUIRES: s holds at least n digits.
int Prefix(std::string_view s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

struct IbanCountry {
  std::string_view code;
  size_t length;
};

// From the SWIFT IBAN registry: every SEPA country plus common non-SEPA ones.
constexpr std::array<IbanCountry, 51> kIbanCountries = {{
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22},
    {"BR", 29}, {"CH", 21}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"EE", 20}, {"ES", 24},
    {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"HR", 21},
    {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"LI", 21},
    {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MT", 31}, {"NL", 18}, {"NO", 15}, {"PL", 28},
    {"PT", 25}, {"QA", 29}, {"RO", 24}, {"SA", 24}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
    {"TR", 26}, {"VA", 22}, {"XK", 20},
}};

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

bool LuhnValid(std::string_view digits) {
  if (!AllDigits(digits)) return false;
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

bool CardIssuerKnown(std::string_view d) {
  if (!AllDigits(d) || d.size() < 13 || d.size() > 19) return false;
  const size_t n = d.size();
  const int p1 = Prefix(d, 1), p2 = Prefix(d, 2), p3 = Prefix(d, 3), p4 = Prefix(d, 4);
  if (p1 == 4) return n == 13 || n == 16 || n == 19;                         // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n == 16;  // Mastercard
  if (p2 == 34 || p2 == 37) return n == 15;                                  // Amex
  if (p4 == 6011 || p2 == 65) return n >= 16;                                // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16;                              // JCB
  if (p2 == 36 || p2 == 38 || (p3 >= 300 && p3 <= 305)) return n >= 14;      // Diners
  return false;
}

size_t IbanLength(std::string_view country) {
  for (const auto& c : kIbanCountries) {
    if (c.code == country) return c.length;
  }
  return 0;
}

bool IbanValid(std::string_view s) {
  if (s.size() < 5 || IbanLength(s.substr(0, 2)) != s.size()) return false;
  if (!AllDigits(s.substr(2, 2))) return false;
  // Mod-97 of the number formed by moving the first four characters to the end
  // and replacing letters by 10..35, computed digit by digit to stay in range.
  uint32_t rem = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    const char c = s[(k + 4) % s.size()];
    if (c >= '0' && c <= '9') {
      rem = (rem * 10 + static_cast<uint32_t>(c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      rem = (rem * 100 + static_cast<uint32_t>(c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return rem == 1;
}

bool SsnValid(std::string_view area, std::string_view group, std::string_view serial) {
  if (area.size() != 3 || group.size() != 2 || serial.size() != 4) return false;
  if (!AllDigits(area) || !AllDigits(group) || !AllDigits(serial)) return false;
  const int a = Prefix(area, 3);
  return a != 0 && a != 666 && a < 900 && Prefix(group, 2) != 0 && Prefix(serial, 4) != 0;
}

double ShannonEntropy(std::string_view s) {
  if (s.empty()) return 0;
  std::array<size_t, 256> counts{};
  for (char c : s) ++counts[static_cast<unsigned char>(c)];
  double bits = 0;
  const double n = static_cast<double>(s.size());
  for (size_t count : counts) {
    if (count == 0) continue;
    const double p = static_cast<double>(count) / n;
    bits -= p * std::log2(p);
  }
  return bits;
}

std::optional<std::string> Base64UrlDecode(std::string_view s) {
  if (s.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(s.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const int v = Base64UrlValue(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

bool JwtHeaderValid(std::string_view segment) {
  const auto decoded = Base64UrlDecode(segment);
  if (!decoded) return false;
  const auto header = nlohmann::json::parse(*decoded, nullptr, /*allow_exceptions=*/false);
  return header.is_object() && header.contains("alg");
}

bool Ipv4Valid(std::string_view s) {
  if (s.size() > 15) return false;
  const std::string z(s);
  in_addr addr;
  return inet_pton(AF_INET, z.c_str(), &addr) == 1;
}

bool Ipv6Valid(std::string_view s) {
  if (s.size() > 45) return false;
  const std::string z(s);
  in6_addr addr;
  return inet_pton(AF_INET6, z.c_str(), &addr) == 1;
}

}  // namespace gantry::guard
