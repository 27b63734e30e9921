// /v1/collections: create, list, get and delete collections; upload, list and
// delete documents; search. Tenancy comes from the request context; the RAG
// service applies it (and document ACLs) inside every read.
#include <nlohmann/json.hpp>

#include "core/ids.h"
#include "rag/document_parser.h"
#include "server/errors.h"
#include "server/handlers.h"
#include "server/multipart.h"

namespace gantry::server {
namespace {

using Json = nlohmann::json;
constexpr std::string_view kPrefix = "/v1/collections/";

Result<Json> ParseJsonBody(const Request& req) {
  Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object())
    return InvalidArgument("the request body must be a JSON object");
  return body;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
        return InvalidArgument("bad percent-encoding in the URL path");
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string QueryParam(const std::string& query, const std::string& key) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string item = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    size_t eq = item.find('=');
    if (item.substr(0, eq) == key && eq != std::string::npos) {
      auto v = PercentDecode(item.substr(eq + 1));
      return v.ok() ? *v : "";
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return "";
}

// "name", "name/documents", "name/documents/<id>", "name/search".
struct CollectionPath {
  std::string name;
  std::string sub;     // "", "documents", "search"
  std::string doc_id;  // percent-decoded
};

Result<CollectionPath> SplitPath(const std::string& path) {
  std::string_view rest = std::string_view(path).substr(kPrefix.size());
  CollectionPath p;
  size_t slash = rest.find('/');
  ASSIGN_OR_RETURN(p.name, PercentDecode(rest.substr(0, slash)));
  if (slash == std::string_view::npos) return p;
  rest.remove_prefix(slash + 1);
  slash = rest.find('/');
  p.sub = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) {
    ASSIGN_OR_RETURN(p.doc_id, PercentDecode(rest.substr(slash + 1)));
  }
  return p;
}

Json CollectionJson(const store::CollectionRecord& c) {
  return {{"id", c.name},
          {"object", "collection"},
          {"name", c.name},
          {"created_at", c.created_at},
          {"config", Json::parse(c.config_json, nullptr, false)},
          {"document_count", c.document_count},
          {"chunk_count", c.chunk_count}};
}

Json DocumentJson(const store::DocumentRecord& d) {
  return {{"doc_id", d.doc_id},
          {"object", "document"},
          {"source", d.source},
          {"title", d.title},
          {"format", d.format},
          {"version", d.version},
          {"content_hash", d.content_hash},
          {"ingested_at", d.ingested_at},
          {"bytes", d.bytes},
          {"chunks", d.chunk_count},
          {"metadata", Json::parse(d.metadata_json, nullptr, false)},
          {"acl", d.acl}};
}

Json HitJson(const rag::SearchHit& h) {
  const auto& c = h.chunk;
  Json span = {{"byte_start", c.chunk.byte_start}, {"byte_end", c.chunk.byte_end}};
  if (c.chunk.page_start > 0) {
    span["page_start"] = c.chunk.page_start;
    span["page_end"] = c.chunk.page_end;
  }
  Json scores = Json::object();
  if (h.lexical) scores["lexical"] = *h.lexical;
  if (h.dense) scores["dense"] = *h.dense;
  if (h.rerank) scores["rerank"] = *h.rerank;
  return {{"object", "search.result"},
          {"chunk_id", c.chunk.id},
          {"collection", h.collection},
          {"doc_id", c.doc_id},
          {"text", c.chunk.text},
          {"score", h.score},
          {"scores", std::move(scores)},
          {"source", c.source},
          {"title", c.title},
          {"version", c.version},
          {"ingested_at", c.ingested_at},
          {"heading_path", c.chunk.heading_path},
          {"span", std::move(span)},
          {"metadata", Json::parse(c.metadata_json, nullptr, false)}};
}

Result<rag::RagService*> Rag(Services& s) {
  rag::RagService* r = s.gateway->rag();
  if (!r) return FailedPrecondition("retrieval is not enabled on this gantry (no embedding model)");
  return r;
}

// One uploaded document from JSON: {"source", "doc_id", "text" | "content_base64",
// "format", "title", "metadata", "acl"}.
Result<rag::IngestInput> InputFromJson(const Json& d) {
  if (!d.is_object()) return InvalidArgument("each document must be a JSON object");
  rag::IngestInput in;
  auto str = [&](const char* key, std::string* out) -> Status {
    auto it = d.find(key);
    if (it == d.end() || it->is_null()) return OkStatus();
    if (!it->is_string()) return InvalidArgument(std::string(key) + " must be a string");
    *out = it->get<std::string>();
    return OkStatus();
  };
  RETURN_IF_ERROR(str("source", &in.source));
  RETURN_IF_ERROR(str("doc_id", &in.doc_id));
  RETURN_IF_ERROR(str("format", &in.format));
  RETURN_IF_ERROR(str("title", &in.title));
  std::string text, b64;
  RETURN_IF_ERROR(str("text", &text));
  RETURN_IF_ERROR(str("content_base64", &b64));
  if (!text.empty() && !b64.empty())
    return InvalidArgument("give either text or content_base64, not both");
  if (!b64.empty()) {
    ASSIGN_OR_RETURN(in.bytes, Base64Decode(b64));
  } else {
    in.bytes = std::move(text);
  }
  if (in.bytes.empty())
    return InvalidArgument("the document is empty (give text or content_base64)");
  if (in.format.empty() && in.source.empty()) in.format = "txt";
  if (auto it = d.find("metadata"); it != d.end() && !it->is_null()) {
    if (!it->is_object()) return InvalidArgument("metadata must be an object");
    in.metadata = *it;
  }
  if (auto it = d.find("acl"); it != d.end() && !it->is_null()) {
    if (!it->is_array()) return InvalidArgument("acl must be a list of principals");
    for (const auto& p : *it) {
      if (!p.is_string()) return InvalidArgument("acl must be a list of strings");
      in.acl.push_back(p.get<std::string>());
    }
  }
  return in;
}

// Documents of a multipart upload: every part with a filename is a file; the
// optional fields "metadata" (JSON object) and "acl" (JSON list) apply to all.
Result<std::vector<rag::IngestInput>> InputsFromMultipart(const Request& req,
                                                          const std::string& content_type) {
  ASSIGN_OR_RETURN(auto boundary, MultipartBoundary(content_type));
  ASSIGN_OR_RETURN(auto parts, ParseMultipart(req.body, boundary));
  Json metadata = Json::object();
  std::vector<std::string> acl;
  for (const auto& p : parts) {
    if (p.filename) continue;
    if (p.name == "metadata") {
      metadata = Json::parse(p.body, nullptr, false);
      if (!metadata.is_object()) return InvalidArgument("the metadata field must be a JSON object");
    } else if (p.name == "acl") {
      Json a = Json::parse(p.body, nullptr, false);
      if (!a.is_array()) return InvalidArgument("the acl field must be a JSON list of strings");
      for (const auto& x : a) {
        if (!x.is_string()) return InvalidArgument("the acl field must be a JSON list of strings");
        acl.push_back(x.get<std::string>());
      }
    }
  }
  std::vector<rag::IngestInput> out;
  for (auto& p : parts) {
    if (!p.filename) continue;
    rag::IngestInput in;
    in.source = *p.filename;
    in.bytes = std::move(p.body);
    in.format = rag::FormatFromPath(in.source);
    if (in.format.empty()) in.format = rag::FormatFromContentType(p.content_type);
    in.metadata = metadata;
    in.acl = acl;
    out.push_back(std::move(in));
  }
  if (out.empty()) return InvalidArgument("the multipart upload has no file parts");
  return out;
}

Awaitable<Response> Ingest(Services& s, Request& req, rag::RagService& rag,
                           const std::string& collection) {
  std::vector<rag::IngestInput> inputs;
  const std::string content_type = req.Header("content-type").value_or("");
  if (content_type.rfind("multipart/", 0) == 0) {
    auto r = InputsFromMultipart(req, content_type);
    if (!r.ok()) co_return ErrorResponse(r.status());
    inputs = std::move(*r);
  } else {
    auto body = ParseJsonBody(req);
    if (!body.ok()) co_return ErrorResponse(body.status());
    if (auto docs = body->find("documents"); docs != body->end()) {
      if (!docs->is_array() || docs->empty())
        co_return ErrorResponse(InvalidArgument("documents must be a non-empty list"));
      for (size_t i = 0; i < docs->size(); ++i) {
        auto in = InputFromJson((*docs)[i]);
        if (!in.ok())
          co_return ErrorResponse(in.status().WithContext("documents[" + std::to_string(i) + "]"));
        inputs.push_back(std::move(*in));
      }
    } else {
      auto in = InputFromJson(*body);
      if (!in.ok()) co_return ErrorResponse(in.status());
      inputs.push_back(std::move(*in));
    }
  }
  Json data = Json::array();
  Json summary = {{"added", 0}, {"updated", 0}, {"unchanged", 0}, {"failed", 0}, {"chunks", 0}};
  Status only_error;
  for (auto& in : inputs) {
    const std::string source = in.source;
    auto r = co_await rag.Ingest(req.ctx, collection, std::move(in));
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kCancelled ||
          r.status().code() == StatusCode::kDeadlineExceeded)
        co_return ErrorResponse(r.status());
      only_error = r.status();
      summary["failed"] = summary["failed"].get<int>() + 1;
      data.push_back({{"source", source},
                      {"status", "error"},
                      {"error",
                       {{"message", r.status().message()},
                        {"code", std::string(StatusCodeName(r.status().code()))}}}});
      continue;
    }
    const char* action = rag::IngestActionName(r->action);
    summary[action] = summary[action].get<int>() + 1;
    if (r->action != rag::IngestOutcome::Action::kUnchanged)
      summary["chunks"] = summary["chunks"].get<int64_t>() + r->document.chunk_count;
    Json d = DocumentJson(r->document);
    d["status"] = action;
    data.push_back(std::move(d));
  }
  // A single document that failed answers with its error; a batch reports per document.
  if (inputs.size() == 1 && !only_error.ok()) co_return ErrorResponse(only_error);
  (void)s;
  co_return Response::Json(
      200,
      Json{{"object", "list"}, {"data", std::move(data)}, {"summary", std::move(summary)}}.dump());
}

