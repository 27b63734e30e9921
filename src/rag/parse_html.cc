// HTML via gumbo (the HTML5 parsing algorithm, so broken markup parses the
// way browsers would). Spans come from the text nodes a block holds: element
// positions are missing for parser-inserted elements.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include <gumbo.h>

#include "rag/parsers_internal.h"

namespace gantry::rag::internal {
namespace {

// Deeper content is skipped: gumbo builds arbitrarily deep trees and the walk
// recurses.
constexpr int kMaxDepth = 256;

bool IsDropped(const GumboNode* n) {
  if (n->type == GUMBO_NODE_TEMPLATE || n->type == GUMBO_NODE_COMMENT) return true;
  if (n->type != GUMBO_NODE_ELEMENT) return false;
  switch (n->v.element.tag) {
    case GUMBO_TAG_HEAD:
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_NAV:
    case GUMBO_TAG_HEADER:
    case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_FORM:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_SVG:
    case GUMBO_TAG_MATH:
    case GUMBO_TAG_CANVAS:
    case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_EMBED:
    case GUMBO_TAG_BUTTON:
    case GUMBO_TAG_SELECT:
      return true;
    default:
      break;
  }
  const GumboVector* attrs = &n->v.element.attributes;
  if (gumbo_get_attribute(attrs, "hidden") != nullptr) return true;
  const GumboAttribute* aria = gumbo_get_attribute(attrs, "aria-hidden");
  return aria != nullptr && strcasecmp(aria->value, "true") == 0;
}

bool IsBlockLevel(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_HTML:
    case GUMBO_TAG_BODY:
    case GUMBO_TAG_P:
    case GUMBO_TAG_DIV:
    case GUMBO_TAG_SECTION:
    case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_MAIN:
    case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_LI:
    case GUMBO_TAG_DL:
    case GUMBO_TAG_DT:
    case GUMBO_TAG_DD:
    case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_ADDRESS:
    case GUMBO_TAG_DETAILS:
    case GUMBO_TAG_SUMMARY:
    case GUMBO_TAG_HR:
    case GUMBO_TAG_CENTER:
    case GUMBO_TAG_FIELDSET:
    case GUMBO_TAG_LEGEND:
    case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_TR:
    case GUMBO_TAG_TD:
    case GUMBO_TAG_TH:
    case GUMBO_TAG_H1:
    case GUMBO_TAG_H2:
    case GUMBO_TAG_H3:
    case GUMBO_TAG_H4:
    case GUMBO_TAG_H5:
    case GUMBO_TAG_H6:
    case GUMBO_TAG_PRE:
    case GUMBO_TAG_TABLE:
    case GUMBO_TAG_UL:
    case GUMBO_TAG_OL:
      return true;
    default:
      return false;
  }
}

int HeadingLevel(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_H1:
      return 1;
    case GUMBO_TAG_H2:
      return 2;
    case GUMBO_TAG_H3:
      return 3;
    case GUMBO_TAG_H4:
      return 4;
    case GUMBO_TAG_H5:
      return 5;
    case GUMBO_TAG_H6:
      return 6;
    default:
      return 0;
  }
}

// Text gathered for one block, with the source span of the text nodes in it.
struct Text {
  std::string s;
  int64_t start = -1, end = -1;

  void Append(const GumboText& t, bool keep_whitespace) {
    std::string piece(t.text);
    if (!keep_whitespace) {
      std::replace_if(
          piece.begin(), piece.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; },
          ' ');
    }
    s += piece;
    Cover(t.start_pos.offset, t.start_pos.offset + t.original_text.length);
  }
  void Cover(int64_t a, int64_t b) {
    if (start < 0 || a < start) start = a;
    end = std::max(end, b);
  }
  void Clear() { *this = Text(); }
};

class HtmlWalker {
 public:
  HtmlWalker(const SourceText& src, ParsedDocument& doc) : src_(src), doc_(doc) {}

