#include "engine/spm_tokenizer.h"

#include <algorithm>
#include <queue>
#include <utility>

#include "engine/gguf.h"

namespace gantry::engine {
namespace {

constexpr std::string_view kSpaceEscape = "\xe2\x96\x81";  // U+2581 '▁'

// Texts llama.cpp treats as end-of-turn when the file names no eot id.
constexpr std::string_view kEotTexts[] = {"<end_of_turn>", "<|eot_id|>", "<|im_end|>", "<|end|>",
                                          "<|endoftext|>", "<|eom_id|>", "<EOT>"};

// Length of the UTF-8 sequence a lead byte announces; stray continuation bytes
// count as 1 (llama.cpp's unicode_len_utf8).
size_t Utf8Len(char c) {
  static constexpr size_t kLookup[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLookup[static_cast<uint8_t>(c) >> 4];
}

std::string EscapeSpaces(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char c : text) {
    if (c == ' ') {
      out += kSpaceEscape;
    } else {
      out += c;
    }
  }
  return out;
}

void AppendUnescaped(std::string_view text, std::string& out) {
  size_t pos = 0;
  while (true) {
    size_t hit = text.find(kSpaceEscape, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out += ' ';
    pos = hit + kSpaceEscape.size();
  }
  out.append(text.substr(pos));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// One llama.cpp SPM session over an escaped fragment: merge by score, then emit.
struct Symbol {
  int prev;
  int next;
  size_t offset;
  size_t n;
};
struct Bigram {
  int left;
  int right;
  float score;
  size_t size;
};
struct BigramLess {
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.score < r.score || (l.score == r.score && l.left > r.left);
  }
};

}  // namespace

Status SpmOptions::Validate(size_t n_tokens) const {
  auto check = [&](int32_t id, const char* name) -> Status {
    if (id < -1 || (id >= 0 && static_cast<size_t>(id) >= n_tokens)) {
      return InvalidArgument(std::string("spm tokenizer: ") + name + " id " + std::to_string(id) +
                             " outside the vocabulary of " + std::to_string(n_tokens));
    }
    return OkStatus();
  };
  RETURN_IF_ERROR(check(bos_id, "bos"));
  RETURN_IF_ERROR(check(eos_id, "eos"));
  RETURN_IF_ERROR(check(unk_id, "unk"));
  RETURN_IF_ERROR(check(pad_id, "pad"));
  RETURN_IF_ERROR(check(eot_id, "eot"));
  if (add_bos && bos_id < 0) return InvalidArgument("spm tokenizer: add_bos without a bos id");
  if (add_eos && eos_id < 0) return InvalidArgument("spm tokenizer: add_eos without an eos id");
  return OkStatus();
}

Result<std::unique_ptr<SpmTokenizer>> SpmTokenizer::Create(std::vector<std::string> tokens,
                                                           std::vector<float> scores,
                                                           std::vector<SpmTokenType> types,
                                                           SpmOptions options) {
  if (tokens.empty()) return InvalidArgument("spm tokenizer: empty vocabulary");
  if (tokens.size() > static_cast<size_t>(INT32_MAX)) {
    return InvalidArgument("spm tokenizer: vocabulary too large");
  }
  if (scores.size() != tokens.size() || types.size() != tokens.size()) {
    return InvalidArgument("spm tokenizer: " + std::to_string(tokens.size()) + " tokens but " +
                           std::to_string(scores.size()) + " scores and " +
                           std::to_string(types.size()) + " types");
  }
  RETURN_IF_ERROR(options.Validate(tokens.size()));
  std::unique_ptr<SpmTokenizer> tok(new SpmTokenizer());
  tok->tokens_ = std::move(tokens);
  tok->scores_ = std::move(scores);
  tok->types_ = std::move(types);
  tok->options_ = options;
  RETURN_IF_ERROR(tok->Init());
  return tok;
}

Status SpmTokenizer::Init() {
  const int32_t n = vocab_size();
  token_to_id_.reserve(tokens_.size());
  for (int32_t i = 0; i < n; ++i) {
    if (tokens_[i].empty()) tokens_[i] = "[EMPTY_" + std::to_string(i) + "]";
  }
  for (int32_t i = 0; i < n; ++i) {
    if (!token_to_id_.emplace(tokens_[i], i).second) {
      return InvalidArgument("spm tokenizer: duplicate token text at id " + std::to_string(i));
    }
  }

  if (options_.eot_id < 0) {
    for (std::string_view t : kEotTexts) {
      int32_t id = Lookup(t);
      if (id >= 0) {
        options_.eot_id = id;
        break;
      }
    }
  }
  // llama.cpp forces end-of-generation tokens to be control tokens.
  if (options_.eot_id >= 0) types_[options_.eot_id] = SpmTokenType::kControl;

  special_.bos = options_.bos_id;
  special_.eos = options_.eos_id;
  special_.eot = options_.eot_id;
  special_.unk = options_.unk_id;
  special_.pad = options_.pad_id;
  special_.mask = Lookup("<mask>");

  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    int32_t id = Lookup(std::string_view(name, sizeof(name)));
    if (id < 0) id = Lookup(std::string_view(reinterpret_cast<const char*>(&b), 1));
    byte_tokens_[b] = id >= 0 ? id : options_.unk_id;
  }

