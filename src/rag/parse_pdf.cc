// PDF via poppler-cpp. Spans are offsets into the concatenated extracted text
// (see document_parser.h); pages carry the real location.
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include "rag/parsers_internal.h"

namespace gantry::rag::internal {
namespace {

void SilencePoppler() {
  // poppler reports every syntax problem of a damaged file on stderr; the
  // caller gets one Status instead.
  static std::once_flag once;
  std::call_once(
      once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

std::string ToUtf8(const poppler::ustring& s) {
  const poppler::byte_array bytes = s.to_utf8();
  return SanitizeUtf8(std::string_view(bytes.data(), bytes.size()));
}

Result<ParsedDocument> ParsePdfUnchecked(std::string_view bytes) {
  SilencePoppler();
  if (bytes.find("%PDF-") > 1024) {
    return InvalidArgument("not a PDF file (no %PDF- header); the file is corrupt or mislabeled");
  }
  std::unique_ptr<poppler::document> pdf(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!pdf) return InvalidArgument("corrupt PDF: poppler could not open it (damaged or truncated)");
  if (pdf->is_locked()) {
    return InvalidArgument("PDF is encrypted (password protected); remove the password first");
  }
  ParsedDocument doc;
  doc.page_count = pdf->pages();
  doc.title = OneLine(ToUtf8(pdf->get_title()));
  int64_t offset = 0;
  for (int i = 0; i < doc.page_count; ++i) {
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    if (!page) continue;
    const std::string text = ToUtf8(page->text());
    AddParagraphs(doc, text, offset, i + 1);
    offset += static_cast<int64_t>(text.size()) + 1;  // + the '\f' page separator
  }
  if (doc.blocks.empty()) {
    return InvalidArgument("PDF has no extractable text (scanned images need OCR)");
  }
  return doc;
}

}  // namespace

Result<ParsedDocument> ParsePdf(std::string_view bytes, const ParseOptions& options) {
  RETURN_IF_ERROR(CheckSize(bytes, options));
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
    return InvalidArgument("PDF is too large to parse (over 2 GiB)");
  }
  // poppler-cpp reports failures by return values, but allocation failures on
  // hostile files still throw; nothing may escape.
  try {
    return ParsePdfUnchecked(bytes);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("corrupt PDF: ") + e.what());
  } catch (...) {
    return InvalidArgument("corrupt PDF: poppler failed to read it");
  }
}

}  // namespace gantry::rag::internal
