// JSON and JSON Lines via nlohmann::ordered_json (source order is kept, so the
// blocks follow the file). nlohmann gives no positions; a string's span is
// found by searching for its JSON encoding after the previous one, and is
// empty (at that point) when the file spells it differently (\u escapes).
#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "rag/parsers_internal.h"

namespace gantry::rag::internal {
namespace {

using Json = nlohmann::ordered_json;

// nlohmann parses iteratively but our walk recurses; a hostile "[[[[..." must
// not exhaust the stack.
constexpr int kMaxDepth = 128;

// `jsonl_line`: the line of a JSON Lines file `text` came from; 0 for JSON.
Status CheckDepth(std::string_view text, int jsonl_line) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) {
        return InvalidArgument(
            "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels" +
            (jsonl_line > 0 ? " on line " + std::to_string(jsonl_line) : std::string()));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return OkStatus();
}

Status SyntaxError(const nlohmann::json::parse_error& e, std::string_view text, int jsonl_line) {
  // e.byte is 1-based and may point one past the end.
  const size_t byte = std::min(e.byte == 0 ? 0 : e.byte - 1, text.size());
  const std::string_view before = text.substr(0, byte);
  const size_t line = jsonl_line > 0
                          ? static_cast<size_t>(jsonl_line)
                          : 1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
  const size_t last_nl = before.rfind('\n');
  const size_t column = last_nl == std::string_view::npos ? byte + 1 : byte - last_nl;
  std::string detail = e.what();
  // what(): "[json.exception.parse_error.101] parse error at line 1, column 2: <detail>"
  if (const size_t col = detail.find("column "); col != std::string::npos) {
    if (const size_t colon = detail.find(": ", col); colon != std::string::npos) {
      detail = detail.substr(colon + 2);
    }
  }
  return InvalidArgument("invalid JSON at line " + std::to_string(line) + ", column " +
                         std::to_string(column) + ": " + detail);
}

class JsonWalker {
 public:
  // `window`: the source text searched for spans; `base`: its offset in the file.
  JsonWalker(ParsedDocument& doc, std::string_view window, int64_t base, int level)
      : doc_(doc), window_(window), base_(base), level_(level) {}

  void Walk(const Json& root) {
    Locate(root);
    Walk(root, "");
  }

 private:
  // Finds the spans of all scalars, in source order.
  void Locate(const Json& v) {
    if (v.is_structured()) {
      for (const Json& child : v) Locate(child);
    } else if (v.is_string()) {
      spans_[&v] = Find(v.dump(-1, ' ', false, Json::error_handler_t::replace));
    } else if (!v.is_null()) {
      spans_[&v] = Find(v.dump());
    }
  }

  // The root's own values come first: a root value after a nested object
  // would otherwise land under that object's heading.
  void Walk(const Json& v, const std::string& path) {
    const bool is_object = v.is_object();
    if (!is_object && !v.is_array()) {
      Scalar(v, "", path);
      FlushScalars();
      return;
    }
    for (int pass = path.empty() ? 0 : 1; pass < 2; ++pass) {
      size_t index = 0;
      for (auto it = v.begin(); it != v.end(); ++it, ++index) {
        const std::string key = is_object ? it.key() : "";
        if (it->is_structured()) {
          if (pass == 0) continue;
          FlushScalars();
          Walk(*it, is_object ? (path.empty() ? key : path + "." + key)
                              : path + "[" + std::to_string(index) + "]");
        } else if (pass == 0 || !path.empty()) {
          Scalar(*it, key, path);
        }
      }
      FlushScalars();
    }
  }

  void Scalar(const Json& v, const std::string& key, const std::string& section) {
    if (v.is_null()) return;
    if (v.is_string() && v.get_ref<const std::string&>().empty()) return;
    if (!section_open_ || section != section_) {
      FlushScalars();
      section_ = section;
      section_open_ = true;
      heading_pending_ = !section.empty();
    }
    const std::string label = key.empty() ? "" : key + ": ";
    if (v.is_string()) {
      FlushScalars();
      const auto [start, end] = SpanOf(v);
      Heading(start);
      AddBlock(doc_, BlockKind::kParagraph, label + v.get<std::string>(), start, end);
    } else {
      const auto [start, end] = SpanOf(v);
      if (scalars_.empty()) scalars_start_ = start;
      scalars_end_ = end;
      scalars_ += label + v.dump() + "\n";
    }
  }

  void FlushScalars() {
    if (scalars_.empty()) return;
    Heading(scalars_start_);
    AddBlock(doc_, BlockKind::kParagraph, scalars_, scalars_start_, scalars_end_);
    scalars_.clear();
  }

  void Heading(int64_t at) {
    if (!heading_pending_) return;
    heading_pending_ = false;
    AddBlock(doc_, BlockKind::kHeading, section_, at, at, true, level_);
  }

  std::pair<int64_t, int64_t> SpanOf(const Json& v) const {
    const auto it = spans_.find(&v);
    return it == spans_.end() ? std::pair<int64_t, int64_t>{base_, base_} : it->second;
  }

  std::pair<int64_t, int64_t> Find(const std::string& encoded) {
    const size_t pos = window_.find(encoded, cursor_);
    if (pos == std::string_view::npos) return {base_ + cursor_, base_ + cursor_};
    cursor_ = pos + encoded.size();
    return {base_ + static_cast<int64_t>(pos), base_ + static_cast<int64_t>(cursor_)};
  }

  ParsedDocument& doc_;
  std::string_view window_;
  int64_t base_;
  int level_;
  size_t cursor_ = 0;
  std::string section_;
  bool section_open_ = false;
  bool heading_pending_ = false;
  std::string scalars_;  // "key: value" lines of numbers and booleans
  int64_t scalars_start_ = 0, scalars_end_ = 0;
  std::unordered_map<const Json*, std::pair<int64_t, int64_t>> spans_;
};

Result<Json> Parse(std::string_view text, int jsonl_line) {
  RETURN_IF_ERROR(CheckDepth(text, jsonl_line));
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    return SyntaxError(e, text, jsonl_line);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace

Result<ParsedDocument> ParseJson(const SourceText& src) {
  ASSIGN_OR_RETURN(Json root, Parse(src.text, 0));
  ParsedDocument doc;
  if (root.is_object() && root.contains("title") && root["title"].is_string()) {
    doc.title = OneLine(root["title"].get<std::string>());
  }
  JsonWalker(doc, src.text, src.base, 1).Walk(root);
  return doc;
}

Result<ParsedDocument> ParseJsonl(const SourceText& src) {
  ParsedDocument doc;
  const std::string_view text = src.text;
  int line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    ++line_no;
    const int64_t start = src.base + static_cast<int64_t>(pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    ASSIGN_OR_RETURN(Json value, Parse(line, line_no));
    const size_t before = doc.blocks.size();
    AddBlock(doc, BlockKind::kHeading, "line " + std::to_string(line_no), start,
             start + static_cast<int64_t>(line.size()), true, 1);
    JsonWalker(doc, line, start, 2).Walk(value);
    // A line without text leaves no orphan heading.
    if (doc.blocks.size() == before + 1) doc.blocks.pop_back();
  }
  return doc;
}

}  // namespace gantry::rag::internal
