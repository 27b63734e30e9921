// Validators behind PiiDetector: checksums, number-plan rules and token
// statistics that turn a regex candidate into a finding. Pure functions over
// ASCII input; anything else simply fails validation.
//
// Thread safety: stateless; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gantry::guard {

// Luhn (mod 10) over a string of ASCII digits. False for empty or non-digit input.
bool LuhnValid(std::string_view digits);

// Whether `digits` (13-19 ASCII digits) starts with a known issuer range and has
// a length that issuer uses: Visa 4 (13, 16, 19), Mastercard 51-55 and 2221-2720
// (16), Amex 34/37 (15), Discover 6011/65 (16-19), JCB 3528-3589 (16-19), Diners
// 36/38/300-305 (14-19).
bool CardIssuerKnown(std::string_view digits);

// IBAN length for an ISO country code, or 0 when the country is not in the table
// (SEPA countries plus GB, CH, NO, SA, AE, TR, BR and a few others).
size_t IbanLength(std::string_view country);

// `compact` is an IBAN without spaces: known country, that country's length,
// alphanumeric BBAN, and mod-97 of the rearranged number == 1.
bool IbanValid(std::string_view compact);

// US SSN rules on the three parts of AAA-GG-SSSS (ASCII digits): area not 000,
// 666 or 900-999; group not 00; serial not 0000.
bool SsnValid(std::string_view area, std::string_view group, std::string_view serial);

// Shannon entropy of the byte distribution of `s`, in bits per byte.
double ShannonEntropy(std::string_view s);

// Base64url (RFC 4648 section 5) without padding, as used by JWTs. nullopt on a
// character outside the alphabet or an impossible length.
std::optional<std::string> Base64UrlDecode(std::string_view s);

// Whether a JWT's first segment decodes to a JSON object with an "alg" member.
bool JwtHeaderValid(std::string_view segment);

// Dotted-quad IPv4 with octets 0-255 and no leading zeros (inet_pton rules).
bool Ipv4Valid(std::string_view s);
// IPv6 as inet_pton accepts it: full, "::"-compressed, IPv4-mapped/embedded.
bool Ipv6Valid(std::string_view s);

}  // namespace gantry::guard