  void Walk(const GumboNode* n, int depth) {
    if (depth > kMaxDepth || IsDropped(n)) return;
    switch (n->type) {
      case GUMBO_NODE_TEXT:
      case GUMBO_NODE_WHITESPACE:
      case GUMBO_NODE_CDATA:
        pending_.Append(n->v.text, false);
        return;
      case GUMBO_NODE_DOCUMENT:
        Children(&n->v.document.children, depth);
        return;
      case GUMBO_NODE_ELEMENT:
        break;
      default:
        return;
    }
    const GumboTag tag = n->v.element.tag;
    if (tag == GUMBO_TAG_BR) {
      pending_.s.push_back('\n');
      return;
    }
    if (!IsBlockLevel(tag)) {
      Children(&n->v.element.children, depth);
      return;
    }
    Flush();
    if (const int level = HeadingLevel(tag); level > 0) {
      Text t;
      Collect(n, t, false, depth);
      Add(BlockKind::kHeading, OneLine(t.s), t, true, level);
    } else if (tag == GUMBO_TAG_PRE) {
      Text t;
      Collect(n, t, true, depth);
      Add(BlockKind::kCode, t.s, t, false);
    } else if (tag == GUMBO_TAG_TABLE) {
      Text t;
      Rows(n, t, depth);
      Add(BlockKind::kTable, t.s, t, false);
    } else if (tag == GUMBO_TAG_UL || tag == GUMBO_TAG_OL) {
      Text t;
      List(n, 0, t, depth);
      Add(BlockKind::kList, t.s, t, false);
    } else {
      Children(&n->v.element.children, depth);
      Flush();
    }
  }

  void Flush() {
    Add(BlockKind::kParagraph, pending_.s, pending_, true);
    pending_.Clear();
  }

 private:
  void Children(const GumboVector* children, int depth) {
    for (unsigned i = 0; i < children->length; ++i) {
      Walk(static_cast<const GumboNode*>(children->data[i]), depth + 1);
    }
  }

  void Add(BlockKind kind, const std::string& text, const Text& span, bool collapse,
           int level = 0) {
    if (span.start < 0) return;
    AddBlock(doc_, kind, text, src_.base + span.start, src_.base + span.end, collapse, level);
  }

  // All text below `n`; block boundaries become spaces (newlines in <pre>).
  void Collect(const GumboNode* n, Text& out, bool pre, int depth) {
    if (depth > kMaxDepth || IsDropped(n)) return;
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE ||
        n->type == GUMBO_NODE_CDATA) {
      out.Append(n->v.text, pre);
      return;
    }
    if (n->type != GUMBO_NODE_ELEMENT) return;
    if (n->v.element.tag == GUMBO_TAG_BR) {
      out.s.push_back('\n');
      return;
    }
    const bool block = IsBlockLevel(n->v.element.tag);
    if (block && !out.s.empty()) out.s.push_back(pre ? '\n' : ' ');
    const GumboVector* children = &n->v.element.children;
    for (unsigned i = 0; i < children->length; ++i) {
      Collect(static_cast<const GumboNode*>(children->data[i]), out, pre, depth + 1);
    }
    if (block) out.s.push_back(pre ? '\n' : ' ');
  }

  // "cell | cell" lines for the rows of this table (not of tables nested in cells).
  void Rows(const GumboNode* n, Text& out, int depth) {
    if (depth > kMaxDepth || IsDropped(n) || n->type != GUMBO_NODE_ELEMENT) return;
    const GumboVector* children = &n->v.element.children;
    if (n->v.element.tag == GUMBO_TAG_TR) {
      std::string row;
      for (unsigned i = 0; i < children->length; ++i) {
        const auto* cell = static_cast<const GumboNode*>(children->data[i]);
        if (cell->type != GUMBO_NODE_ELEMENT || IsDropped(cell) ||
            (cell->v.element.tag != GUMBO_TAG_TD && cell->v.element.tag != GUMBO_TAG_TH)) {
          continue;
        }
        Text t;
        Collect(cell, t, false, depth + 1);
        if (t.start >= 0) out.Cover(t.start, t.end);
        if (i > 0 && !row.empty()) row += " | ";
        row += OneLine(t.s);
      }
      if (row.find_first_not_of(" |") != std::string::npos) out.s += row + "\n";
      return;
    }
    for (unsigned i = 0; i < children->length; ++i) {
      const auto* c = static_cast<const GumboNode*>(children->data[i]);
      if (c->type == GUMBO_NODE_ELEMENT && c->v.element.tag == GUMBO_TAG_CAPTION) {
        Text t;
        Collect(c, t, false, depth + 1);
        if (t.start >= 0) out.Cover(t.start, t.end);
        out.s += OneLine(t.s) + "\n";
      } else if (c->type == GUMBO_NODE_ELEMENT && c->v.element.tag != GUMBO_TAG_TABLE) {
        Rows(c, out, depth + 1);
      }
    }
  }

  // "- item" / "1. item" lines, nested lists indented.
  void List(const GumboNode* n, int indent, Text& out, int depth) {
    if (depth > kMaxDepth) return;
    const bool ordered = n->v.element.tag == GUMBO_TAG_OL;
    int number = 1;
    const GumboVector* items = &n->v.element.children;
    for (unsigned i = 0; i < items->length; ++i) {
      const auto* item = static_cast<const GumboNode*>(items->data[i]);
      if (item->type != GUMBO_NODE_ELEMENT || IsDropped(item)) continue;
      Text body;
      Text nested;
      const GumboVector* children = &item->v.element.children;
      for (unsigned k = 0; k < children->length; ++k) {
        const auto* c = static_cast<const GumboNode*>(children->data[k]);
        if (c->type == GUMBO_NODE_ELEMENT && !IsDropped(c) &&
            (c->v.element.tag == GUMBO_TAG_UL || c->v.element.tag == GUMBO_TAG_OL)) {
          List(c, indent + 2, nested, depth + 2);
        } else {
          Collect(c, body, false, depth + 2);
        }
      }
      const std::string text = OneLine(body.s);
      if (text.empty() && nested.s.empty()) continue;
      out.s += std::string(static_cast<size_t>(indent), ' ') +
               (ordered ? std::to_string(number++) + ". " : "- ") + text + "\n" + nested.s;
      if (body.start >= 0) out.Cover(body.start, body.end);
      if (nested.start >= 0) out.Cover(nested.start, nested.end);
    }
  }

  const SourceText& src_;
  ParsedDocument& doc_;
  Text pending_;
};

