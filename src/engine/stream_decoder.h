// StreamDecoder: turns the byte pieces of generated tokens into text that is safe to
// stream, honouring stop sequences the way the OpenAI API does.
//
// - A stop sequence ends generation and is not part of the output, even when it
//   spans several tokens; text that might be the start of a stop sequence is held
//   back until the next pieces decide it.
// - Tokens may end inside a UTF-8 character (byte-fallback tokens): an incomplete
//   character is held back until it completes, so every emitted chunk is valid UTF-8.
//   Invalid bytes become U+FFFD.
//
// Thread safety: one generation, one thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gantry::engine {

class StreamDecoder final {
 public:
  // Empty stop strings are ignored.
  explicit StreamDecoder(std::vector<std::string> stops = {});

  struct Step {
    std::string text;      // safe to emit now (may be empty)
    bool stopped = false;  // a stop sequence was completed: generation must end
  };
  // Adds the next token's bytes. After a step with stopped = true, Push returns nothing.
  Step Push(std::string_view piece);
  // The end of generation (end-of-sequence token, max_tokens): whatever was held back,
  // with an incomplete trailing character replaced by U+FFFD.
  std::string Finish();

  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

// Replaces invalid UTF-8 sequences in `s` with U+FFFD. `allow_incomplete_tail`: leave a
// trailing incomplete (but so far valid) character alone and report its length.
std::string SanitizeUtf8(std::string_view s, bool allow_incomplete_tail = false,
                         size_t* incomplete_tail = nullptr);

}  // namespace gantry::engine
