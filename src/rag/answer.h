// Grounded answers: the `rag` extension of a chat request, context assembly
// within a token budget, numbered sources, and citation checking (whole texts
// and streams).
//
// The model is told to answer only from the numbered sources and cite them as
// [n]. Afterwards every [n] is checked: a citation of a source that was not
// given is removed from the text and reported. When retrieval finds nothing
// above the relevance floor, the answer is kDontKnowAnswer and no model is
// called.
//
// Thread safety: functions are pure; a CitationFilter is used by one stream.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "providers/chat_types.h"
#include "rag/chunker.h"
#include "rag/rag_service.h"

namespace gantry::rag {

inline constexpr std::string_view kDontKnowAnswer =
    "I don't know. The documents I can search do not contain the answer to this question.";

// The `rag` object of a chat request:
//   {"collections": ["docs"], "k": 5, "mode": "hybrid", "filter": {...},
//    "mmr": false, "min_similarity": 0.25, "max_context_tokens": 1500}
struct RagOptions {
  std::vector<std::string> collections;
  SearchRequest search;          // query filled from the last user message
  double min_similarity = 0.25;  // dense cosine floor for a source to count as relevant
  int max_context_tokens = 1500;
  // kInvalidArgument naming the field (e.g. "rag.k must be in 1..100").
  static Result<RagOptions> Parse(const nlohmann::json& j);
};

struct Source {
  int number = 0;  // 1-based, as cited
  SearchHit hit;
};

// Keeps the hits that clear the relevance floor (dense similarity when known,
// else a lexical match) and fit in `max_context_tokens` (by `count`), numbered
// in rank order.
std::vector<Source> SelectSources(std::vector<SearchHit> hits, const RagOptions& options,
                                  const TokenCounter& count);

// The system message that carries the instructions and the numbered sources.
std::string GroundingPrompt(const std::vector<Source>& sources);
// `messages` with the grounding prompt inserted before the first non-system
// message (after any system messages the client sent).
std::vector<providers::ChatMessage> GroundMessages(std::vector<providers::ChatMessage> messages,
                                                   const std::vector<Source>& sources);

struct CitationReport {
  std::vector<int> cited;    // valid source numbers, in first-citation order
  std::vector<int> invalid;  // numbers cited that were not given (removed)
};

// Removes citations of sources outside 1..n from `text` (a group such as
// [1, 7] becomes [1]; [7] disappears) and reports what was cited.
std::string CheckCitations(std::string_view text, int n, CitationReport* report);

// The same, on a stream, with output identical to CheckCitations on the whole
// text: Push returns the text that is safe to emit now (a possible citation,
// the space before it and the character after it are held back until settled);
// Finish returns the rest.
class CitationFilter {
 public:
  explicit CitationFilter(int n) : n_(n) {}
  std::string Push(std::string_view delta);
  std::string Finish();
  const CitationReport& report() const { return report_; }

 private:
  int n_;
  std::string pending_;  // held back: a possible citation and the space before it
  CitationReport report_;
};

// The question a RAG request retrieves for: the text of the last user message.
Result<std::string> RetrievalQuery(const std::vector<providers::ChatMessage>& messages);

// The `rag` object returned with the response: sources (number, id, title,
// path, span, snippet, score), citations, invalid citations, grounded flag.
nlohmann::json RagReportJson(const std::vector<Source>& sources, const CitationReport& report,
                             bool grounded);

}  // namespace gantry::rag