  for (int32_t i = 0; i < n; ++i) {
    SpmTokenType t = types_[i];
    if (t == SpmTokenType::kControl || t == SpmTokenType::kUserDefined ||
        t == SpmTokenType::kUnknown) {
      special_order_.push_back(i);
    }
  }
  // Same algorithm and comparator as llama.cpp's special-token cache, so that
  // equal-length entries end up in the same order.
  std::sort(special_order_.begin(), special_order_.end(),
            [&](int32_t a, int32_t b) { return tokens_[a].size() > tokens_[b].size(); });
  special_rank_.assign(tokens_.size(), -1);
  trie_.emplace_back();
  for (size_t r = 0; r < special_order_.size(); ++r) {
    int32_t id = special_order_[r];
    special_rank_[id] = static_cast<int32_t>(r);
    int32_t node = 0;
    for (char c : tokens_[id]) {
      uint8_t byte = static_cast<uint8_t>(c);
      int32_t child = -1;
      for (const auto& [b, next] : trie_[node].next) {
        if (b == byte) {
          child = next;
          break;
        }
      }
      if (child < 0) {
        child = static_cast<int32_t>(trie_.size());
        trie_[node].next.emplace_back(byte, child);
        trie_.emplace_back();
      }
      node = child;
    }
    trie_[node].token = id;
  }
  return OkStatus();
}

int32_t SpmTokenizer::Lookup(std::string_view text) const {
  auto it = token_to_id_.find(text);
  return it == token_to_id_.end() ? -1 : it->second;
}

std::optional<int32_t> SpmTokenizer::TokenId(std::string_view text) const {
  int32_t id = Lookup(text);
  if (id < 0) return std::nullopt;
  return id;
}

bool SpmTokenizer::IsSpecialFor(int32_t id, bool parse_special) const {
  if (special_rank_[id] < 0) return false;
  // Without parse_special only user-defined entries are split out.
  return parse_special || types_[id] == SpmTokenType::kUserDefined;
}

bool SpmTokenizer::IsEndOfGeneration(int32_t id) const {
  return id >= 0 && (id == options_.eos_id || id == options_.eot_id);
}

// llama.cpp's tokenizer_st_partition: for each special token in order, split every
// remaining raw fragment at each of its (non-overlapping, leftmost) occurrences.
// Only tokens that occur somewhere in the text can match, so those are found first
// with one trie scan and the passes run for them alone.
std::vector<SpmTokenizer::Fragment> SpmTokenizer::Partition(std::string_view text,
                                                            bool parse_special) const {
  std::vector<int32_t> present;  // ranks
  for (size_t i = 0; i < text.size(); ++i) {
    int32_t node = 0;
    for (size_t j = i; j < text.size(); ++j) {
      uint8_t byte = static_cast<uint8_t>(text[j]);
      int32_t child = -1;
      for (const auto& [b, next] : trie_[node].next) {
        if (b == byte) {
          child = next;
          break;
        }
      }
      if (child < 0) break;
      node = child;
      int32_t id = trie_[node].token;
      if (id >= 0 && IsSpecialFor(id, parse_special)) present.push_back(special_rank_[id]);
    }
  }
  std::sort(present.begin(), present.end());
  present.erase(std::unique(present.begin(), present.end()), present.end());

  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (int32_t rank : present) {
    const int32_t id = special_order_[rank];
    const std::string& s = tokens_[id];
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const size_t end = f.offset + f.length;
      const std::string_view window = text.substr(0, end);
      size_t pos = f.offset;
      while (true) {
        size_t hit = window.find(s, pos);
        if (hit == std::string_view::npos) {
          if (end > pos) next.push_back({-1, pos, end - pos});
          break;
        }
        if (hit > pos) next.push_back({-1, pos, hit - pos});
        next.push_back({id, hit, s.size()});
        pos = hit + s.size();
      }
    }
    frags.swap(next);
  }
  return frags;
}