Awaitable<Response> Search(Request& req, rag::RagService& rag, const std::string& collection) {
  auto body = ParseJsonBody(req);
  if (!body.ok()) co_return ErrorResponse(body.status());
  rag::SearchRequest sr;
  auto q = body->find("query");
  if (q == body->end() || !q->is_string())
    co_return ErrorResponse(InvalidArgument("query must be a string"));
  sr.query = q->get<std::string>();
  if (auto k = body->find("k"); k != body->end() && !k->is_null()) {
    if (!k->is_number_integer()) co_return ErrorResponse(InvalidArgument("k must be an integer"));
    sr.k = static_cast<int>(std::clamp<int64_t>(k->get<int64_t>(), -1, 1000));
  }
  if (auto m = body->find("mode"); m != body->end() && !m->is_null()) {
    if (!m->is_string()) co_return ErrorResponse(InvalidArgument("mode must be a string"));
    auto mode = rag::ParseSearchMode(m->get<std::string>());
    if (!mode.ok()) co_return ErrorResponse(mode.status());
    sr.mode = *mode;
  }
  if (auto f = body->find("filter"); f != body->end()) {
    auto filter = store::MetadataFilter::Parse(*f);
    if (!filter.ok()) co_return ErrorResponse(filter.status());
    sr.filter = std::move(*filter);
  }
  if (auto m = body->find("mmr"); m != body->end() && !m->is_null()) {
    if (!m->is_boolean()) co_return ErrorResponse(InvalidArgument("mmr must be true or false"));
    sr.mmr = m->get<bool>();
  }
  if (auto l = body->find("mmr_lambda"); l != body->end() && !l->is_null()) {
    if (!l->is_number()) co_return ErrorResponse(InvalidArgument("mmr_lambda must be a number"));
    sr.mmr_lambda = l->get<double>();
  }
  if (auto r = body->find("rerank"); r != body->end() && !r->is_null()) {
    if (!r->is_boolean()) co_return ErrorResponse(InvalidArgument("rerank must be true or false"));
    sr.rerank = r->get<bool>();
  }
  const std::vector<std::string> collections = {collection};
  auto hits = co_await rag.Search(req.ctx, collections, std::move(sr));
  if (!hits.ok()) co_return ErrorResponse(hits.status());
  Json data = Json::array();
  for (const auto& h : *hits) data.push_back(HitJson(h));
  co_return Response::Json(200, Json{{"object", "list"}, {"data", std::move(data)}}.dump());
}

}  // namespace

