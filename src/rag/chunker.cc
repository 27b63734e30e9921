#include "rag/chunker.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <utf8proc.h>

namespace gantry::rag {

Status ChunkingOptions::Validate() const {
  if (max_tokens < 16) {
    return InvalidArgument("chunking: max_tokens must be at least 16, got " +
                           std::to_string(max_tokens));
  }
  if (overlap_tokens < 0 || overlap_tokens >= max_tokens / 2) {
    return InvalidArgument("chunking: overlap_tokens must be in [0, max_tokens/2), got " +
                           std::to_string(overlap_tokens));
  }
  return OkStatus();
}

namespace {

// Calibrated against bert-base-uncased / all-MiniLM-L6-v2 word pieces on
// English prose: most words up to 8 letters are one piece, longer ones split
// into roughly 7-letter pieces; non-Latin words split more finely.
constexpr size_t kAsciiPieceLetters = 7;
constexpr size_t kOtherPieceLetters = 3;

bool IsCjk(char32_t c) {
  return (c >= 0x3040 && c <= 0x30FF) ||  // kana
         (c >= 0x3400 && c <= 0x4DBF) ||  // CJK extension A
         (c >= 0x4E00 && c <= 0x9FFF) ||  // CJK unified ideographs
         (c >= 0xAC00 && c <= 0xD7AF) ||  // Hangul syllables
         (c >= 0xF900 && c <= 0xFAFF) ||  // compatibility ideographs
         (c >= 0x20000 && c <= 0x2FA1F);  // supplementary ideographs
}

int ApproximateCount(std::string_view text) {
  int count = 0;
  size_t letters = 0;
  bool ascii_word = true;
  const auto end_word = [&] {
    if (letters == 0) return;
    const size_t piece = ascii_word ? kAsciiPieceLetters : kOtherPieceLetters;
    count += 1 + static_cast<int>((letters - 1) / piece);
    letters = 0;
    ascii_word = true;
  };
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      ++i;
      if (std::isalnum(b)) {
        ++letters;
      } else {
        end_word();
        if (!std::isspace(b) && !std::iscntrl(b)) ++count;  // punctuation: a piece each
      }
      continue;
    }
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(&text[i]),
                                                static_cast<utf8proc_ssize_t>(text.size() - i), &c);
    if (n <= 0) {  // stray byte: [UNK]
      end_word();
      ++count;
      ++i;
      continue;
    }
    i += static_cast<size_t>(n);
    const utf8proc_category_t cat = utf8proc_category(c);
    if (IsCjk(static_cast<char32_t>(c))) {
      end_word();
      ++count;
    } else if (cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
               cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC ||
               cat == UTF8PROC_CATEGORY_CF) {
      end_word();
    } else if (cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_SO) {
      end_word();  // punctuation and symbols
      ++count;
    } else if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
               cat == UTF8PROC_CATEGORY_ME) {
      // combining marks are stripped by BERT's normalizer
    } else {
      // Latin letters with accents lose them in BERT and read like ASCII.
      if (c >= 0x250) ascii_word = false;
      ++letters;
    }
  }
  end_word();
  return count;
}

struct Unit {
  std::string text;
  std::string sep;  // joins it to the unit before it in a chunk
  int64_t start = 0, end = 0;
  int page = 0;
  BlockKind kind = BlockKind::kParagraph;
};

using Range = std::pair<size_t, size_t>;

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t'; }

