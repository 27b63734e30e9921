#include "rag/document_parser.h"

#include <algorithm>
#include <cctype>
#include <string>

#include <utf8proc.h>

#include "rag/parsers_internal.h"
#include "rag/text_normalize.h"

namespace gantry::rag {
namespace internal {

Status CheckSize(std::string_view bytes, const ParseOptions& options) {
  if (static_cast<int64_t>(bytes.size()) > options.max_bytes) {
    return InvalidArgument("file is " + std::to_string(bytes.size()) +
                           " bytes, over the limit of " + std::to_string(options.max_bytes));
  }
  return OkStatus();
}

Result<SourceText> PrepareText(std::string_view bytes, const ParseOptions& options) {
  RETURN_IF_ERROR(CheckSize(bytes, options));
  const bool utf16_bom = bytes.size() >= 2 && ((bytes[0] == '\xFF' && bytes[1] == '\xFE') ||
                                               (bytes[0] == '\xFE' && bytes[1] == '\xFF'));
  // UTF-16 text is full of NUL bytes; only its BOM tells it apart from binary.
  if (!utf16_bom && bytes.substr(0, 8192).find('\0') != std::string_view::npos) {
    return InvalidArgument("binary file (contains NUL bytes); not a text document");
  }
  SourceText src;
  ASSIGN_OR_RETURN(src.text, DecodeToUtf8(bytes));
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") src.base = 3;
  return src;
}

bool AddBlock(ParsedDocument& doc, BlockKind kind, std::string_view raw_text, int64_t start,
              int64_t end, bool collapse, int level, int page) {
  std::string text = NormalizeText(raw_text, collapse);
  if (!collapse) {
    // Code keeps its indentation but not the blank lines around it.
    const size_t first = text.find_first_not_of('\n');
    if (first == std::string::npos) return false;
    text.erase(0, first);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) {
      text.pop_back();
    }
  }
  if (text.find_first_not_of(" \t\n") == std::string::npos) return false;
  Block b;
  b.kind = kind;
  b.level = level;
  b.text = std::move(text);
  b.byte_start = start;
  b.byte_end = std::max(start, end);
  b.page = page;
  doc.blocks.push_back(std::move(b));
  return true;
}

std::string OneLine(std::string_view raw) {
  std::string s = NormalizeText(raw, true);
  std::replace(s.begin(), s.end(), '\n', ' ');
  return NormalizeText(s, true);
}

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t n =
        utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(&bytes[i]),
                         static_cast<utf8proc_ssize_t>(bytes.size() - i), &c);
    if (n <= 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
      continue;
    }
    out.append(bytes.substr(i, static_cast<size_t>(n)));
    i += static_cast<size_t>(n);
  }
  return out;
}

std::string StripHtmlTags(std::string_view html) {
  std::string out;
  size_t i = 0;
  while (i < html.size()) {
    if (html.compare(i, 4, "<!--") == 0) {
      const size_t end = html.find("-->", i + 4);
      i = end == std::string_view::npos ? html.size() : end + 3;
    } else if (html[i] == '<') {
      // Skip script/style bodies, not just their tags.
      for (std::string_view tag : {"script", "style"}) {
        if (html.size() - i > tag.size() + 1) {
          std::string lower(html.substr(i + 1, tag.size()));
          std::transform(lower.begin(), lower.end(), lower.begin(),
                         [](unsigned char c) { return std::tolower(c); });
          if (lower == tag) {
            std::string close = "</" + std::string(tag);
            std::string rest(html.substr(i));
            std::transform(rest.begin(), rest.end(), rest.begin(),
                           [](unsigned char c) { return std::tolower(c); });
            const size_t end = rest.find(close);
            i = end == std::string::npos ? html.size() : i + end;
            break;
          }
        }
      }
      if (i >= html.size()) break;
      const size_t end = html.find('>', i);
      i = end == std::string_view::npos ? html.size() : end + 1;
      out.push_back(' ');
    } else if (html[i] == '&') {
      static constexpr std::pair<std::string_view, std::string_view> kEntities[] = {
          {"&amp;", "&"}, {"&lt;", "<"},   {"&gt;", ">"},          {"&quot;", "\""},
          {"&#39;", "'"}, {"&apos;", "'"}, {"&nbsp;", "\xC2\xA0"},
      };
      bool matched = false;
      for (const auto& [name, value] : kEntities) {
        if (html.compare(i, name.size(), name) == 0) {
          out.append(value);
          i += name.size();
          matched = true;
          break;
        }
      }
      if (!matched) out.push_back(html[i++]);
    } else {
      out.push_back(html[i++]);
    }
  }
  return out;
}

