#include "guard/pii.h"

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gantry::guard {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const PiiDetector& Detector() {
  static const PiiDetector detector;
  return detector;
}

// "TYPE:value" for every finding, in order.
std::vector<std::string> Summary(std::string_view text) {
  std::vector<std::string> out;
  for (const Finding& f : Detector().Scan(text)) out.push_back(f.type + ":" + f.value);
  return out;
}

// Findings of one type.
std::vector<Finding> OfType(std::string_view text, std::string_view type) {
  std::vector<Finding> out;
  for (const Finding& f : Detector().Scan(text)) {
    if (f.type == type) out.push_back(f);
  }
  return out;
}

// Expects exactly one finding of `type` in `text`, covering `value` (its first
// occurrence) with exact offsets, and returns its score.
double ExpectOne(std::string_view text, std::string_view type, std::string_view value) {
  const std::vector<Finding> fs = OfType(text, type);
  EXPECT_EQ(fs.size(), 1u) << type << " in: " << text;
  if (fs.size() != 1) return 0;
  const size_t start = text.find(value);
  EXPECT_EQ(fs[0].start, start) << text;
  EXPECT_EQ(fs[0].end, start + value.size()) << text;
  EXPECT_EQ(fs[0].value, value);
  EXPECT_EQ(text.substr(fs[0].start, fs[0].end - fs[0].start), fs[0].value);
  EXPECT_GE(fs[0].score, 0.0);
  EXPECT_LE(fs[0].score, 1.0);
  return fs[0].score;
}

void ExpectNone(std::string_view text, std::string_view type) {
  EXPECT_THAT(OfType(text, type), IsEmpty()) << type << " in: " << text;
}

TEST(PiiDetectorTest, ExactOffsetsInMixedText) {
  const std::string text =
      "Mail alice@example.com or call +1 (415) 555-2671. Card 4111 1111 1111 1111.";
  const std::vector<Finding> fs = Detector().Scan(text);
  ASSERT_EQ(fs.size(), 3u);
  EXPECT_EQ(fs[0], (Finding{"EMAIL", 5, 22, 0.9, "alice@example.com"}));
  EXPECT_EQ(fs[1].type, "PHONE");
  EXPECT_EQ(fs[1].start, 31u);
  EXPECT_EQ(fs[1].end, 48u);
  EXPECT_EQ(fs[1].value, "+1 (415) 555-2671");
  EXPECT_EQ(fs[2], (Finding{"CREDIT_CARD", 55, 74, 0.95, "4111 1111 1111 1111"}));
}

TEST(PiiDetectorTest, Email) {
  EXPECT_GE(ExpectOne("Contact alice@example.com today", "EMAIL", "alice@example.com"), 0.9);
  ExpectOne("mail: John.Smith+tag@mail.example.co.uk.", "EMAIL",
            "John.Smith+tag@mail.example.co.uk");
  ExpectOne("(carol-99@sub.domain.io)", "EMAIL", "carol-99@sub.domain.io");
  ExpectOne("key=dave_x@corp.example", "EMAIL", "dave_x@corp.example");
  for (const char* bad : {"user@localhost", "a@b.c", "x@1.23", "@example.com", "alice@@example.com",
                          "alice..bob@example.com", "foo@-bar.com", "name@domain.c0m"}) {
    ExpectNone(bad, kEmail);
  }
}

TEST(PiiDetectorTest, Phone) {
  EXPECT_GE(ExpectOne("Call +1 (415) 555-2671 now", "PHONE", "+1 (415) 555-2671"), 0.85);
  ExpectOne("UK office +44 20 7946 0958.", "PHONE", "+44 20 7946 0958");
  ExpectOne("Paris: +33 1 23 45 67 89", "PHONE", "+33 1 23 45 67 89");
  ExpectOne("E.164 +14155552671", "PHONE", "+14155552671");
  ExpectOne("desk (415) 555-2671", "PHONE", "(415) 555-2671");
  ExpectOne("desk 415.555.2671", "PHONE", "415.555.2671");
  ExpectOne("desk 415-555-2671 ext. 42, thanks", "PHONE", "415-555-2671 ext. 42");
  // Two-group and unformatted numbers need a context word; it raises the score.
  ExpectOne("phone: 555-1234", "PHONE", "555-1234");
  ExpectOne("mobile 4155552671", "PHONE", "4155552671");
  const double plain = ExpectOne("reach 415-555-2671", "PHONE", "415-555-2671");
  const double context = ExpectOne("tel 415-555-2671", "PHONE", "415-555-2671");
  EXPECT_GT(context, plain);
  ExpectNone("code 555-1234", kPhone);
}

TEST(PiiDetectorTest, PhoneHardNegatives) {
  for (const char* bad : {"due 2024-01-31",
                          "on 31.01.2024",
                          "version 1.2.3.4.5",
                          "v2.10.3",
                          "Order 12345678901",
                          "ORD-2024-000123",
                          "4111 1111 1111 1111",
                          "192.168.100.200",
                          "DE89 3704 0044 0532 0130 00",
                          "123-45-6789",
                          "it costs 1 234 567 euros",
                          "123e4567-e89b-12d3-a456-426614174000",
                          "release 10.20.30.40.50",
                          "call me at 12:30",
                          "IEEE 1003.1-2001",
                          "DFARS 252.227-7013",
                          "part 800-29-29",
                          "(c) 2017-2022",
                          "years 2019 2020 2021",
                          "at 2174-01-01 00:00"}) {
    ExpectNone(bad, kPhone);
  }
}

TEST(PiiDetectorTest, CreditCard) {
  EXPECT_GE(ExpectOne("card 4111 1111 1111 1111 exp 12/29", "CREDIT_CARD", "4111 1111 1111 1111"),
            0.9);
  ExpectOne("4111-1111-1111-1111", "CREDIT_CARD", "4111-1111-1111-1111");
  ExpectOne("n=4111111111111111;", "CREDIT_CARD", "4111111111111111");
  ExpectOne("amex 3782 822463 10005", "CREDIT_CARD", "3782 822463 10005");
  ExpectOne("mc 5555555555554444", "CREDIT_CARD", "5555555555554444");
  ExpectOne("mc2 2223 0031 2200 3222", "CREDIT_CARD", "2223 0031 2200 3222");
  ExpectOne("disc 6011 1111 1111 1117", "CREDIT_CARD", "6011 1111 1111 1117");
  ExpectOne("jcb 3530111333300000", "CREDIT_CARD", "3530111333300000");
  ExpectOne("diners 3056 930902 5904", "CREDIT_CARD", "3056 930902 5904");
  ExpectOne("visa13 4222222222222", "CREDIT_CARD", "4222222222222");
  // A number right after the card does not hide it.
  ExpectOne("4111111111111111 2024", "CREDIT_CARD", "4111111111111111");
  for (const char* bad : {"4111 1111 1111 1112", "1234 5678 9012 3456", "order 100234567891234",
                          "4111 1111 1111", "3782 8224 6310 0050"}) {
    ExpectNone(bad, kCreditCard);
  }
}

TEST(PiiDetectorTest, Iban) {
  EXPECT_GE(
      ExpectOne("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN", "DE89 3704 0044 0532 0130 00"),
      0.9);
  ExpectOne("GB82WEST12345698765432", "IBAN", "GB82WEST12345698765432");
  ExpectOne("NO93 8601 1117 947 is Norwegian", "IBAN", "NO93 8601 1117 947");
  ExpectOne("Pay to FR14 2004 1010 0505 0001 3M02 606.", "IBAN",
            "FR14 2004 1010 0505 0001 3M02 606");
  ExpectOne("BR9700360305000010009795493P1", "IBAN", "BR9700360305000010009795493P1");
  ExpectOne("DE89370400440532013000 ABCD", "IBAN", "DE89370400440532013000");
  for (const char* bad : {"DE88 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130",
                          "ZZ89 3704 0044 0532 0130 00", "de89370400440532013000"}) {
    EXPECT_THAT(Summary(bad), IsEmpty()) << bad;
  }
}

TEST(PiiDetectorTest, UsSsn) {
  EXPECT_GE(ExpectOne("SSN: 123-45-6789", "US_SSN", "123-45-6789"), 0.9);
  ExpectOne("id 078-05-1120.", "US_SSN", "078-05-1120");
  ExpectOne("social security 123 45 6789", "US_SSN", "123 45 6789");
  ExpectOne("my social security number is 123456789", "US_SSN", "123456789");
  ExpectNone("zip+ 123456789", kUsSsn);     // 9 bare digits need a context word
  ExpectNone("ssn 123-45 6789", kUsSsn);    // mixed separators
  ExpectNone("ssn 123-45-6789-0", kUsSsn);  // part of a longer number
  for (const char* bad :
       {"000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000"}) {
    EXPECT_THAT(Summary(std::string("SSN ") + bad), IsEmpty()) << bad;
  }
}

TEST(PiiDetectorTest, IpAddress) {
  ExpectOne("server 192.168.1.1 is down", "IP_ADDRESS", "192.168.1.1");
  ExpectOne("http://10.0.0.1:8080/x", "IP_ADDRESS", "10.0.0.1");
  ExpectOne("host 8.8.8.8.", "IP_ADDRESS", "8.8.8.8");
  ExpectOne("v6 2001:db8::1 up", "IP_ADDRESS", "2001:db8::1");
  ExpectOne("link fe80::1ff:fe23:4567:890a%eth0", "IP_ADDRESS", "fe80::1ff:fe23:4567:890a");
  ExpectOne("mapped ::ffff:192.168.1.1", "IP_ADDRESS", "::ffff:192.168.1.1");
  ExpectOne("loopback ::1", "IP_ADDRESS", "::1");
  ExpectOne("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]", "IP_ADDRESS",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334");
  ExpectOne("addr 2001:db8::7: gone", "IP_ADDRESS", "2001:db8::7");
  for (const char* bad :
       {"version 1.2.3", "1.2.3.4.5", "256.1.1.1", "999.999.999.999", "at 12:30:45",
        "std::vector<int>", "a::b", "mac 00:1A:2B:3C:4D:5E", "01.02.03.04"}) {
    ExpectNone(bad, kIpAddress);
  }
}

TEST(PiiDetectorTest, ApiKeys) {
  EXPECT_GE(ExpectOne("aws AKIAIOSFODNN7EXAMPLE", "API_KEY", "AKIAIOSFODNN7EXAMPLE"), 0.9);
  ExpectOne("ASIAY34FZKBOKMUTVV7A,", "API_KEY", "ASIAY34FZKBOKMUTVV7A");
  ExpectOne("gh ghp_1234567890abcdefghijABCDEFGHIJ123456", "API_KEY",
            "ghp_1234567890abcdefghijABCDEFGHIJ123456");
  const std::string pat =
      "github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijKLMNO";
  ExpectOne("pat " + pat, "API_KEY", pat);
  ExpectOne("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "API_KEY",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx");
  ExpectOne("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "API_KEY",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
  ExpectOne("rk_live_4eC39HqLyjWDarjtT1zdp7dc", "API_KEY", "rk_live_4eC39HqLyjWDarjtT1zdp7dc");
  ExpectOne("openai sk-proj-abc123DEF456ghi789JKL012mno345", "API_KEY",
            "sk-proj-abc123DEF456ghi789JKL012mno345");
  ExpectOne("old sk-abc123DEF456ghi789JKL012mno345pqr", "API_KEY",
            "sk-abc123DEF456ghi789JKL012mno345pqr");
  ExpectOne("claude sk-ant-api03-AbCdEf123456GhIjKl789012MnOpQr", "API_KEY",
            "sk-ant-api03-AbCdEf123456GhIjKl789012MnOpQr");
  ExpectOne("google AIzaSyA-1234567890abcdefghijklmnopqrstu", "API_KEY",
            "AIzaSyA-1234567890abcdefghijklmnopqrstu");
  // Assignments: the value is the finding.
  EXPECT_GE(ExpectOne("password=hunter2!", "API_KEY", "hunter2!"), 0.7);
  ExpectOne(R"({"api_key": "abcd1234efgh5678"})", "API_KEY", "abcd1234efgh5678");
  ExpectOne("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "API_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  ExpectOne("Token: Xy7_plq92-ZZ.", "API_KEY", "Xy7_plq92-ZZ");
  for (const char* bad : {"the token: abc", "password: ********", "api_key=${API_KEY}",
                          "token = xxxxxxxx", "AKIA1234", "sk-learn-is-a-python-library-name",
                          "ghp_short", "password: please", "AKIAIOSFODNN7EXAMPLEX"}) {
    ExpectNone(bad, kApiKey);
  }
}

constexpr const char* kJwtExample =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaW"
    "F0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

TEST(PiiDetectorTest, Jwt) {
  EXPECT_GE(
      ExpectOne(std::string("Authorization: Bearer ") + kJwtExample + ".", "JWT", kJwtExample),
      0.9);
  // alg "none": the signature is empty and the token ends with its dot.
  ExpectOne("t=eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. ok", "JWT",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.");
  EXPECT_THAT(Summary(std::string("x ") + kJwtExample),
              ElementsAre(std::string("JWT:") + kJwtExample));
  for (const char* bad : {"eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2ln",  // header without alg
                          "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0",      // two segments
                          "eyJhbGciOiJub25lIn0.a.b.c", "eyJfoo"}) {
    ExpectNone(bad, kJwt);
  }
}

TEST(PiiDetectorTest, PrivateKey) {
  for (const char* label : {"RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY",
                            "ENCRYPTED PRIVATE KEY", "PRIVATE KEY"}) {
    const std::string block = std::string("-----BEGIN ") + label +
                              "-----\nMIIEowIBAAKCAQEAxyz+/abc=\nQWxhZGRpbjpvcGVuIHNlc2FtZQ==\n"
                              "-----END " +
                              label + "-----";
    EXPECT_GE(ExpectOne("key:\n" + block + "\nthanks", "PRIVATE_KEY", block), 0.95) << label;
  }
  // Legacy encrypted PEM headers inside the block.
  const std::string legacy =
      "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,AB12\n\n"
      "bWFueSBzZWNyZXRz\n-----END RSA PRIVATE KEY-----";
  ExpectOne(legacy, "PRIVATE_KEY", legacy);
  // Truncated: the header and the base64 lines, not the prose after them.
  ExpectOne("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\nBgkqhkiG9w0B\nand then prose",
            "PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\nBgkqhkiG9w0B");
  ExpectNone("-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----", kPrivateKey);
  ExpectNone("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", kPrivateKey);
  // A mismatched END does not close the block.
  ExpectOne("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----", "PRIVATE_KEY",
            "-----BEGIN EC PRIVATE KEY-----\nAAAA");
}

TEST(PiiDetectorTest, Secret) {
  ExpectOne("here: U8JZpDE0iGXlD6gNCFba done", "SECRET", "U8JZpDE0iGXlD6gNCFba");
  ExpectOne("x dl7dXTPyLsxPFkThf4VucSmEHgaKwVJ7faC9qEwj", "SECRET",
            "dl7dXTPyLsxPFkThf4VucSmEHgaKwVJ7faC9qEwj");
  ExpectOne("blob aGVsbG8gd29ybGQhIHRoaXMgaXM+c2VjcmV0Pz8/", "SECRET",
            "aGVsbG8gd29ybGQhIHRoaXMgaXM+c2VjcmV0Pz8/");
  // A hex digest counts only next to a context word; the word raises the score.
  const double with_word = ExpectOne("secret 3f786850e387550fdab836ed7e6dc881de23001b", "SECRET",
                                     "3f786850e387550fdab836ed7e6dc881de23001b");
  EXPECT_GT(with_word, 0.6);  // 0.6: the score without a context word
  for (const char* bad : {"commit 3f786850e387550fdab836ed7e6dc881de23001b",
                          "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                          "id 123e4567-e89b-12d3-a456-426614174000",
                          "internationalization_and_localization",
                          "ThisIsAVeryLongCamelCaseIdentifierName",
                          "/usr/lib/x86_64-linux-gnu/libssl",
                          "x86_64-linux-gnu-gcc-12-build-tools",
                          "my-blog-post-2024-01-31-title-here",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
                          "short9Tok",
                          "Utf16TextWithBomIsDecoded",
                          "_mm256_permutevar8x32_epi32",
                          "0x9e3779b97f4a7c15ULL",
                          "req_3f9a0c1b2d4e5f60718293a4",
                          "boundary=----WebKitFormBoundaryX3",
                          "key WrongKeyIs401AndNotEchoed",
                          "Avx2MatchesScalarBitForBit",
                          "chars -+xX0123456789abcdefABCDEF",
                          "see libs/msm/doc/HTML/examples/SimpleTutorial2",
                          "token s390x/msa_x4/ghash-update"}) {
    ExpectNone(bad, kSecret);
  }
  // Runs longer than 256 bytes are data, not credentials.
  std::string blob;
  for (int i = 0; i < 20; ++i) blob += "U8JZpDE0iGXlD6gNCFba";
  ExpectNone(blob, kSecret);
}

TEST(PiiDetectorTest, Person) {
  EXPECT_GE(ExpectOne("Hi, my name is John Smith and I need help", "PERSON", "John Smith"), 0.8);
  ExpectOne("Name: Maria Garcia-Lopez\n", "PERSON", "Maria Garcia-Lopez");
  ExpectOne("Please contact Dr. Emily Watson tomorrow", "PERSON", "Emily Watson");
  ExpectOne("Mrs Jane Q. Public", "PERSON", "Jane Q. Public");
  ExpectOne("Signed, Robert O'Brien", "PERSON", "Robert O'Brien");
  ExpectOne("Best regards,\nAngus McDonald", "PERSON", "Angus McDonald");
  ExpectOne(
      "my name is Jos\xC3\xA9 Garc\xC3\xAD"
      "a.",
      "PERSON",
      "Jos\xC3\xA9 Garc\xC3\xAD"
      "a");
  ExpectOne("My name is Ann And I like tea", "PERSON", "Ann");
  for (const char* bad :
       {"The Quick Brown Fox Jumps Over The Lazy Dog",
        "Yesterday Apple Announced New Products In California", "my name is important",
        "Dr. who knows", "Signed, The Management", "the director said Smith was late",
        "name: john smith", "Upstream-Name: DejaVu", "Name: Object"}) {
    ExpectNone(bad, kPerson);
  }
}

TEST(PiiDetectorTest, Address) {
  EXPECT_GE(ExpectOne("Ship to 1600 Pennsylvania Avenue, Washington, DC 20500 asap", "ADDRESS",
                      "1600 Pennsylvania Avenue, Washington, DC 20500"),
            0.8);
  ExpectOne("at 221B Baker Street.", "ADDRESS", "221B Baker Street");
  ExpectOne("P. Sherman, 42 Wallaby Way, Sydney", "ADDRESS", "42 Wallaby Way");
  ExpectOne("office: 350 5th Ave, Suite 300", "ADDRESS", "350 5th Ave, Suite 300");
  ExpectOne("12 Oak St. is blue", "ADDRESS", "12 Oak St.");
  ExpectOne("1 Infinite Loop Drive, Cupertino, CA 95014-2083", "ADDRESS",
            "1 Infinite Loop Drive, Cupertino, CA 95014-2083");
  for (const char* bad :
       {"The street was busy", "Wall Street is in New York", "I walked 5 miles down the road",
        "In 2019 we moved to a new place", "Street food on 5 streets", "turn left at 3 Way",
        "Copyright 2014 Piotr Dr\xC4\x85g", "Copyright 2016 Iain Lane",
        "\xC2\xA9 2021 Iain Lane"}) {
    ExpectNone(bad, kAddress);
  }
}

TEST(PiiDetectorTest, OverlapsKeepHigherScoreThenLonger) {
  // An IPv4-mapped IPv6 address contains an IPv4 address: one finding.
  EXPECT_THAT(Summary("a ::ffff:10.1.2.3 b"), ElementsAre("IP_ADDRESS:::ffff:10.1.2.3"));
  // A key assignment's value is a high-entropy token: the key (0.8) wins.
  EXPECT_THAT(Summary("token=U8JZpDE0iGXlD6gNCFba"), ElementsAre("API_KEY:U8JZpDE0iGXlD6gNCFba"));
  // A JWT's segments are high-entropy tokens too.
  EXPECT_THAT(Summary(std::string("jwt ") + kJwtExample),
              ElementsAre(std::string("JWT:") + kJwtExample));
  // Findings are sorted and never overlap.
  const std::string text = std::string("a@b.co ") + kJwtExample + " 4111111111111111 ::1 x@y.org";
  const std::vector<Finding> fs = Detector().Scan(text);
  ASSERT_EQ(fs.size(), 5u);
  for (size_t i = 1; i < fs.size(); ++i) EXPECT_LE(fs[i - 1].end, fs[i].start);
}

TEST(PiiDetectorTest, MalformedUtf8DoesNotCrash) {
  const std::string text =
      "\xFF\xFE alice@example.com \xC3 my name is Bob \xE2\x82 \xF0\x9F and 4111111111111111\xC0";
  EXPECT_THAT(Summary(text),
              ElementsAre("EMAIL:alice@example.com", "PERSON:Bob", "CREDIT_CARD:4111111111111111"));
  std::string noise;
  std::mt19937 rng(42);
  for (int i = 0; i < 100000; ++i) noise.push_back(static_cast<char>(rng() & 0xFF));
  (void)Detector().Scan(noise);
}

TEST(PiiDetectorTest, OneMegabyteFinishesPromptly) {
  // Text that keeps every pattern busy: digits with separators, dotted
  // numbers, hex and colons, capitalized words, token runs, '@'.
  const std::string unit =
      "1 2 3 4 5 6 7 8 9 0 1.2.3.4.5.6 a::b:c:: 12-34-56-78 Mr Aa Bb Cc 12 Aa Bb "
      "U8JZpDE0iGXlD6gNCFba x@y@z.q eyJhbGciOiJub25lIn0.x.y.z -----BEGIN PRIVATE KEY----- ";
  std::string text;
  while (text.size() < (1u << 20)) text += unit;
  std::string digits(1u << 20, '7');
  std::string at_signs;
  while (at_signs.size() < (1u << 20)) at_signs += std::string(63, 'a') + "@b.";
  std::string spaced;  // a phone candidate starts at every digit
  while (spaced.size() < (1u << 20)) spaced += "1 2-3.4 ";
  std::string titles;  // overlapping PERSON matches everywhere
  while (titles.size() < (1u << 20)) titles += "Mr Aa Mr Bb. name: Cc Dd ";
  std::string assignments;  // key assignments whose values overlap the next key
  while (assignments.size() < (1u << 20)) assignments += "password=1/";
  for (const std::string* t : {&text, &digits, &at_signs, &spaced, &titles, &assignments}) {
    const auto start = std::chrono::steady_clock::now();
    (void)Detector().Scan(*t);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // A hang detector, not a speed test (docs/benchmarks.md has the speed):
    // backtracking would take hours here; RE2 takes ~0.1 s, ~2 s under ASan.
    EXPECT_LT(s, 120.0);
    std::printf("1 MiB scan: %.3f s\n", s);
  }
}

}  // namespace
}  // namespace gantry::guard
