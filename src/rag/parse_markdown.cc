// Markdown via cmark (CommonMark). cmark has no GFM tables, so paragraphs that
// look like pipe tables are recognised here.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <cmark.h>

#include "rag/parsers_internal.h"
#include "rag/text_normalize.h"

namespace gantry::rag::internal {
namespace {

// Deeper nesting (">>>>>>...", lists in lists) is flattened into text, so that
// hostile input cannot exhaust the stack.
constexpr int kMaxDepth = 32;

struct NodeDeleter {
  void operator()(cmark_node* n) const { cmark_node_free(n); }
};

class MarkdownWalker {
 public:
  MarkdownWalker(const SourceText& src, ParsedDocument& doc) : src_(src), doc_(doc) {
    line_starts_.push_back(0);
    const std::string& t = src.text;
    for (size_t i = 0; i < t.size(); ++i) {
      // cmark counts \r\n, \r and \n as line ends.
      if (t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n') continue;
      if (t[i] == '\n' || t[i] == '\r') line_starts_.push_back(i + 1);
    }
  }

  void Blocks(cmark_node* parent, int depth, bool in_quote) {
    for (cmark_node* n = cmark_node_first_child(parent); n != nullptr; n = cmark_node_next(n)) {
      Block(n, depth, in_quote);
    }
  }

 private:
  void Block(cmark_node* n, int depth, bool in_quote) {
    const auto [start, end] = Span(n);
    switch (cmark_node_get_type(n)) {
      case CMARK_NODE_HEADING: {
        const std::string text = OneLine(Inline(n));
        if (in_quote) {
          AddBlock(doc_, BlockKind::kParagraph, text, start, end);
          break;
        }
        const int level = std::clamp(cmark_node_get_heading_level(n), 1, 6);
        if (AddBlock(doc_, BlockKind::kHeading, text, start, end, true, level) && level == 1 &&
            doc_.title.empty()) {
          doc_.title = doc_.blocks.back().text;
        }
        break;
      }
      case CMARK_NODE_PARAGRAPH:
        Paragraph(n, start, end);
        break;
      case CMARK_NODE_CODE_BLOCK: {
        const char* literal = cmark_node_get_literal(n);
        AddBlock(doc_, BlockKind::kCode, literal ? literal : "", start, end, false);
        break;
      }
      case CMARK_NODE_HTML_BLOCK: {
        const char* literal = cmark_node_get_literal(n);
        AddBlock(doc_, BlockKind::kParagraph, StripHtmlTags(literal ? literal : ""), start, end);
        break;
      }
      case CMARK_NODE_LIST: {
        std::string text;
        List(n, 0, depth, text);
        AddBlock(doc_, BlockKind::kList, text, start, end, false);
        break;
      }
      case CMARK_NODE_BLOCK_QUOTE:
        if (depth >= kMaxDepth) {
          AddBlock(doc_, BlockKind::kParagraph, Inline(n), start, end);
        } else {
          Blocks(n, depth + 1, true);
        }
        break;
      default:  // thematic breaks carry no text
        break;
    }
  }

  void Paragraph(cmark_node* n, int64_t start, int64_t end) {
    std::string lines_text;
    AppendInline(n, lines_text, /*softbreak=*/'\n');
    std::vector<std::string> lines;
    for (size_t pos = 0;;) {
      const size_t nl = lines_text.find('\n', pos);
      lines.push_back(lines_text.substr(pos, nl == std::string::npos ? nl : nl - pos));
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    for (size_t k = 1; k < lines.size(); ++k) {
      if (lines[k - 1].find('|') == std::string::npos || !IsDelimiterRow(lines[k])) continue;
      // Lines before the header row are an ordinary paragraph.
      std::string before;
      for (size_t i = 0; i + 1 < k; ++i) before += lines[i] + " ";
      AddBlock(doc_, BlockKind::kParagraph, before, start, start);
      std::string table;
      for (size_t i = k - 1; i < lines.size(); ++i) {
        if (i == k) continue;
        std::string row;
        for (const std::string& cell : Cells(lines[i])) {
          if (!row.empty()) row += " | ";
          row += OneLine(cell);
        }
        if (!row.empty()) table += row + "\n";
      }
      AddBlock(doc_, BlockKind::kTable, table, start, end, false);
      return;
    }
    std::string text;
    AppendInline(n, text, ' ');
    AddBlock(doc_, BlockKind::kParagraph, text, start, end);
  }

  static bool IsDelimiterRow(std::string_view line) {
    bool dash = false;
    bool pipe = false;
    for (char c : line) {
      if (c == '-') {
        dash = true;
      } else if (c == '|') {
        pipe = true;
      } else if (c != ':' && c != ' ' && c != '\t') {
        return false;
      }
    }
    return dash && pipe;
  }

  static std::vector<std::string> Cells(std::string_view line) {
    std::vector<std::string> cells;
    std::string cell;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
        cell.push_back('|');
        ++i;
      } else if (line[i] == '|') {
        cells.push_back(std::move(cell));
        cell.clear();
      } else {
        cell.push_back(line[i]);
      }
    }
    cells.push_back(std::move(cell));
    // Outer pipes leave empty first/last cells.
    const auto blank = [](const std::string& s) {
      return s.find_first_not_of(" \t") == std::string::npos;
    };
    if (!cells.empty() && blank(cells.back())) cells.pop_back();
    if (!cells.empty() && blank(cells.front())) cells.erase(cells.begin());
    return cells;
  }