Status SpmTokenizer::EncodeFragment(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  size_t offset = 0;
  int index = 0;
  while (offset < text.size()) {
    size_t n = std::min(Utf8Len(text[offset]), text.size() - offset);
    Symbol sym{index - 1, 0, offset, n};
    offset += n;
    sym.next = offset == text.size() ? -1 : index + 1;
    ++index;
    symbols.push_back(sym);
  }
  if (symbols.empty()) return OkStatus();

  std::priority_queue<Bigram, std::vector<Bigram>, BigramLess> queue;
  auto try_add = [&](int left, int right) {
    if (left == -1 || right == -1) return;
    std::string_view s = text.substr(symbols[left].offset, symbols[left].n + symbols[right].n);
    int32_t id = Lookup(s);
    if (id < 0) return;
    queue.push({left, right, scores_[id], s.size()});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Stale: one side was merged since this pair was queued.
    if (left.n == 0 || right.n == 0 || left.n + right.n != bigram.size) continue;
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  // Every merged symbol is a token by construction, so only unmerged code points
  // can miss the vocabulary (llama.cpp's rev_merge path is never taken): those go
  // out as byte tokens.
  for (int i = 0; i != -1; i = symbols[i].next) {
    std::string_view s = text.substr(symbols[i].offset, symbols[i].n);
    int32_t id = Lookup(s);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char c : s) {
      int32_t byte_id = byte_tokens_[static_cast<uint8_t>(c)];
      if (byte_id < 0) {
        return InvalidArgument("spm tokenizer: no byte-fallback token for a byte of the input");
      }
      out.push_back(byte_id);
    }
  }
  return OkStatus();
}

Result<std::vector<int32_t>> SpmTokenizer::Encode(std::string_view text, bool add_special,
                                                  bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && options_.add_bos) out.push_back(options_.bos_id);
  bool prev_special = true;
  std::string piece;
  for (const Fragment& f : Partition(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    piece.clear();
    if (options_.add_space_prefix && prev_special) piece = " ";
    piece += text.substr(f.offset, f.length);
    RETURN_IF_ERROR(EncodeFragment(EscapeSpaces(piece), out));
    prev_special = false;
  }
  if (add_special && options_.add_eos) out.push_back(options_.eos_id);
  return out;
}

std::string SpmTokenizer::TokenToPiece(int32_t id, bool render_special) const {
  if (id < 0 || id >= vocab_size()) return {};
  const std::string& text = tokens_[id];
  switch (types_[id]) {
    case SpmTokenType::kControl:
    case SpmTokenType::kUnknown:
      return render_special ? text : std::string();
    case SpmTokenType::kUserDefined:
      return text;
    case SpmTokenType::kNormal: {
      std::string out;
      AppendUnescaped(text, out);
      return out;
    }
    case SpmTokenType::kByte: {
      if (text.size() == 6 && text.starts_with("<0x") && text.back() == '>') {
        int hi = HexDigit(text[3]);
        int lo = HexDigit(text[4]);
        if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
      }
      return text.size() == 1 ? text : std::string();
    }
    case SpmTokenType::kUnused:
    case SpmTokenType::kUndefined:
      return {};
  }
  return {};
}

