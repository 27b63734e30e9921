#include "guard/pii_checks.h"

#include <gtest/gtest.h>

namespace gantry::guard {
namespace {

TEST(PiiChecksTest, Luhn) {
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_TRUE(LuhnValid("378282246310005"));
  EXPECT_FALSE(LuhnValid("4111111111111112"));
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_FALSE(LuhnValid("4111-1111"));
}

TEST(PiiChecksTest, CardIssuers) {
  EXPECT_TRUE(CardIssuerKnown("4111111111111111"));      // Visa 16
  EXPECT_TRUE(CardIssuerKnown("4222222222222"));         // Visa 13
  EXPECT_TRUE(CardIssuerKnown("5555555555554444"));      // Mastercard 55
  EXPECT_TRUE(CardIssuerKnown("2223003122003222"));      // Mastercard 2-series
  EXPECT_TRUE(CardIssuerKnown("378282246310005"));       // Amex
  EXPECT_TRUE(CardIssuerKnown("6011111111111117"));      // Discover
  EXPECT_TRUE(CardIssuerKnown("3530111333300000"));      // JCB
  EXPECT_TRUE(CardIssuerKnown("30569309025904"));        // Diners
  EXPECT_FALSE(CardIssuerKnown("1234567812345670"));     // no issuer starts with 1
  EXPECT_FALSE(CardIssuerKnown("37828224631000"));       // Amex is 15 digits
  EXPECT_FALSE(CardIssuerKnown("5555555555554444000"));  // Mastercard is 16
  EXPECT_FALSE(CardIssuerKnown("2721003122003222"));     // past the 2-series range
}

TEST(PiiChecksTest, Iban) {
  for (const char* valid :
       {"DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606",
        "NO9386011117947", "CH9300762011623852957", "SA0380000000608010167519",
        "AE070331234567890123456", "TR330006100519786457841326", "BR9700360305000010009795493P1",
        "NL91ABNA0417164300", "ES9121000418450200051332", "MT84MALT011000012345MTLCAST001S"}) {
    EXPECT_TRUE(IbanValid(valid)) << valid;
  }
  EXPECT_FALSE(IbanValid("DE88370400440532013000"));    // wrong check digits
  EXPECT_FALSE(IbanValid("DE8937040044053201300"));     // one short for DE
  EXPECT_FALSE(IbanValid("ZZ89370400440532013000"));    // unknown country
  EXPECT_FALSE(IbanValid("DE89 3704 0044 0532 0130"));  // spaces are removed by the caller
  EXPECT_EQ(IbanLength("DE"), 22u);
  EXPECT_EQ(IbanLength("XX"), 0u);
}

TEST(PiiChecksTest, Ssn) {
  EXPECT_TRUE(SsnValid("123", "45", "6789"));
  EXPECT_TRUE(SsnValid("899", "01", "0001"));
  EXPECT_FALSE(SsnValid("000", "12", "3456"));
  EXPECT_FALSE(SsnValid("666", "12", "3456"));
  EXPECT_FALSE(SsnValid("900", "12", "3456"));
  EXPECT_FALSE(SsnValid("999", "12", "3456"));
  EXPECT_FALSE(SsnValid("123", "00", "3456"));
  EXPECT_FALSE(SsnValid("123", "45", "0000"));
  EXPECT_FALSE(SsnValid("12a", "45", "6789"));
}

TEST(PiiChecksTest, Entropy) {
  EXPECT_DOUBLE_EQ(ShannonEntropy(""), 0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("aaaa"), 0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abcd"), 2);
  EXPECT_DOUBLE_EQ(ShannonEntropy("aabb"), 1);
}

TEST(PiiChecksTest, Base64UrlAndJwtHeader) {
  EXPECT_EQ(Base64UrlDecode("eyJhbGciOiJIUzI1NiJ9").value_or(""), "{\"alg\":\"HS256\"}");
  EXPECT_EQ(Base64UrlDecode("").value_or("x"), "");
  EXPECT_FALSE(Base64UrlDecode("ab+c").has_value());   // '+' is not base64url
  EXPECT_FALSE(Base64UrlDecode("abcde").has_value());  // impossible length
  EXPECT_TRUE(JwtHeaderValid("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"));
  EXPECT_FALSE(JwtHeaderValid("eyJ0eXAiOiJKV1QifQ"));  // {"typ":"JWT"}: no alg
  EXPECT_FALSE(JwtHeaderValid("eyJhbGciOiJIUzI1Ni"));  // truncated JSON
}

TEST(PiiChecksTest, IpAddresses) {
  EXPECT_TRUE(Ipv4Valid("192.168.1.1"));
  EXPECT_TRUE(Ipv4Valid("0.0.0.0"));
  EXPECT_FALSE(Ipv4Valid("256.1.1.1"));
  EXPECT_FALSE(Ipv4Valid("1.2.3"));
  EXPECT_TRUE(Ipv6Valid("2001:db8::1"));
  EXPECT_TRUE(Ipv6Valid("::1"));
  EXPECT_TRUE(Ipv6Valid("::ffff:192.168.1.1"));
  EXPECT_TRUE(Ipv6Valid("2001:0db8:85a3:0000:0000:8a2e:0370:7334"));
  EXPECT_FALSE(Ipv6Valid("2001:db8:::1"));
  EXPECT_FALSE(Ipv6Valid("12:30:45"));
}

}  // namespace
}  // namespace gantry::guard
