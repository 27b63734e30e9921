#include "engine/wordpiece_tokenizer.h"

#include <algorithm>
#include <fstream>
#include <utility>

#include "engine/unicode.h"

namespace gantry::engine {
namespace {

bool IsBertPunctuation(char32_t c) {
  if (c < 128) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
  }
  return unicode::IsPunctuation(c);
}

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

// HF tokenizers' decoders::wordpiece::cleanup, applied per token as HF does.
void Cleanup(std::string& s) {
  ReplaceAll(s, " .", ".");
  ReplaceAll(s, " ?", "?");
  ReplaceAll(s, " !", "!");
  ReplaceAll(s, " ,", ",");
  ReplaceAll(s, " ' ", "'");
  ReplaceAll(s, " n't", "n't");
  ReplaceAll(s, " 'm", "'m");
  ReplaceAll(s, " do not", " don't");
  ReplaceAll(s, " 's", "'s");
  ReplaceAll(s, " 've", "'ve");
  ReplaceAll(s, " 're", "'re");
}

}  // namespace

Status WordPieceOptions::Validate() const {
  if (continuing_subword_prefix.empty()) {
    return InvalidArgument("wordpiece: empty continuing_subword_prefix");
  }
  if (max_input_chars_per_word == 0) {
    return InvalidArgument("wordpiece: max_input_chars_per_word must be positive");
  }
  if (max_length != 0 && max_length < 3) {
    return InvalidArgument("wordpiece: max_length must be 0 or at least 3");
  }
  return OkStatus();
}

Result<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::Create(
    std::vector<std::string> vocab, WordPieceOptions options) {
  RETURN_IF_ERROR(options.Validate());
  if (vocab.empty()) return InvalidArgument("wordpiece: empty vocabulary");
  if (vocab.size() > static_cast<size_t>(INT32_MAX)) {
    return InvalidArgument("wordpiece: vocabulary too large");
  }
  std::unique_ptr<WordPieceTokenizer> tok(new WordPieceTokenizer());
  tok->vocab_ = std::move(vocab);
  tok->options_ = std::move(options);
  RETURN_IF_ERROR(tok->Init());
  return tok;
}

Result<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::FromVocabFile(
    const std::string& path, WordPieceOptions options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("wordpiece: cannot open vocabulary " + path);
  std::vector<std::string> vocab;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.pop_back();
    }
    vocab.push_back(line);
  }
  if (in.bad()) return InvalidArgument("wordpiece: error reading " + path);
  auto result = Create(std::move(vocab), std::move(options));
  if (!result.ok()) return result.status().WithContext(path);
  return result;
}

Status WordPieceTokenizer::Init() {
  const std::string& prefix = options_.continuing_subword_prefix;
  word_start_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) {
    const std::string_view text = vocab_[i];
    const auto id = static_cast<int32_t>(i);
    // Later duplicates win, as in HF's vocab map.
    word_start_.insert_or_assign(text, id);
    if (text.size() > prefix.size() && text.starts_with(prefix)) {
      continuation_.insert_or_assign(text.substr(prefix.size()), id);
    }
  }
  auto require = [&](const std::string& text, int32_t& id) -> Status {
    auto it = word_start_.find(text);
    if (it == word_start_.end()) {
      return InvalidArgument("wordpiece: special token " + text + " missing from the vocabulary");
    }
    id = it->second;
    special_list_.push_back(id);
    return OkStatus();
  };
  RETURN_IF_ERROR(require(options_.cls_token, special_.bos));
  RETURN_IF_ERROR(require(options_.sep_token, special_.eos));
  RETURN_IF_ERROR(require(options_.unk_token, special_.unk));
  RETURN_IF_ERROR(require(options_.pad_token, special_.pad));
  RETURN_IF_ERROR(require(options_.mask_token, special_.mask));
  std::sort(special_list_.begin(), special_list_.end());
  return OkStatus();
}

bool WordPieceTokenizer::IsSpecial(int32_t id) const {
  return std::binary_search(special_list_.begin(), special_list_.end(), id);
}

std::optional<int32_t> WordPieceTokenizer::TokenId(std::string_view text) const {
  auto it = word_start_.find(text);
  if (it == word_start_.end()) return std::nullopt;
  return it->second;
}

std::u32string WordPieceTokenizer::Normalize(std::u32string_view text) const {
  std::u32string s;
  s.reserve(text.size());
  for (char32_t c : text) {
    if (options_.clean_text) {
      const bool keep_as_space = c == U'\t' || c == U'\n' || c == U'\r';
      if (c == 0 || c == 0xFFFD || (!keep_as_space && unicode::IsOtherControlFormatPrivate(c))) {
        continue;
      }
      if (unicode::IsWhitespace(c)) c = U' ';
    }
    if (options_.handle_chinese_chars && unicode::IsCjkIdeograph(c)) {
      s.push_back(U' ');
      s.push_back(c);
      s.push_back(U' ');
    } else {
      s.push_back(c);
    }
  }
  if (options_.strip_accents.value_or(options_.lowercase)) {
    std::u32string decomposed = unicode::Nfd(s);
    s.clear();
    for (char32_t c : decomposed) {
      if (!unicode::IsNonspacingMark(c)) s.push_back(c);
    }
  }
  if (options_.lowercase) {
    std::u32string lower;
    lower.reserve(s.size());
    for (char32_t c : s) unicode::AppendLower(c, lower);
    s.swap(lower);
  }
  return s;
}