  // Renders a list as "- item" / "1. item" lines, nested lists indented.
  void List(cmark_node* list, int indent, int depth, std::string& out) {
    const bool ordered = cmark_node_get_list_type(list) == CMARK_ORDERED_LIST;
    int number = std::max(0, cmark_node_get_list_start(list));
    for (cmark_node* item = cmark_node_first_child(list); item != nullptr;
         item = cmark_node_next(item)) {
      std::string line(static_cast<size_t>(indent), ' ');
      line += ordered ? std::to_string(number++) + ". " : "- ";
      std::string body;
      std::string nested;
      for (cmark_node* c = cmark_node_first_child(item); c != nullptr; c = cmark_node_next(c)) {
        if (cmark_node_get_type(c) == CMARK_NODE_LIST && depth < kMaxDepth) {
          List(c, indent + 2, depth + 1, nested);
        } else if (cmark_node_get_type(c) == CMARK_NODE_CODE_BLOCK) {
          const char* literal = cmark_node_get_literal(c);
          std::string code = NormalizeText(literal ? literal : "", false);
          while (!code.empty() && code.back() == '\n') code.pop_back();
          std::string pad(static_cast<size_t>(indent) + 2, ' ');
          nested += pad;
          for (char ch : code) {
            nested.push_back(ch);
            if (ch == '\n') nested += pad;
          }
          nested += "\n";
        } else {
          const std::string t = OneLine(Inline(c));
          if (!t.empty()) body += (body.empty() ? "" : " ") + t;
        }
      }
      out += line + body + "\n" + nested;
    }
  }

  std::string Inline(cmark_node* n) {
    std::string out;
    AppendInline(n, out, ' ');
    return out;
  }

  // All text below `n`, iteratively (cmark_iter), so depth is not a concern.
  static void AppendInline(cmark_node* n, std::string& out, char softbreak) {
    cmark_iter* it = cmark_iter_new(n);
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
      cmark_node* c = cmark_iter_get_node(it);
      const cmark_node_type type = cmark_node_get_type(c);
      if (ev == CMARK_EVENT_EXIT) {
        // Block boundaries inside flattened content must not glue words.
        if (type == CMARK_NODE_PARAGRAPH || type == CMARK_NODE_HEADING || type == CMARK_NODE_ITEM) {
          out.push_back(' ');
        }
        continue;
      }
      switch (type) {
        case CMARK_NODE_TEXT:
        case CMARK_NODE_CODE:
        case CMARK_NODE_CODE_BLOCK: {
          const char* literal = cmark_node_get_literal(c);
          if (literal) out += literal;
          break;
        }
        case CMARK_NODE_SOFTBREAK:
          out.push_back(softbreak);
          break;
        case CMARK_NODE_LINEBREAK:
          out.push_back('\n');
          break;
        default:
          break;
      }
    }
    cmark_iter_free(it);
  }

  std::pair<int64_t, int64_t> Span(cmark_node* n) const {
    const auto offset = [&](int line, int column) -> int64_t {
      if (line < 1) return 0;
      const size_t l = std::min(static_cast<size_t>(line - 1), line_starts_.size() - 1);
      const size_t off = line_starts_[l] + static_cast<size_t>(std::max(column, 0));
      return static_cast<int64_t>(std::min(off, src_.text.size()));
    };
    const int64_t start = offset(cmark_node_get_start_line(n), cmark_node_get_start_column(n) - 1);
    // end_column is inclusive.
    const int64_t end = offset(cmark_node_get_end_line(n), cmark_node_get_end_column(n));
    return {src_.base + start, src_.base + std::max(start, end)};
  }

  const SourceText& src_;
  ParsedDocument& doc_;
  std::vector<size_t> line_starts_;
};

}  // namespace

Result<ParsedDocument> ParseMarkdown(const SourceText& src) {
  std::unique_ptr<cmark_node, NodeDeleter> root(
      cmark_parse_document(src.text.data(), src.text.size(), CMARK_OPT_SOURCEPOS));
  if (!root) return InternalError("cmark could not parse the document");
  ParsedDocument doc;
  MarkdownWalker(src, doc).Blocks(root.get(), 0, false);
  return doc;
}

}  // namespace gantry::rag::internal