Result<std::string> SpmTokenizer::Decode(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      return InvalidArgument("spm tokenizer: token id " + std::to_string(id) +
                             " outside the vocabulary of " + std::to_string(vocab_size()));
    }
    out += TokenToPiece(id, render_special);
  }
  return out;
}

Result<std::unique_ptr<SpmTokenizer>> SpmTokenizer::FromGguf(const GgufFile& gguf) {
  const std::string where = "gguf " + gguf.path() + ": ";
  ASSIGN_OR_RETURN(std::string model, gguf.GetString("tokenizer.ggml.model"));
  if (model != "llama") {
    return InvalidArgument(where + "tokenizer.ggml.model is \"" + model +
                           "\", not a SentencePiece (\"llama\") vocabulary");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> tokens, gguf.GetStringArray("tokenizer.ggml.tokens"));
  const size_t n = tokens.size();

  std::vector<float> scores(n, 0.0f);
  if (auto r = gguf.GetFloatArray("tokenizer.ggml.scores"); r.ok()) {
    if (r->size() < n) return InvalidArgument(where + "tokenizer.ggml.scores is too short");
    scores.assign(r->begin(), r->begin() + static_cast<std::ptrdiff_t>(n));
  } else if (r.status().code() != StatusCode::kNotFound) {
    return r.status();
  }
  std::vector<SpmTokenType> types(n, SpmTokenType::kNormal);
  if (auto r = gguf.GetIntArray("tokenizer.ggml.token_type"); r.ok()) {
    if (r->size() < n) return InvalidArgument(where + "tokenizer.ggml.token_type is too short");
    for (size_t i = 0; i < n; ++i) {
      int64_t t = (*r)[i];
      types[i] = t >= 0 && t <= 6 ? static_cast<SpmTokenType>(t) : SpmTokenType::kUndefined;
    }
  } else if (r.status().code() != StatusCode::kNotFound) {
    return r.status();
  }

  SpmOptions options;  // llama.cpp's defaults for an SPM vocabulary
  auto read_id = [&](std::string_view key, int32_t& id) -> Status {
    if (id >= 0 && static_cast<size_t>(id) >= n) id = -1;
    auto r = gguf.GetInt(key);
    if (!r.ok()) return r.status().code() == StatusCode::kNotFound ? OkStatus() : r.status();
    if (*r >= 0 && static_cast<uint64_t>(*r) < n) id = static_cast<int32_t>(*r);
    return OkStatus();
  };
  RETURN_IF_ERROR(read_id("tokenizer.ggml.bos_token_id", options.bos_id));
  RETURN_IF_ERROR(read_id("tokenizer.ggml.eos_token_id", options.eos_id));
  RETURN_IF_ERROR(read_id("tokenizer.ggml.unknown_token_id", options.unk_id));
  RETURN_IF_ERROR(read_id("tokenizer.ggml.padding_token_id", options.pad_id));
  RETURN_IF_ERROR(read_id("tokenizer.ggml.eot_token_id", options.eot_id));
  auto read_bool = [&](std::string_view key, bool& value) -> Status {
    auto r = gguf.GetBool(key);
    if (!r.ok()) return r.status().code() == StatusCode::kNotFound ? OkStatus() : r.status();
    value = *r;
    return OkStatus();
  };
  RETURN_IF_ERROR(read_bool("tokenizer.ggml.add_bos_token", options.add_bos));
  RETURN_IF_ERROR(read_bool("tokenizer.ggml.add_eos_token", options.add_eos));
  RETURN_IF_ERROR(read_bool("tokenizer.ggml.add_space_prefix", options.add_space_prefix));

  auto result = Create(std::move(tokens), std::move(scores), std::move(types), options);
  if (!result.ok()) return result.status().WithContext("gguf " + gguf.path());
  return result;
}

}  // namespace gantry::engine