const GumboNode* FindTag(const GumboNode* n, GumboTag tag, int depth) {
  if (depth > kMaxDepth || n->type != GUMBO_NODE_ELEMENT) return nullptr;
  if (n->v.element.tag == tag) return n;
  const GumboVector* children = &n->v.element.children;
  for (unsigned i = 0; i < children->length; ++i) {
    if (const GumboNode* found =
            FindTag(static_cast<const GumboNode*>(children->data[i]), tag, depth + 1)) {
      return found;
    }
  }
  return nullptr;
}

std::string TextOf(const GumboNode* n, int depth) {
  if (depth > kMaxDepth) return "";
  if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_CDATA) return n->v.text.text;
  if (n->type != GUMBO_NODE_ELEMENT) return " ";
  std::string out;
  const GumboVector* children = &n->v.element.children;
  for (unsigned i = 0; i < children->length; ++i) {
    out += TextOf(static_cast<const GumboNode*>(children->data[i]), depth + 1);
  }
  return out;
}

struct OutputDeleter {
  void operator()(GumboOutput* out) const { gumbo_destroy_output(&kGumboDefaultOptions, out); }
};

}  // namespace

Result<ParsedDocument> ParseHtml(const SourceText& src) {
  GumboOptions options = kGumboDefaultOptions;
  options.max_errors = 100;  // we never read parse errors; do not hoard them
  std::unique_ptr<GumboOutput, OutputDeleter> out(
      gumbo_parse_with_options(&options, src.text.data(), src.text.size()));
  if (!out) return InternalError("gumbo could not parse the document");
  ParsedDocument doc;
  HtmlWalker walker(src, doc);
  walker.Walk(out->document, 0);
  walker.Flush();
  if (const GumboNode* title = FindTag(out->root, GUMBO_TAG_TITLE, 0)) {
    doc.title = OneLine(TextOf(title, 0));
  }
  if (doc.title.empty()) {
    for (const Block& b : doc.blocks) {
      if (b.kind == BlockKind::kHeading && b.level == 1) {
        doc.title = b.text;
        break;
      }
    }
  }
  return doc;
}

}  // namespace gantry::rag::internal