// Sentences (prose) or lines (code, tables, lists) of `text`, without the
// whitespace between them.
std::vector<Range> Segments(std::string_view text, BlockKind kind) {
  std::vector<Range> out;
  const bool lines =
      kind == BlockKind::kCode || kind == BlockKind::kTable || kind == BlockKind::kList;
  size_t start = 0;
  const auto emit = [&](size_t end) {
    size_t a = start, b = end;
    if (!lines) {
      while (a < b && IsSpace(text[a])) ++a;
      while (b > a && IsSpace(text[b - 1])) --b;
    }
    if (b > a) out.emplace_back(a, b);
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      emit(i);
      start = i + 1;
      continue;
    }
    if (lines) continue;
    size_t end = 0;
    if (c == '.' || c == '!' || c == '?') {
      end = i + 1;
    } else if (text.compare(i, 3, "\u3002") == 0 || text.compare(i, 3, "\uFF01") == 0 ||
               text.compare(i, 3, "\uFF1F") == 0) {
      end = i + 3;  // CJK full stops need no space after them
      emit(end);
      start = end;
      i = end - 1;
      continue;
    } else {
      continue;
    }
    while (end < text.size() &&
           std::string_view(")]\"'").find(text[end]) != std::string_view::npos) {
      ++end;
    }
    if (end < text.size() && IsSpace(text[end])) {
      emit(end);
      start = end;
      i = end - 1;
    }
  }
  emit(text.size());
  return out;
}

std::vector<Range> Words(std::string_view text, Range r) {
  std::vector<Range> out;
  size_t i = r.first;
  while (i < r.second) {
    while (i < r.second && IsSpace(text[i])) ++i;
    const size_t start = i;
    while (i < r.second && !IsSpace(text[i])) ++i;
    if (i > start) out.emplace_back(start, i);
  }
  return out;
}