void WordPieceTokenizer::EncodeWord(std::u32string_view word, std::vector<int32_t>& out) const {
  if (word.size() > options_.max_input_chars_per_word) {
    out.push_back(special_.unk);
    return;
  }
  std::string utf8;
  std::vector<size_t> bounds;  // byte offset of each character, then the end
  for (char32_t c : word) {
    bounds.push_back(utf8.size());
    unicode::AppendUtf8(c, utf8);
  }
  bounds.push_back(utf8.size());
  const std::string_view w = utf8;

  const size_t mark = out.size();
  size_t start = 0;  // index into bounds
  const size_t n = word.size();
  while (start < n) {
    int32_t found = -1;
    size_t end = n;
    for (; end > start; --end) {
      std::string_view piece = w.substr(bounds[start], bounds[end] - bounds[start]);
      const auto& map = start == 0 ? word_start_ : continuation_;
      auto it = map.find(piece);
      if (it != map.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {
      out.resize(mark);
      out.push_back(special_.unk);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

Status WordPieceTokenizer::EncodeText(std::string_view text, std::vector<int32_t>& out) const {
  ASSIGN_OR_RETURN(std::u32string chars, unicode::DecodeUtf8(text));
  const std::u32string s = Normalize(chars);
  size_t word_start = 0;
  auto flush = [&](size_t end) {
    if (end > word_start) {
      EncodeWord(std::u32string_view(s).substr(word_start, end - word_start), out);
    }
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (unicode::IsWhitespace(c)) {
      flush(i);
      word_start = i + 1;
    } else if (IsBertPunctuation(c)) {
      flush(i);
      word_start = i;
      flush(i + 1);
      word_start = i + 1;
    }
  }
  flush(s.size());
  return OkStatus();
}

Result<std::vector<int32_t>> WordPieceTokenizer::Encode(std::string_view text, bool add_special,
                                                        bool parse_special) const {
  std::vector<int32_t> content;
  if (!parse_special) {
    RETURN_IF_ERROR(EncodeText(text, content));
  } else {
    // Next occurrence of each special token at or after `pos` (cached).
    std::vector<size_t> next(special_list_.size(), 0);
    size_t pos = 0;
    for (size_t k = 0; k < next.size(); ++k) next[k] = text.find(vocab_[special_list_[k]]);
    while (true) {
      size_t best = std::string_view::npos;
      size_t best_k = 0;
      for (size_t k = 0; k < next.size(); ++k) {
        if (next[k] < pos) next[k] = text.find(vocab_[special_list_[k]], pos);
        const size_t len = vocab_[special_list_[k]].size();
        if (next[k] < best || (next[k] == best && best != std::string_view::npos &&
                               len > vocab_[special_list_[best_k]].size())) {
          best = next[k];
          best_k = k;
        }
      }
      if (best == std::string_view::npos) {
        RETURN_IF_ERROR(EncodeText(text.substr(pos), content));
        break;
      }
      RETURN_IF_ERROR(EncodeText(text.substr(pos, best - pos), content));
      content.push_back(special_list_[best_k]);
      pos = best + vocab_[special_list_[best_k]].size();
    }
  }

  if (options_.max_length > 0) {
    const size_t limit = add_special ? options_.max_length - 2 : options_.max_length;
    if (content.size() > limit) content.resize(limit);
  }
  if (!add_special) return content;
  std::vector<int32_t> out;
  out.reserve(content.size() + 2);
  out.push_back(special_.bos);
  out.insert(out.end(), content.begin(), content.end());
  out.push_back(special_.eos);
  return out;
}

std::string WordPieceTokenizer::TokenToPiece(int32_t id, bool render_special) const {
  if (id < 0 || id >= vocab_size()) return {};
  if (!render_special && IsSpecial(id)) return {};
  return vocab_[id];
}

Result<std::string> WordPieceTokenizer::Decode(std::span<const int32_t> ids,
                                               bool render_special) const {
  const std::string& prefix = options_.continuing_subword_prefix;
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      return InvalidArgument("wordpiece: token id " + std::to_string(id) +
                             " outside the vocabulary of " + std::to_string(vocab_size()));
    }
    if (!render_special && IsSpecial(id)) continue;
    std::string token = vocab_[id];
    if (!first) {
      if (token.starts_with(prefix)) {
        token.erase(0, prefix.size());
      } else {
        token.insert(0, " ");
      }
    }
    Cleanup(token);
    out += token;
    first = false;
  }
  return out;
}

}  // namespace gantry::engine