Awaitable<Response> HandleCreateCollection(Services& s, Request& req) {
  auto rag = Rag(s);
  if (!rag.ok()) co_return ErrorResponse(rag.status());
  auto body = ParseJsonBody(req);
  if (!body.ok()) co_return ErrorResponse(body.status());
  auto name = body->find("name");
  if (name == body->end() || !name->is_string())
    co_return ErrorResponse(InvalidArgument("name must be a string"));
  Json config = body->contains("config") ? (*body)["config"] : Json(nullptr);
  auto c = co_await (*rag)->CreateCollection(req.ctx, name->get<std::string>(), config);
  if (!c.ok()) co_return ErrorResponse(c.status());
  co_return Response::Json(200, CollectionJson(*c).dump());
}

Awaitable<Response> HandleListCollections(Services& s, Request& req) {
  auto rag = Rag(s);
  if (!rag.ok()) co_return ErrorResponse(rag.status());
  auto list = co_await (*rag)->ListCollections(req.ctx);
  if (!list.ok()) co_return ErrorResponse(list.status());
  Json data = Json::array();
  for (const auto& c : *list) data.push_back(CollectionJson(c));
  co_return Response::Json(200, Json{{"object", "list"}, {"data", std::move(data)}}.dump());
}

Awaitable<Response> HandleCollectionGet(Services& s, Request& req) {
  auto rag = Rag(s);
  if (!rag.ok()) co_return ErrorResponse(rag.status());
  auto p = SplitPath(req.path);
  if (!p.ok()) co_return ErrorResponse(p.status());
  if (p->sub.empty()) {
    auto c = co_await (*rag)->GetCollection(req.ctx, p->name);
    if (!c.ok()) co_return ErrorResponse(c.status());
    co_return Response::Json(200, CollectionJson(*c).dump());
  }
  if (p->sub == "documents" && p->doc_id.empty()) {
    const std::string limit_s = QueryParam(req.query, "limit");
    int limit = 100;
    if (!limit_s.empty()) {
      try {
        limit = std::stoi(limit_s);
      } catch (const std::exception&) {
        co_return ErrorResponse(InvalidArgument("limit must be an integer"));
      }
    }
    auto docs =
        co_await (*rag)->ListDocuments(req.ctx, p->name, QueryParam(req.query, "after"), limit);
    if (!docs.ok()) co_return ErrorResponse(docs.status());
    Json data = Json::array();
    for (const auto& d : *docs) data.push_back(DocumentJson(d));
    co_return Response::Json(200, Json{{"object", "list"}, {"data", std::move(data)}}.dump());
  }
  co_return ErrorResponse(NotFound("no such resource: " + req.path));
}