size_t CodepointStart(std::string_view s, size_t i) {
  while (i > 0 && i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

class Chunker {
 public:
  Chunker(const ChunkingOptions& options, const TokenCounter& count)
      : options_(options), count_(count) {}

  void Heading(const Block& b) {
    Flush();
    previous_.clear();  // no overlap across sections
    while (!path_.empty() && path_.back().level >= b.level) path_.pop_back();
    path_.push_back({b.level, b.text, false, b.byte_start, b.byte_end, b.page});
    prefix_.clear();
    if (options_.prefix_headings) {
      std::string joined;
      for (const auto& h : path_) joined += (joined.empty() ? "" : " > ") + h.text;
      prefix_ = FitPrefix(joined) + "\n\n";
    }
  }

  void Content(const Block& b) {
    if (!options_.prefix_headings) {
      // Headings are part of the text: the first content of a section takes
      // the headings not yet written.
      for (auto& h : path_) {
        if (h.emitted) continue;
        h.emitted = true;
        Block hb;
        hb.kind = BlockKind::kHeading;
        hb.text = h.text;
        hb.byte_start = h.start;
        hb.byte_end = h.end;
        hb.page = h.page;
        for (Unit& u : MakeUnits(hb)) Add(std::move(u));
      }
    }
    for (Unit& u : MakeUnits(b)) Add(std::move(u));
  }

  std::vector<TextChunk> Finish() {
    Flush();
    if (chunks_.empty() && !path_.empty()) {
      // A document of headings only still yields its headings.
      std::string joined;
      for (const auto& h : path_) joined += (joined.empty() ? "" : " > ") + h.text;
      TextChunk c;
      c.text = FitPrefix(joined);
      for (const auto& h : path_) c.heading_path.push_back(h.text);
      c.byte_start = path_.front().start;
      c.byte_end = path_.back().end;
      c.page_start = path_.front().page;
      c.page_end = path_.back().page;
      c.token_count = count_(c.text);
      chunks_.push_back(std::move(c));
    }
    return std::move(chunks_);
  }

 private:
  struct PathEntry {
    int level;
    std::string text;
    bool emitted;
    int64_t start, end;
    int page;
  };

  bool Fits(std::string_view body) const {
    return count_(prefix_ + std::string(body)) <= options_.max_tokens;
  }

  // The heading path, cut at a word boundary so that it takes at most half of
  // a chunk.
  std::string FitPrefix(const std::string& joined) const {
    const int limit = options_.max_tokens / 2;
    if (count_(joined) <= limit) return joined;
    const std::vector<Range> words = Words(joined, {0, joined.size()});
    size_t lo = 0, hi = words.size();  // words[0, lo) fit
    while (lo < hi) {
      const size_t mid = (lo + hi + 1) / 2;
      if (count_(std::string_view(joined).substr(0, words[mid - 1].second)) <= limit) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo == 0 ? std::string() : joined.substr(0, words[lo - 1].second);
  }

  Unit Piece(const Block& b, Range r, std::string sep) const {
    Unit u;
    u.text = b.text.substr(r.first, r.second - r.first);
    u.sep = std::move(sep);
    // Normalized text does not map back to source bytes exactly: interpolate
    // within the block's span (exact for whole blocks).
    const int64_t len = static_cast<int64_t>(b.text.size());
    const int64_t width = b.byte_end - b.byte_start;
    u.start = b.byte_start + (len > 0 ? width * static_cast<int64_t>(r.first) / len : 0);
    u.end = b.byte_start + (len > 0 ? width * static_cast<int64_t>(r.second) / len : width);
    u.page = b.page;
    u.kind = b.kind;
    return u;
  }

  static const char* InnerSep(BlockKind kind) {
    return kind == BlockKind::kParagraph || kind == BlockKind::kHeading ? " " : "\n";
  }

  // The block as pieces that each fit a chunk on their own: the whole block,
  // else its sentences/lines, else words, else runs of characters.
  std::vector<Unit> MakeUnits(const Block& b) const {
    std::vector<Unit> units;
    if (Fits(b.text)) {
      units.push_back(Piece(b, {0, b.text.size()}, "\n\n"));
      return units;
    }
    const std::string_view text = b.text;
    const auto sep = [&](const char* inner) { return units.empty() ? "\n\n" : inner; };
    for (const Range& seg : Segments(text, b.kind)) {
      if (Fits(text.substr(seg.first, seg.second - seg.first))) {
        units.push_back(Piece(b, seg, sep(InnerSep(b.kind))));
        continue;
      }
      bool first_word = true;
      for (const Range& word : Words(text, seg)) {
        const char* word_sep = first_word ? InnerSep(b.kind) : " ";
        first_word = false;
        size_t pos = word.first;
        while (pos < word.second) {
          size_t end = LongestFit(text, pos, word.second);
          units.push_back(Piece(b, {pos, end}, sep(pos == word.first ? word_sep : "")));
          pos = end;
        }
      }
    }
    return units;
  }

  // The end of the longest run of whole characters from `pos` (at most `end`)
  // that fits; at least one character.
  size_t LongestFit(std::string_view text, size_t pos, size_t end) const {
    // A token never spans more than a few dozen bytes; bound the search so
    // that a megabyte without spaces does not cost megabyte-sized counts.
    const size_t cap = static_cast<size_t>(options_.max_tokens) * 64;
    size_t hi = std::min(end, pos + cap);
    if (Fits(text.substr(pos, hi - pos))) return hi;
    size_t lo = pos;  // [pos, lo) fits
    while (hi - lo > 1) {
      const size_t mid = lo + (hi - lo) / 2;
      if (Fits(text.substr(pos, mid - pos))) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    lo = CodepointStart(text, lo);
    if (lo <= pos) {
      // Not even one character fits beside the prefix; take one anyway.
      lo = pos + 1;
      while (lo < end && (static_cast<unsigned char>(text[lo]) & 0xC0) == 0x80) ++lo;
    }
    return lo;
  }

  static std::string Join(const std::vector<Unit>& units) {
    std::string body;
    for (const Unit& u : units) {
      if (!body.empty()) body += u.sep;
      body += u.text;
    }
    return body;
  }

  void Add(Unit u) {
    if (!current_.empty()) {
      if (Fits(body_ + u.sep + u.text)) {
        body_ += u.sep + u.text;
        current_.push_back(std::move(u));
        return;
      }
      // A heading must not end a chunk: carry trailing headings over.
      std::vector<Unit> carried;
      while (!current_.empty() && current_.back().kind == BlockKind::kHeading) {
        carried.insert(carried.begin(), std::move(current_.back()));
        current_.pop_back();
      }
      body_ = Join(current_);
      Flush();
      if (!carried.empty()) {
        current_ = std::move(carried);
        overlap_units_ = 0;
        body_ = Join(current_);
        if (Fits(body_ + u.sep + u.text)) {
          body_ += u.sep + u.text;
          current_.push_back(std::move(u));
          return;
        }
        Flush();
      }
    }
    Start(std::move(u));
  }

  // Begins a chunk with `u`, preceded by the overlap from the previous chunk of
  // this section.
  void Start(Unit u) {
    std::vector<Unit> overlap = Overlap();
    while (true) {
      std::vector<Unit> units = overlap;
      units.push_back(u);
      std::string body = Join(units);
      if (overlap.empty() || Fits(body)) {
        current_ = std::move(units);
        body_ = std::move(body);
        overlap_units_ = overlap.size();
        return;
      }
      overlap.erase(overlap.begin());
    }
  }

  // Whole sentences/lines from the end of the previous chunk, about
  // overlap_tokens in all; trailing words when its last sentence is longer.
  std::vector<Unit> Overlap() const {
    std::vector<Unit> taken;  // last first
    if (options_.overlap_tokens <= 0) return taken;
    for (size_t k = previous_.size(); k-- > 0;) {
      const Unit& u = previous_[k];
      if (u.kind == BlockKind::kHeading) break;
      Block b;
      b.kind = u.kind;
      b.text = u.text;
      b.byte_start = u.start;
      b.byte_end = u.end;
      b.page = u.page;
      const std::vector<Range> segs = Segments(u.text, u.kind);
      for (size_t s = segs.size(); s-- > 0;) {
        std::vector<Unit> trial(taken.rbegin(), taken.rend());
        trial.insert(trial.begin(), Piece(b, segs[s], s > 0 ? InnerSep(u.kind) : u.sep));
        if (count_(Join(trial)) > options_.overlap_tokens) {
          if (taken.empty()) return TrailingWords(b, segs[s]);
          return {taken.rbegin(), taken.rend()};
        }
        taken.push_back(std::move(trial.front()));
      }
    }
    return {taken.rbegin(), taken.rend()};
  }

  std::vector<Unit> TrailingWords(const Block& b, Range seg) const {
    const std::vector<Range> words = Words(b.text, seg);
    size_t first = words.size();
    while (first > 0) {
      const size_t start = words[first - 1].first;
      if (count_(std::string_view(b.text).substr(start, seg.second - start)) >
          options_.overlap_tokens) {
        break;
      }
      --first;
    }
    if (first == words.size()) return {};
    return {Piece(b, {words[first].first, seg.second}, " ")};
  }

  void Flush() {
    if (current_.empty()) return;
    if (current_.size() == overlap_units_) {  // nothing new since the overlap
      current_.clear();
      body_.clear();
      return;
    }
    TextChunk c;
    c.text = prefix_ + body_;
    for (const auto& h : path_) c.heading_path.push_back(h.text);
    c.byte_start = current_.front().start;
    c.byte_end = current_.front().end;
    for (const Unit& u : current_) {
      c.byte_start = std::min(c.byte_start, u.start);
      c.byte_end = std::max(c.byte_end, u.end);
      if (u.page > 0) {
        c.page_start = c.page_start == 0 ? u.page : std::min(c.page_start, u.page);
        c.page_end = std::max(c.page_end, u.page);
      }
    }
    c.token_count = count_(c.text);
    chunks_.push_back(std::move(c));
    previous_ = std::move(current_);
    current_.clear();
    body_.clear();
    overlap_units_ = 0;
  }

  const ChunkingOptions& options_;
  const TokenCounter& count_;
  std::vector<PathEntry> path_;
  std::string prefix_;  // the heading path and a blank line, or ""
  std::vector<Unit> current_;
  std::string body_;  // Join(current_)
  size_t overlap_units_ = 0;
  std::vector<Unit> previous_;  // units of the last chunk of this section
  std::vector<TextChunk> chunks_;
};

}  // namespace

TokenCounter ApproximateTokenCounter() { return ApproximateCount; }

std::vector<TextChunk> ChunkDocument(const ParsedDocument& doc, const ChunkingOptions& options,
                                     const TokenCounter& count_tokens) {
  Chunker chunker(options, count_tokens);
  for (const Block& b : doc.blocks) {
    if (b.kind == BlockKind::kHeading) {
      chunker.Heading(b);
    } else {
      chunker.Content(b);
    }
  }
  return chunker.Finish();
}

}  // namespace gantry::rag
