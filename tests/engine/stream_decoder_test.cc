#include "engine/stream_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gantry::engine {
namespace {

// Feeds pieces and returns everything emitted (plus Finish unless stopped).
std::string Feed(StreamDecoder& d, const std::vector<std::string>& pieces,
                 bool* stopped = nullptr) {
  std::string out;
  for (const auto& p : pieces) {
    auto step = d.Push(p);
    out += step.text;
    if (step.stopped) break;
  }
  out += d.Finish();
  if (stopped != nullptr) *stopped = d.stopped();
  return out;
}

TEST(StreamDecoderTest, PassesTextThroughWithoutStops) {
  StreamDecoder d;
  auto s1 = d.Push("Hello");
  EXPECT_EQ(s1.text, "Hello");
  EXPECT_FALSE(s1.stopped);
  EXPECT_EQ(d.Push(", world").text, ", world");
  EXPECT_EQ(d.Finish(), "");
}

TEST(StreamDecoderTest, StopInsideOnePieceCutsTheText) {
  StreamDecoder d({"\n\n"});
  bool stopped = false;
  EXPECT_EQ(Feed(d, {"one", " two\n\nthree"}, &stopped), "one two");
  EXPECT_TRUE(stopped);
  EXPECT_EQ(d.Push("more").text, "");  // nothing after a stop
}

TEST(StreamDecoderTest, StopSpanningPiecesIsHeldBackThenDropped) {
  StreamDecoder d({"END"});
  auto a = d.Push("abc E");
  EXPECT_EQ(a.text, "abc ");  // "E" might start "END"
  auto b = d.Push("N");
  EXPECT_EQ(b.text, "");
  auto c = d.Push("D!");
  EXPECT_TRUE(c.stopped);
  EXPECT_EQ(c.text, "");
}

TEST(StreamDecoderTest, FalseStartIsReleased) {
  StreamDecoder d({"END"});
  EXPECT_EQ(d.Push("E").text, "");
  EXPECT_EQ(d.Push("N").text, "");
  EXPECT_EQ(d.Push("X").text, "ENX");
  EXPECT_EQ(d.Push("EN").text, "");
  EXPECT_EQ(d.Finish(), "EN");  // end of generation releases what was held
}

TEST(StreamDecoderTest, EarliestOfSeveralStopsWins) {
  StreamDecoder d({"bb", "a"});
  bool stopped = false;
  EXPECT_EQ(Feed(d, {"xxbbya"}, &stopped), "xx");
  EXPECT_TRUE(stopped);
}

TEST(StreamDecoderTest, SplitUtf8CharactersAreHeldUntilComplete) {
  StreamDecoder d;
  const std::string euro = "\xE2\x82\xAC";  // U+20AC in three byte-fallback tokens
  EXPECT_EQ(d.Push(euro.substr(0, 1)).text, "");
  EXPECT_EQ(d.Push(euro.substr(1, 1)).text, "");
  EXPECT_EQ(d.Push(euro.substr(2, 1) + "!").text, euro + "!");
  const std::string emoji = "\xF0\x9F\x98\x80";
  EXPECT_EQ(d.Push("a" + emoji.substr(0, 2)).text, "a");
  EXPECT_EQ(d.Push(emoji.substr(2)).text, emoji);
}

TEST(StreamDecoderTest, InvalidBytesBecomeReplacementCharacters) {
  StreamDecoder d;
  EXPECT_EQ(d.Push("a\xFF"
                   "b")
                .text,
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(d.Push("\xC0\xAF").text, "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(d.Push("\xED\xA0\x80").text, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  // An incomplete character at the very end is replaced by Finish.
  EXPECT_EQ(d.Push("\xE2\x82").text, "");
  EXPECT_EQ(d.Finish(), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(StreamDecoderTest, StopSequenceWithMultibyteCharacters) {
  StreamDecoder d({"\xC3\xA9t\xC3\xA9"});  // "été"
  bool stopped = false;
  EXPECT_EQ(Feed(d, {"un \xC3", "\xA9t", "\xC3\xA9 chaud"}, &stopped), "un ");
  EXPECT_TRUE(stopped);
}

TEST(StreamDecoderTest, EmptyStopsAreIgnored) {
  StreamDecoder d({"", ""});
  EXPECT_EQ(Feed(d, {"abc"}), "abc");
}

}  // namespace
}  // namespace gantry::engine