Awaitable<Response> HandleCollectionPost(Services& s, Request& req) {
  auto rag = Rag(s);
  if (!rag.ok()) co_return ErrorResponse(rag.status());
  auto p = SplitPath(req.path);
  if (!p.ok()) co_return ErrorResponse(p.status());
  if (p->sub == "documents" && p->doc_id.empty()) co_return co_await Ingest(s, req, **rag, p->name);
  if (p->sub == "search" && p->doc_id.empty()) co_return co_await Search(req, **rag, p->name);
  co_return ErrorResponse(NotFound("no such resource: POST " + req.path));
}

Awaitable<Response> HandleCollectionDelete(Services& s, Request& req) {
  auto rag = Rag(s);
  if (!rag.ok()) co_return ErrorResponse(rag.status());
  auto p = SplitPath(req.path);
  if (!p.ok()) co_return ErrorResponse(p.status());
  if (p->sub.empty()) {
    Status st = co_await (*rag)->DeleteCollection(req.ctx, p->name);
    if (!st.ok()) co_return ErrorResponse(st);
    co_return Response::Json(
        200, Json{{"id", p->name}, {"object", "collection.deleted"}, {"deleted", true}}.dump());
  }
  if (p->sub == "documents" && !p->doc_id.empty()) {
    Status st = co_await (*rag)->DeleteDocument(req.ctx, p->name, p->doc_id);
    if (!st.ok()) co_return ErrorResponse(st);
    co_return Response::Json(
        200, Json{{"doc_id", p->doc_id}, {"object", "document.deleted"}, {"deleted", true}}.dump());
  }
  co_return ErrorResponse(NotFound("no such resource: DELETE " + req.path));
}

}  // namespace gantry::server
