#include "server/multipart.h"

#include <algorithm>
#include <cctype>

namespace gantry::server {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The value of `param` in a header such as `form-data; name="f"; filename="a.txt"`.
std::optional<std::string> Param(std::string_view header, std::string_view param) {
  size_t pos = 0;
  while (pos < header.size()) {
    // The next ';' outside a quoted string (filename="a;b.txt" is one item).
    size_t semi = pos;
    for (bool quoted = false; semi < header.size(); ++semi) {
      const char c = header[semi];
      if (quoted && c == '\\') {
        ++semi;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == ';' && !quoted) {
        break;
      }
    }
    if (semi >= header.size()) semi = std::string_view::npos;
    std::string_view item = Trim(
        header.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos));
    pos = semi == std::string_view::npos ? header.size() : semi + 1;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    if (Lower(Trim(item.substr(0, eq))) != param) continue;
    std::string_view v = Trim(item.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
      std::string out;
      for (size_t i = 1; i + 1 < v.size(); ++i) {
        if (v[i] == '\\' && i + 2 < v.size()) ++i;
        out += v[i];
      }
      return out;
    }
    return std::string(v);
  }
  return std::nullopt;
}

}  // namespace

Result<std::string> MultipartBoundary(std::string_view content_type) {
  if (Lower(Trim(content_type.substr(0, content_type.find(';')))) != "multipart/form-data")
    return InvalidArgument("expected Content-Type multipart/form-data or application/json");
  auto b = Param(content_type, "boundary");
  if (!b || b->empty() || b->size() > 200)
    return InvalidArgument("multipart/form-data Content-Type has no valid boundary parameter");
  return *b;
}

Result<std::vector<FormPart>> ParseMultipart(std::string_view body, std::string_view boundary) {
  const std::string delim = "--" + std::string(boundary);
  std::vector<FormPart> parts;
  size_t pos = body.find(delim);
  if (pos == std::string_view::npos)
    return InvalidArgument("multipart body does not contain its boundary");
  pos += delim.size();
  const std::string next_delim = "\r\n" + delim;
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // closing boundary
    if (body.substr(pos, 2) != "\r\n")
      return InvalidArgument("multipart boundary is not followed by CRLF");
    pos += 2;
    size_t headers_end = body.find("\r\n\r\n", pos);
    // A part with no headers starts directly with the blank line.
    if (body.substr(pos, 2) == "\r\n") headers_end = pos - 2;
    if (headers_end == std::string_view::npos)
      return InvalidArgument("multipart part " + std::to_string(parts.size() + 1) +
                             " has no end of headers");
    FormPart part;
    std::string_view headers =
        headers_end >= pos ? body.substr(pos, headers_end - pos) : std::string_view();
    size_t hp = 0;
    while (hp < headers.size()) {
      size_t eol = headers.find("\r\n", hp);
      std::string_view line =
          headers.substr(hp, eol == std::string_view::npos ? headers.size() - hp : eol - hp);
      hp = eol == std::string_view::npos ? headers.size() : eol + 2;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string name = Lower(Trim(line.substr(0, colon)));
      std::string_view value = Trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        part.name = Param(value, "name").value_or("");
        part.filename = Param(value, "filename");
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    const size_t body_start = headers_end + 4;
    const size_t end = body.find(next_delim, body_start);
    if (end == std::string_view::npos)
      return InvalidArgument("multipart part " + std::to_string(parts.size() + 1) +
                             " has no closing boundary (the upload may be truncated)");
    part.body = std::string(body.substr(body_start, end - body_start));
    parts.push_back(std::move(part));
    pos = end + next_delim.size();
  }
}

}  // namespace gantry::server