void AddParagraphs(ParsedDocument& doc, std::string_view text, int64_t base, int page) {
  size_t para_start = std::string_view::npos, para_end = 0;
  const auto flush = [&] {
    if (para_start == std::string_view::npos) return;
    AddBlock(doc, BlockKind::kParagraph, text.substr(para_start, para_end - para_start),
             base + static_cast<int64_t>(para_start), base + static_cast<int64_t>(para_end), true,
             0, page);
    para_start = std::string_view::npos;
  };
  for (size_t pos = 0;;) {
    const size_t nl = text.find('\n', pos);
    const size_t line_end = nl == std::string_view::npos ? text.size() : nl;
    const bool blank =
        text.substr(pos, line_end - pos).find_first_not_of(" \t\r\f\v") == std::string_view::npos;
    if (blank) {
      flush();
    } else {
      if (para_start == std::string_view::npos) para_start = pos;
      para_end = line_end;
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  flush();
}

}  // namespace internal

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string FormatFromPath(std::string_view path) {
  // URL paths: the query and fragment are not part of the name.
  path = path.substr(0, path.find_first_of("?#"));
  const size_t slash = path.find_last_of("/\\");
  if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  const std::string ext = Lower(path.substr(dot + 1));
  if (ext == "txt" || ext == "text") return "txt";
  if (ext == "md" || ext == "markdown" || ext == "mdown" || ext == "mkd") return "md";
  if (ext == "html" || ext == "htm" || ext == "xhtml") return "html";
  if (ext == "pdf") return "pdf";
  if (ext == "json") return "json";
  if (ext == "jsonl" || ext == "ndjson") return "jsonl";
  return "";
}

std::string FormatFromContentType(std::string_view content_type) {
  const std::string type = Lower(Trim(content_type.substr(0, content_type.find(';'))));
  if (type == "text/plain") return "txt";
  if (type == "text/markdown" || type == "text/x-markdown") return "md";
  if (type == "text/html" || type == "application/xhtml+xml") return "html";
  if (type == "application/pdf") return "pdf";
  if (type == "application/json") return "json";
  if (type == "application/jsonl" || type == "application/x-jsonlines" ||
      type == "application/jsonlines" || type == "application/x-ndjson" ||
      type == "application/ndjson") {
    return "jsonl";
  }
  return "";
}

Result<ParsedDocument> ParseDocument(std::string_view bytes, std::string_view format,
                                     const ParseOptions& options) {
  Result<ParsedDocument> doc = ParsedDocument{};
  if (format == "pdf") {
    doc = internal::ParsePdf(bytes, options);
  } else if (format == "txt" || format == "md" || format == "html" || format == "json" ||
             format == "jsonl") {
    ASSIGN_OR_RETURN(internal::SourceText src, internal::PrepareText(bytes, options));
    if (format == "txt") {
      ParsedDocument txt;
      internal::AddParagraphs(txt, src.text, src.base);
      doc = std::move(txt);
    } else if (format == "md") {
      doc = internal::ParseMarkdown(src);
    } else if (format == "html") {
      doc = internal::ParseHtml(src);
    } else if (format == "json") {
      doc = internal::ParseJson(src);
    } else {
      doc = internal::ParseJsonl(src);
    }
  } else {
    return InvalidArgument("unsupported format \"" + std::string(format) +
                           "\"; supported: txt, md, html, pdf, json, jsonl");
  }
  if (!doc.ok()) return doc.status();
  doc->format = std::string(format);
  if (doc->blocks.empty()) return InvalidArgument("document has no text");
  return doc;
}

}  // namespace gantry::rag
