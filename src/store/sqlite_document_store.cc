#include "store/sqlite_document_store.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

namespace gantry::store {
namespace {

using json = nlohmann::json;

// The porter stemmer wraps unicode61 so "running" finds "run"; diacritics are
// folded so "cafe" finds "café". External content: the text lives once, in
// chunks; triggers keep the index in step inside the writing transaction
// (including deletes cascaded from documents and collections).
const Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE collections(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  config_json TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  vector_seq INTEGER NOT NULL DEFAULT 0, vector_pruned_seq INTEGER NOT NULL DEFAULT 0,
  UNIQUE(tenant, name));
CREATE TABLE documents(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  doc_id TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '',
  content_hash TEXT NOT NULL DEFAULT '', format TEXT NOT NULL DEFAULT '',
  version INTEGER NOT NULL, ingested_at INTEGER NOT NULL, bytes INTEGER NOT NULL DEFAULT 0,
  metadata_json TEXT NOT NULL DEFAULT '{}', acl_json TEXT NOT NULL DEFAULT '[]',
  chunk_count INTEGER NOT NULL DEFAULT 0,
  UNIQUE(collection_id, doc_id));
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  text TEXT NOT NULL,
  heading_path_json TEXT NOT NULL DEFAULT '[]',
  byte_start INTEGER NOT NULL DEFAULT 0, byte_end INTEGER NOT NULL DEFAULT 0,
  page_start INTEGER NOT NULL DEFAULT 0, page_end INTEGER NOT NULL DEFAULT 0,
  token_count INTEGER NOT NULL DEFAULT 0,
  embedding BLOB);
CREATE INDEX chunks_by_document ON chunks(document_id, ordinal);
CREATE INDEX chunks_by_collection ON chunks(collection_id, id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
  text, heading_path_json, content='chunks', content_rowid='id',
  tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text, heading_path_json)
  VALUES (new.id, new.text, new.heading_path_json);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path_json)
  VALUES ('delete', old.id, old.text, old.heading_path_json);
END;
CREATE TRIGGER chunks_fts_update AFTER UPDATE OF text, heading_path_json ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path_json)
  VALUES ('delete', old.id, old.text, old.heading_path_json);
  INSERT INTO chunks_fts(rowid, text, heading_path_json)
  VALUES (new.id, new.text, new.heading_path_json);
END;
CREATE TABLE vector_changes(
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  chunk_id INTEGER NOT NULL,
  added INTEGER NOT NULL,
  PRIMARY KEY(collection_id, seq, chunk_id)) WITHOUT ROWID;
)sql"},
};

constexpr size_t kMaxIdleReaders = 4;
constexpr int kMaxListLimit = 10000;
constexpr int kMaxSearchK = 1000;
constexpr size_t kMaxQueryTerms = 64;
constexpr size_t kMaxTermBytes = 128;

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool ValidCollectionName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

Status CheckTenantAndName(const std::string& tenant, const std::string& name) {
  if (tenant.empty()) return InvalidArgument("tenant is empty");
  if (!ValidCollectionName(name)) {
    return InvalidArgument("collection name must match [A-Za-z0-9_.-]{1,64}");
  }
  return OkStatus();
}

// Parses `text` as a JSON object and re-serializes it, so stored JSON is
// canonical (no duplicate keys, which json_each would otherwise expose).
Result<std::string> CanonicalObject(const std::string& text, std::string_view what) {
  if (text.empty()) return std::string("{}");
  try {
    const json j = json::parse(text);
    if (!j.is_object()) return InvalidArgument(std::string(what) + ": must be a JSON object");
    return j.dump();
  } catch (const json::exception& e) {
    return InvalidArgument(std::string(what) + ": " + e.what());
  }
}

Result<std::string> StringArrayJson(const std::vector<std::string>& items, std::string_view what) {
  try {
    return json(items).dump();
  } catch (const json::exception& e) {  // invalid UTF-8
    return InvalidArgument(std::string(what) + ": " + e.what());
  }
}

Result<std::vector<std::string>> ParseStringArray(const std::string& text, std::string_view what) {
  try {
    const json j = json::parse(text);
    if (j.is_array()) return j.get<std::vector<std::string>>();
  } catch (const json::exception&) {
  }
  return InternalError(std::string(what) + ": stored value is not a JSON string array");
}

std::vector<uint8_t> EncodeEmbedding(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  for (size_t i = 0; i < v.size(); ++i) {
    const auto bits = std::bit_cast<uint32_t>(v[i]);
    for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<uint8_t>(bits >> (8 * b));
  }
  return out;
}

Result<std::vector<float>> DecodeEmbedding(const std::vector<uint8_t>& blob, int64_t chunk_id) {
  if (blob.size() % 4 != 0) {
    return InternalError("chunk " + std::to_string(chunk_id) + ": embedding blob has " +
                         std::to_string(blob.size()) + " bytes, not a multiple of 4");
  }
  std::vector<float> out(blob.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    uint32_t bits = 0;
    for (int b = 0; b < 4; ++b) bits |= static_cast<uint32_t>(blob[4 * i + b]) << (8 * b);
    out[i] = std::bit_cast<float>(bits);
  }
  return out;
}

// ------------------------------------------------------------ SQL building

using Param = std::variant<int64_t, double, std::string>;

// SQL text with its positional parameters, appended together so the order of
// `?` and of the values cannot drift apart.
struct Sql {
  std::string text;
  std::vector<Param> params;

  Sql& Add(std::string_view s) {
    text += s;
    return *this;
  }
  Sql& Bind(Param p) {
    text += '?';
    params.push_back(std::move(p));
    return *this;
  }
};

Result<Statement> Prepare(Database& db, const Sql& sql) {
  ASSIGN_OR_RETURN(Statement stmt, db.Prepare(sql.text));
  for (size_t i = 0; i < sql.params.size(); ++i) {
    const int index = static_cast<int>(i) + 1;
    std::visit([&](const auto& v) { stmt.Bind(index, v); }, sql.params[i]);
  }
  return stmt;
}

// Runs `sql`, turning each row into a T with `read` (returning Result<T>).
template <typename T, typename Fn>
Result<std::vector<T>> QueryAll(Database& db, const Sql& sql, Fn&& read) {
  ASSIGN_OR_RETURN(Statement s, Prepare(db, sql));
  std::vector<T> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    ASSIGN_OR_RETURN(T v, read(s));
    out.push_back(std::move(v));
  }
}

Param NumberParam(const json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(u);
    }
    return static_cast<double>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return v.get<double>();
}

// `alias` is a json_each row: true when it is a scalar equal to one of `values`
// (same kinds as MetadataFilter::Matches: numbers by value, strings, booleans).
void AnyOf(std::string_view alias, const std::vector<const json*>& values, Sql& out) {
  std::vector<const json*> strings, numbers;
  bool want_true = false, want_false = false;
  for (const json* v : values) {
    if (v->is_string()) strings.push_back(v);
    if (v->is_number()) numbers.push_back(v);
    if (v->is_boolean()) (v->get<bool>() ? want_true : want_false) = true;
  }
  const std::string a(alias);
  out.Add("(0");
  if (!strings.empty()) {
    out.Add(" OR (" + a + ".type = 'text' AND " + a + ".atom IN (");
    for (size_t i = 0; i < strings.size(); ++i) {
      if (i > 0) out.Add(", ");
      out.Bind(strings[i]->get<std::string>());
    }
    out.Add("))");
  }
  if (!numbers.empty()) {
    out.Add(" OR (" + a + ".type IN ('integer', 'real') AND " + a + ".atom IN (");
    for (size_t i = 0; i < numbers.size(); ++i) {
      if (i > 0) out.Add(", ");
      out.Bind(NumberParam(*numbers[i]));
    }
    out.Add("))");
  }
  if (want_true) out.Add(" OR " + a + ".type = 'true'");
  if (want_false) out.Add(" OR " + a + ".type = 'false'");
  out.Add(")");
}

std::string_view CompareOp(MetadataFilter::Op op) {
  switch (op) {
    case MetadataFilter::Op::kGt:
      return " > ";
    case MetadataFilter::Op::kGte:
      return " >= ";
    case MetadataFilter::Op::kLt:
      return " < ";
    case MetadataFilter::Op::kLte:
      return " <= ";
    default:
      return " = ";
  }
}

// Reserved keys are string columns; Parse admits only strings for them.
Status CompileColumn(const MetadataFilter& f, std::string_view column, Sql& out) {
  using Op = MetadataFilter::Op;
  const bool list = f.op == Op::kIn || f.op == Op::kNin;
  const bool strings =
      list ? f.value.is_array() && std::all_of(f.value.begin(), f.value.end(),
                                               [](const json& v) { return v.is_string(); })
           : f.value.is_string();
  if (!strings) return InvalidArgument("filter." + f.key + ": needs strings");
  if (f.op == Op::kPrefix && f.key != "source") {
    return InvalidArgument("filter." + f.key + ": $prefix applies only to source");
  }
  const std::string col(column);
  if (f.op == Op::kPrefix) {
    // instr() = 1 is "starts with" without LIKE's wildcards; instr(x, '') is 1.
    out.Add("instr(" + col + ", ").Bind(f.value.get<std::string>()).Add(") = 1");
  } else if (list) {
    // SQLite accepts an empty list: IN () is false, NOT IN () is true.
    out.Add(col + (f.op == Op::kIn ? " IN (" : " NOT IN ("));
    for (size_t i = 0; i < f.value.size(); ++i) {
      if (i > 0) out.Add(", ");
      out.Bind(f.value[i].get<std::string>());
    }
    out.Add(")");
  } else {
    out.Add(col).Add(f.op == Op::kNe ? " <> " : CompareOp(f.op)).Bind(f.value.get<std::string>());
  }
  return OkStatus();
}

// Metadata fields are matched through json_each with the key bound as a
// value, so no key ever becomes part of a JSON path or of the SQL text.
Status CompileField(const MetadataFilter& f, Sql& out) {
  using Op = MetadataFilter::Op;
  const std::string path = "filter." + f.key;
  const bool negate = f.op == Op::kNe || f.op == Op::kNin;
  out.Add(negate ? "NOT EXISTS" : "EXISTS");
  out.Add(" (SELECT 1 FROM json_each(d.metadata_json) je WHERE je.key = ").Bind(f.key).Add(" AND ");
  switch (f.op) {
    case Op::kEq:
    case Op::kNe:
      if (!f.value.is_string() && !f.value.is_number() && !f.value.is_boolean()) {
        return InvalidArgument(path + ": must be a string, number or boolean");
      }
      AnyOf("je", {&f.value}, out);
      break;
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte:
      if (f.value.is_string()) {
        out.Add("je.type = 'text' AND je.atom")
            .Add(CompareOp(f.op))
            .Bind(f.value.get<std::string>());
      } else if (f.value.is_number()) {
        out.Add("je.type IN ('integer', 'real') AND je.atom")
            .Add(CompareOp(f.op))
            .Bind(NumberParam(f.value));
      } else {
        return InvalidArgument(path + ": must be a number or string");
      }
      break;
    case Op::kIn:
    case Op::kNin: {
      if (!f.value.is_array()) return InvalidArgument(path + ": must be an array");
      std::vector<const json*> values;
      for (const json& v : f.value) {
        if (!v.is_string() && !v.is_number() && !v.is_boolean()) {
          return InvalidArgument(path + ": values must be strings, numbers or booleans");
        }
        values.push_back(&v);
      }
      out.Add("(");
      AnyOf("je", values, out);
      out.Add(" OR (je.type = 'array' AND EXISTS (SELECT 1 FROM json_each(je.value) ja WHERE ");
      AnyOf("ja", values, out);
      out.Add(")))");
      break;
    }
    case Op::kPrefix:
      return InvalidArgument(path + ": $prefix applies only to source");
    case Op::kAnd:
    case Op::kOr:
      return InternalError(path + ": not a comparison");
  }
  out.Add(")");
  return OkStatus();
}

Status CompileFilter(const MetadataFilter& f, Sql& out, int depth) {
  using Op = MetadataFilter::Op;
  if (depth > 64) return InvalidArgument("filter: nested too deeply");
  if (f.op == Op::kAnd || f.op == Op::kOr) {
    if (f.children.empty()) {
      out.Add(f.op == Op::kAnd ? "1" : "0");
      return OkStatus();
    }
    out.Add("(");
    for (size_t i = 0; i < f.children.size(); ++i) {
      if (i > 0) out.Add(f.op == Op::kAnd ? " AND " : " OR ");
      RETURN_IF_ERROR(CompileFilter(f.children[i], out, depth + 1));
    }
    out.Add(")");
    return OkStatus();
  }
  if (f.key.empty()) return InvalidArgument("filter: empty field name");
  if (f.key == "source") return CompileColumn(f, "d.source", out);
  if (f.key == "doc_id") return CompileColumn(f, "d.doc_id", out);
  if (f.key == "title") return CompileColumn(f, "d.title", out);
  return CompileField(f, out);
}

// The chunk columns every ChunkView read selects, in ReadChunkView's order.
constexpr std::string_view kChunkColumns =
    "c.id, c.document_id, c.ordinal, c.text, c.heading_path_json, c.byte_start, c.byte_end, "
    "c.page_start, c.page_end, c.token_count, d.doc_id, d.source, d.title, d.version, "
    "d.ingested_at, d.metadata_json";
constexpr int kChunkColumnCount = 16;

constexpr std::string_view kVisibleFrom =
    " FROM chunks c JOIN documents d ON d.id = c.document_id"
    " JOIN collections col ON col.id = c.collection_id";

constexpr std::string_view kVisibleDocumentsFrom =
    " FROM documents d JOIN collections col ON col.id = d.collection_id";

// Tenant, collection, ACL and metadata filter of a document row `d` joined
// with its collection `col`. The filter only reads document columns, so a
// query that scans many chunks checks it once per document by starting from
// the visible documents.
Status AppendDocumentAccess(const AccessScope& scope, Sql& sql) {
  sql.Add("d.collection_id = ").Bind(scope.collection_id);
  sql.Add(" AND col.tenant = ").Bind(scope.tenant);
  if (!scope.all_documents) {
    sql.Add(" AND (d.acl_json = '[]'");
    if (!scope.principals.empty()) {
      ASSIGN_OR_RETURN(std::string principals, StringArrayJson(scope.principals, "principals"));
      sql.Add(
             " OR EXISTS (SELECT 1 FROM json_each(d.acl_json) acl WHERE acl.value IN"
             " (SELECT value FROM json_each(")
          .Bind(std::move(principals))
          .Add(")))");
    }
    sql.Add(")");
  }
  if (!scope.filter.empty()) {
    sql.Add(" AND ");
    RETURN_IF_ERROR(CompileFilter(scope.filter, sql, 0));
  }
  return OkStatus();
}

// The access check that every chunk-returning read carries in its WHERE
// clause (over kVisibleFrom).
Status AppendAccess(const AccessScope& scope, Sql& sql) {
  sql.Add("c.collection_id = ").Bind(scope.collection_id).Add(" AND ");
  return AppendDocumentAccess(scope, sql);
}

Result<ChunkView> ReadChunkView(const Statement& s) {
  ChunkView v;
  v.chunk.id = s.Int(0);
  v.chunk.document_id = s.Int(1);
  v.chunk.ordinal = static_cast<int>(s.Int(2));
  v.chunk.text = s.Text(3);
  ASSIGN_OR_RETURN(v.chunk.heading_path,
                   ParseStringArray(s.Text(4), "chunk " + std::to_string(v.chunk.id)));
  v.chunk.byte_start = s.Int(5);
  v.chunk.byte_end = s.Int(6);
  v.chunk.page_start = static_cast<int>(s.Int(7));
  v.chunk.page_end = static_cast<int>(s.Int(8));
  v.chunk.token_count = static_cast<int>(s.Int(9));
  v.doc_id = s.Text(10);
  v.source = s.Text(11);
  v.title = s.Text(12);
  v.version = s.Int(13);
  v.ingested_at = s.Int(14);
  v.metadata_json = s.Text(15);
  return v;
}

// ------------------------------------------------------- rows and records

constexpr std::string_view kCollectionSelect =
    "SELECT col.id, col.tenant, col.name, col.config_json, col.created_at, col.vector_seq,"
    " (SELECT count(*) FROM documents d WHERE d.collection_id = col.id),"
    " (SELECT coalesce(sum(d.chunk_count), 0) FROM documents d WHERE d.collection_id = col.id)"
    " FROM collections col";

Result<CollectionRecord> ReadCollection(const Statement& s) {
  CollectionRecord c;
  c.id = s.Int(0);
  c.tenant = s.Text(1);
  c.name = s.Text(2);
  c.config_json = s.Text(3);
  c.created_at = s.Int(4);
  c.vector_seq = s.Int(5);
  c.document_count = s.Int(6);
  c.chunk_count = s.Int(7);
  return c;
}

Result<std::vector<CollectionRecord>> QueryCollections(Database& db, const Sql& sql) {
  return QueryAll<CollectionRecord>(db, sql, ReadCollection);
}

constexpr std::string_view kDocumentSelect =
    "SELECT id, collection_id, doc_id, source, title, content_hash, format, version,"
    " ingested_at, bytes, metadata_json, acl_json, chunk_count FROM documents";

Result<DocumentRecord> ReadDocument(const Statement& s) {
  DocumentRecord d;
  d.id = s.Int(0);
  d.collection_id = s.Int(1);
  d.doc_id = s.Text(2);
  d.source = s.Text(3);
  d.title = s.Text(4);
  d.content_hash = s.Text(5);
  d.format = s.Text(6);
  d.version = s.Int(7);
  d.ingested_at = s.Int(8);
  d.bytes = s.Int(9);
  d.metadata_json = s.Text(10);
  ASSIGN_OR_RETURN(d.acl,
                   ParseStringArray(s.Text(11), "document " + std::to_string(d.id) + " acl"));
  d.chunk_count = s.Int(12);
  return d;
}

Status ValidateChunk(size_t i, const ChunkRecord& c) {
  const std::string at = "chunk " + std::to_string(i) + ": ";
  if (c.byte_start < 0 || c.byte_end < c.byte_start) return InvalidArgument(at + "bad byte span");
  if (c.page_start < 0 || c.page_end < c.page_start) return InvalidArgument(at + "bad page span");
  if (c.token_count < 0) return InvalidArgument(at + "negative token_count");
  for (float x : c.embedding) {
    if (!std::isfinite(x)) return InvalidArgument(at + "embedding has a non-finite value");
  }
  return OkStatus();
}

// Appends removal and addition records at `seq` to the vector change log.
Status LogVectorChanges(Database& db, int64_t collection_id, int64_t seq,
                        const std::vector<int64_t>& removed, const std::vector<int64_t>& added) {
  ASSIGN_OR_RETURN(Statement log,
                   db.Prepare("INSERT INTO vector_changes(collection_id, seq, chunk_id, added)"
                              " VALUES (?, ?, ?, ?)"));
  for (int flag = 0; flag < 2; ++flag) {
    for (int64_t id : flag == 0 ? removed : added) {
      log.Reset();
      log.Bind(1, collection_id).Bind(2, seq).Bind(3, id).Bind(4, static_cast<int64_t>(flag));
      RETURN_IF_ERROR(log.Run());
    }
  }
  ASSIGN_OR_RETURN(Statement bump,
                   db.Prepare("UPDATE collections SET vector_seq = ? WHERE id = ?"));
  bump.Bind(1, seq).Bind(2, collection_id);
  return bump.Run();
}

Result<std::vector<int64_t>> ChunkIdsOf(Database& db, int64_t document_row) {
  Sql sql;
  sql.Add("SELECT id FROM chunks WHERE document_id = ").Bind(document_row).Add(" ORDER BY id");
  return QueryAll<int64_t>(db, sql, [](const Statement& s) -> Result<int64_t> { return s.Int(0); });
}

using EmbeddingRows = std::vector<std::pair<int64_t, std::vector<float>>>;

// Chunks without an embedding are skipped: they have no place in a dense index.
Result<EmbeddingRows> ReadEmbeddings(Database& db, const Sql& sql) {
  return QueryAll<EmbeddingRows::value_type>(
      db, sql, [](const Statement& s) -> Result<EmbeddingRows::value_type> {
        ASSIGN_OR_RETURN(std::vector<float> e, DecodeEmbedding(s.Blob(1), s.Int(0)));
        return std::make_pair(s.Int(0), std::move(e));
      });
}

// ------------------------------------------------------------ query terms

// Code points that separate words beyond ASCII: Latin-1 punctuation, general
// punctuation, arrows and symbols, CJK and fullwidth punctuation, emoji.
bool IsSeparator(uint32_t cp) {
  if (cp >= 0x80 && cp <= 0xBF) return cp != 0xAA && cp != 0xB5 && cp != 0xBA;
  if (cp == 0xD7 || cp == 0xF7) return true;
  if (cp >= 0x2000 && cp <= 0x206F) return true;
  if (cp >= 0x2190 && cp <= 0x2BFF) return true;
  if (cp >= 0x3000 && cp <= 0x303F) return cp < 0x3005 || cp > 0x3007;
  if (cp >= 0xFE10 && cp <= 0xFE4F) return true;
  if (cp >= 0xFF01 && cp <= 0xFF0F) return true;
  if ((cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40)) return true;
  if (cp >= 0xFF5B && cp <= 0xFF65) return true;
  if (cp >= 0x1F000 && cp <= 0x1FAFF) return true;
  return false;
}

// Decodes one UTF-8 sequence at `s[i]`; returns its length, 0 when invalid.
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
    return 0;
  }
  return len;
}

// User text → distinct lowercase terms. Only letters and digits survive, so
// no FTS5 syntax (quotes, *, -, parentheses, column filters) reaches MATCH.
std::vector<std::string> QueryTerms(std::string_view text) {
  std::vector<std::string> terms;
  std::set<std::string> seen;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty() && cur.size() <= kMaxTermBytes && terms.size() < kMaxQueryTerms &&
        seen.insert(cur).second) {
      terms.push_back(cur);
    }
    cur.clear();
  };
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      if ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z')) {
        cur += static_cast<char>(b);
      } else if (b >= 'A' && b <= 'Z') {
        cur += static_cast<char>(b - 'A' + 'a');
      } else {
        flush();
      }
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t len = DecodeUtf8(text, i, cp);
    if (len == 0 || IsSeparator(cp)) {
      flush();
      i += len == 0 ? 1 : len;
      continue;
    }
    cur.append(text.substr(i, len));
    i += len;
  }
  flush();
  return terms;
}

}  // namespace

// ------------------------------------------------------------------ store

Result<std::unique_ptr<DocumentStore>> OpenSqliteDocumentStore(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDocumentStore> store, SqliteDocumentStore::Open(path));
  return std::unique_ptr<DocumentStore>(std::move(store));
}

Result<std::unique_ptr<SqliteDocumentStore>> SqliteDocumentStore::Open(const std::string& path) {
  Database::Options options;
  options.path = path;
  ASSIGN_OR_RETURN(std::unique_ptr<Database> writer, Database::Open(options));
  RETURN_IF_ERROR(writer->Migrate(kMigrations));
  return std::unique_ptr<SqliteDocumentStore>(new SqliteDocumentStore(path, std::move(writer)));
}

SqliteDocumentStore::SqliteDocumentStore(std::string path, std::unique_ptr<Database> writer)
    : path_(std::move(path)), shared_connection_(path_ == ":memory:"), writer_(std::move(writer)) {}

SqliteDocumentStore::~SqliteDocumentStore() = default;

template <typename T, typename Fn>
Result<T> SqliteDocumentStore::WithWriter(Fn&& fn) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return fn(*writer_);
}

template <typename T, typename Fn>
Result<T> SqliteDocumentStore::WithReader(Fn&& fn) {
  if (shared_connection_) return WithWriter<T>(std::forward<Fn>(fn));
  std::unique_ptr<Database> db;
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!idle_readers_.empty()) {
      db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (db == nullptr) {
    Database::Options options;
    options.path = path_;
    options.read_only = true;
    ASSIGN_OR_RETURN(db, Database::Open(options));
  }
  Result<T> result = fn(*db);
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(db));
  return result;
}

Status SqliteDocumentStore::WriteTransaction(const std::function<Status(Database&)>& fn) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return writer_->Transaction([&] { return fn(*writer_); });
}

Result<CollectionRecord> SqliteDocumentStore::CreateCollection(const std::string& tenant,
                                                               const std::string& name,
                                                               const std::string& config_json) {
  RETURN_IF_ERROR(CheckTenantAndName(tenant, name));
  ASSIGN_OR_RETURN(std::string config, CanonicalObject(config_json, "config_json"));
  std::lock_guard<std::mutex> lock(write_mu_);
  Database& db = *writer_;
  RETURN_IF_ERROR(db.Transaction([&]() -> Status {
    ASSIGN_OR_RETURN(Statement s, db.Prepare("INSERT INTO collections(tenant, name, config_json,"
                                             " created_at) VALUES (?, ?, ?, ?)"
                                             " ON CONFLICT(tenant, name) DO NOTHING"));
    s.Bind(1, tenant).Bind(2, name).Bind(3, config).Bind(4, NowUnix());
    return s.Run();
  }));
  Sql sql;
  sql.Add(kCollectionSelect).Add(" WHERE col.tenant = ").Bind(tenant);
  sql.Add(" AND col.name = ").Bind(name);
  ASSIGN_OR_RETURN(std::vector<CollectionRecord> found, QueryCollections(db, sql));
  if (found.empty()) return InternalError("collection vanished after create");
  return found.front();
}

Result<CollectionRecord> SqliteDocumentStore::GetCollection(const std::string& tenant,
                                                            const std::string& name) {
  RETURN_IF_ERROR(CheckTenantAndName(tenant, name));
  Sql sql;
  sql.Add(kCollectionSelect).Add(" WHERE col.tenant = ").Bind(tenant);
  sql.Add(" AND col.name = ").Bind(name);
  ASSIGN_OR_RETURN(auto found, WithReader<std::vector<CollectionRecord>>(
                                   [&](Database& db) { return QueryCollections(db, sql); }));
  if (found.empty()) return NotFound("collection " + name + " not found");
  return found.front();
}

Result<std::vector<CollectionRecord>> SqliteDocumentStore::ListCollections(
    const std::string& tenant) {
  Sql sql;
  sql.Add(kCollectionSelect).Add(" WHERE col.tenant = ").Bind(tenant).Add(" ORDER BY col.name");
  return WithReader<std::vector<CollectionRecord>>(
      [&](Database& db) { return QueryCollections(db, sql); });
}

Result<std::vector<CollectionRecord>> SqliteDocumentStore::AllCollections() {
  Sql sql;
  sql.Add(kCollectionSelect).Add(" ORDER BY col.id");
  return WithReader<std::vector<CollectionRecord>>(
      [&](Database& db) { return QueryCollections(db, sql); });
}

Status SqliteDocumentStore::DeleteCollection(const std::string& tenant, const std::string& name) {
  RETURN_IF_ERROR(CheckTenantAndName(tenant, name));
  // Documents, chunks, their FTS rows and change log go by cascade and
  // trigger, in this one transaction.
  return WriteTransaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(Statement s,
                     db.Prepare("DELETE FROM collections WHERE tenant = ? AND name = ?"));
    s.Bind(1, tenant).Bind(2, name);
    RETURN_IF_ERROR(s.Run());
    if (db.Changes() == 0) return NotFound("collection " + name + " not found");
    return OkStatus();
  });
}

Result<std::optional<DocumentRecord>> SqliteDocumentStore::GetDocument(int64_t collection_id,
                                                                       const std::string& doc_id) {
  Sql sql;
  sql.Add(kDocumentSelect).Add(" WHERE collection_id = ").Bind(collection_id);
  sql.Add(" AND doc_id = ").Bind(doc_id);
  ASSIGN_OR_RETURN(auto found, WithReader<std::vector<DocumentRecord>>([&](Database& db) {
                     return QueryAll<DocumentRecord>(db, sql, ReadDocument);
                   }));
  if (found.empty()) return std::optional<DocumentRecord>();
  return std::optional<DocumentRecord>(std::move(found.front()));
}

Result<std::vector<DocumentRecord>> SqliteDocumentStore::ListDocuments(
    int64_t collection_id, const std::string& after_doc_id, int limit) {
  if (limit <= 0) return std::vector<DocumentRecord>();
  limit = std::min(limit, kMaxListLimit);
  Sql sql;
  sql.Add(kDocumentSelect).Add(" WHERE collection_id = ").Bind(collection_id);
  sql.Add(" AND doc_id > ").Bind(after_doc_id).Add(" ORDER BY doc_id LIMIT ");
  sql.Bind(static_cast<int64_t>(limit));
  return WithReader<std::vector<DocumentRecord>>(
      [&](Database& db) { return QueryAll<DocumentRecord>(db, sql, ReadDocument); });
}

Result<DocumentRecord> SqliteDocumentStore::ReplaceDocument(int64_t collection_id,
                                                            DocumentRecord doc,
                                                            std::vector<ChunkRecord>& chunks) {
  if (doc.doc_id.empty()) return InvalidArgument("doc_id is empty");
  if (doc.bytes < 0) return InvalidArgument("bytes is negative");
  ASSIGN_OR_RETURN(doc.metadata_json, CanonicalObject(doc.metadata_json, "metadata_json"));
  for (const std::string& p : doc.acl) {
    if (p.empty()) return InvalidArgument("acl has an empty principal");
  }
  ASSIGN_OR_RETURN(std::string acl_json, StringArrayJson(doc.acl, "acl"));
  std::vector<std::string> headings(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    RETURN_IF_ERROR(ValidateChunk(i, chunks[i]));
    ASSIGN_OR_RETURN(headings[i], StringArrayJson(chunks[i].heading_path,
                                                  "chunk " + std::to_string(i) + " heading_path"));
  }
  doc.collection_id = collection_id;
  doc.chunk_count = static_cast<int64_t>(chunks.size());
  if (doc.ingested_at == 0) doc.ingested_at = NowUnix();

  std::vector<int64_t> added;
  Status st = WriteTransaction([&](Database& db) -> Status {
    added.clear();
    ASSIGN_OR_RETURN(Statement col, db.Prepare("SELECT vector_seq FROM collections WHERE id = ?"));
    col.Bind(1, collection_id);
    ASSIGN_OR_RETURN(bool exists, col.Step());
    if (!exists) return NotFound("collection " + std::to_string(collection_id) + " not found");
    const int64_t seq = col.Int(0);

    ASSIGN_OR_RETURN(Statement old, db.Prepare("SELECT id, version FROM documents"
                                               " WHERE collection_id = ? AND doc_id = ?"));
    old.Bind(1, collection_id).Bind(2, doc.doc_id);
    ASSIGN_OR_RETURN(bool had_old, old.Step());
    std::vector<int64_t> removed;
    doc.version = 1;
    if (had_old) {
      const int64_t old_row = old.Int(0);
      doc.version = old.Int(1) + 1;
      ASSIGN_OR_RETURN(removed, ChunkIdsOf(db, old_row));
      ASSIGN_OR_RETURN(Statement del, db.Prepare("DELETE FROM documents WHERE id = ?"));
      del.Bind(1, old_row);
      RETURN_IF_ERROR(del.Run());
    }

    // One embedding space per collection: the dimension of what remains
    // (read inside the transaction) binds the new chunks.
    ASSIGN_OR_RETURN(Statement dim, db.Prepare("SELECT length(embedding) FROM chunks"
                                               " WHERE collection_id = ? AND length(embedding) > 0"
                                               " LIMIT 1"));
    dim.Bind(1, collection_id);
    ASSIGN_OR_RETURN(bool has_dim, dim.Step());
    std::optional<size_t> dims;
    if (has_dim) dims = static_cast<size_t>(dim.Int(0)) / 4;

    ASSIGN_OR_RETURN(
        Statement ins,
        db.Prepare("INSERT INTO documents(collection_id, doc_id, source, title,"
                   " content_hash, format, version, ingested_at, bytes, metadata_json,"
                   " acl_json, chunk_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins.Bind(1, collection_id).Bind(2, doc.doc_id).Bind(3, doc.source).Bind(4, doc.title);
    ins.Bind(5, doc.content_hash).Bind(6, doc.format).Bind(7, doc.version);
    ins.Bind(8, doc.ingested_at).Bind(9, doc.bytes).Bind(10, doc.metadata_json);
    ins.Bind(11, acl_json).Bind(12, doc.chunk_count);
    RETURN_IF_ERROR(ins.Run());
    doc.id = db.LastInsertRowId();

    ASSIGN_OR_RETURN(
        Statement chunk,
        db.Prepare("INSERT INTO chunks(document_id, collection_id, ordinal, text,"
                   " heading_path_json, byte_start, byte_end, page_start, page_end,"
                   " token_count, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    for (size_t i = 0; i < chunks.size(); ++i) {
      const ChunkRecord& c = chunks[i];
      if (!c.embedding.empty()) {
        if (dims && *dims != c.embedding.size()) {
          return InvalidArgument("chunk " + std::to_string(i) + ": embedding has " +
                                 std::to_string(c.embedding.size()) +
                                 " dimensions, collection uses " + std::to_string(*dims));
        }
        dims = c.embedding.size();
      }
      chunk.Reset();
      chunk.Bind(1, doc.id).Bind(2, collection_id).Bind(3, static_cast<int64_t>(c.ordinal));
      chunk.Bind(4, c.text).Bind(5, headings[i]).Bind(6, c.byte_start).Bind(7, c.byte_end);
      chunk.Bind(8, static_cast<int64_t>(c.page_start)).Bind(9, static_cast<int64_t>(c.page_end));
      chunk.Bind(10, static_cast<int64_t>(c.token_count));
      if (c.embedding.empty()) {
        chunk.BindNull(11);
      } else {
        chunk.BindBlob(11, EncodeEmbedding(c.embedding));
      }
      RETURN_IF_ERROR(chunk.Run());
      added.push_back(db.LastInsertRowId());
    }
    if (removed.empty() && added.empty()) return OkStatus();
    return LogVectorChanges(db, collection_id, seq + 1, removed, added);
  });
  RETURN_IF_ERROR(st);
  for (size_t i = 0; i < chunks.size(); ++i) {
    chunks[i].id = added[i];
    chunks[i].document_id = doc.id;
  }
  return doc;
}

Status SqliteDocumentStore::DeleteDocument(int64_t collection_id, const std::string& doc_id) {
  return WriteTransaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(Statement find, db.Prepare("SELECT d.id, col.vector_seq FROM documents d"
                                                " JOIN collections col ON col.id = d.collection_id"
                                                " WHERE d.collection_id = ? AND d.doc_id = ?"));
    find.Bind(1, collection_id).Bind(2, doc_id);
    ASSIGN_OR_RETURN(bool found, find.Step());
    if (!found) return NotFound("document " + doc_id + " not found");
    const int64_t row = find.Int(0);
    const int64_t seq = find.Int(1);
    ASSIGN_OR_RETURN(std::vector<int64_t> removed, ChunkIdsOf(db, row));
    ASSIGN_OR_RETURN(Statement del, db.Prepare("DELETE FROM documents WHERE id = ?"));
    del.Bind(1, row);
    RETURN_IF_ERROR(del.Run());
    if (removed.empty()) return OkStatus();
    return LogVectorChanges(db, collection_id, seq + 1, removed, {});
  });
}

Result<std::vector<ScoredId>> SqliteDocumentStore::LexicalIds(const AccessScope& scope,
                                                              const std::string& query, int k) {
  const std::vector<std::string> terms = QueryTerms(query);
  if (terms.empty() || k <= 0) return std::vector<ScoredId>();
  std::string match;
  for (const std::string& t : terms) {
    if (!match.empty()) match += " OR ";
    match += '"' + t + '"';  // terms hold no quote: see QueryTerms
  }
  // Headings weigh half as much as body text. bm25() is lower-is-better.
  const int64_t limit = std::min(k, kMaxSearchK);
  const std::string rank = "bm25(chunks_fts, 1.0, 0.5)";
  auto read = [](const Statement& s) -> Result<ScoredId> {
    return ScoredId{s.Int(0), s.Double(1)};
  };

  // 1. Rank inside FTS5 alone (the FTS table holds every collection), then
  //    check access on an over-fetched top list. When enough of it is visible,
  //    or it holds every match, its visible part is exactly the answer: hiding
  //    chunks does not reorder the rest. This skips the join for every match.
  const int64_t overfetch = std::max<int64_t>(4 * limit, 100);
  Sql top;
  top.Add("SELECT rowid, -" + rank + " FROM chunks_fts WHERE chunks_fts MATCH ").Bind(match);
  top.Add(" ORDER BY " + rank + ", rowid LIMIT ").Bind(overfetch);
  ASSIGN_OR_RETURN(auto candidates, WithReader<std::vector<ScoredId>>([&](Database& db) {
                     return QueryAll<ScoredId>(db, top, read);
                   }));
  std::vector<int64_t> ids;
  for (const auto& c : candidates) ids.push_back(c.id);
  ASSIGN_OR_RETURN(auto visible, VisibleIds(scope, ids));
  if (static_cast<int64_t>(visible.size()) >= limit ||
      static_cast<int64_t>(candidates.size()) < overfetch) {
    std::unordered_set<int64_t> keep(visible.begin(), visible.end());
    std::vector<ScoredId> out;
    for (const auto& c : candidates) {
      if (static_cast<int64_t>(out.size()) >= limit) break;
      if (keep.count(c.id)) out.push_back(c);
    }
    return out;
  }

  // 2. The scope sees too little of the top list (a small collection or a
  //    narrow filter among many matches): rank the visible matches only.
  Sql sql;
  sql.Add("SELECT c.id, -" + rank);
  sql.Add(" FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid");
  sql.Add(
      " JOIN documents d ON d.id = c.document_id JOIN collections col ON col.id = c.collection_id");
  sql.Add(" WHERE chunks_fts MATCH ").Bind(match).Add(" AND ");
  RETURN_IF_ERROR(AppendAccess(scope, sql));
  sql.Add(" ORDER BY " + rank + ", c.id LIMIT ").Bind(limit);
  return WithReader<std::vector<ScoredId>>(
      [&](Database& db) { return QueryAll<ScoredId>(db, sql, read); });
}

Result<std::vector<ChunkView>> SqliteDocumentStore::LexicalSearch(const AccessScope& scope,
                                                                  const std::string& query, int k) {
  ASSIGN_OR_RETURN(auto scored, LexicalIds(scope, query, k));
  std::vector<int64_t> ids;
  for (const auto& s : scored) ids.push_back(s.id);
  // A chunk deleted between the two reads is dropped, like any hidden one.
  ASSIGN_OR_RETURN(auto views, GetChunks(scope, ids, false));
  std::unordered_map<int64_t, double> score;
  for (const auto& s : scored) score.emplace(s.id, s.score);
  for (auto& v : views) v.score = score[v.chunk.id];
  return views;
}

Result<int64_t> SqliteDocumentStore::CountVisibleChunks(const AccessScope& scope) {
  // Per document (chunk_count), so the filter runs once per document.
  Sql sql;
  sql.Add("SELECT coalesce(sum(d.chunk_count), 0)").Add(kVisibleDocumentsFrom).Add(" WHERE ");
  RETURN_IF_ERROR(AppendDocumentAccess(scope, sql));
  return WithReader<int64_t>([&](Database& db) -> Result<int64_t> {
    ASSIGN_OR_RETURN(Statement s, Prepare(db, sql));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return InternalError("count returned no row");
    return s.Int(0);
  });
}

Result<std::vector<int64_t>> SqliteDocumentStore::VisibleIds(const AccessScope& scope,
                                                             const std::vector<int64_t>& ids) {
  if (ids.empty()) return std::vector<int64_t>();
  Sql sql;
  sql.Add("SELECT c.id").Add(kVisibleFrom);
  sql.Add(" WHERE c.id IN (SELECT value FROM json_each(").Bind(json(ids).dump()).Add(")) AND ");
  RETURN_IF_ERROR(AppendAccess(scope, sql));
  ASSIGN_OR_RETURN(auto found, WithReader<std::vector<int64_t>>([&](Database& db) {
                     return QueryAll<int64_t>(
                         db, sql, [](const Statement& s) -> Result<int64_t> { return s.Int(0); });
                   }));
  std::unordered_set<int64_t> visible(found.begin(), found.end());
  std::vector<int64_t> ordered;
  ordered.reserve(found.size());
  for (int64_t id : ids) {
    if (visible.erase(id)) ordered.push_back(id);  // a repeated id is returned once
  }
  return ordered;
}

Result<std::vector<ChunkView>> SqliteDocumentStore::GetChunks(const AccessScope& scope,
                                                              const std::vector<int64_t>& ids,
                                                              bool with_embeddings) {
  if (ids.empty()) return std::vector<ChunkView>();
  // The ids travel as one JSON array parameter: no limit on their number.
  Sql sql;
  sql.Add("SELECT ").Add(kChunkColumns).Add(", c.embedding").Add(kVisibleFrom);
  sql.Add(" WHERE c.id IN (SELECT value FROM json_each(").Bind(json(ids).dump()).Add(")) AND ");
  RETURN_IF_ERROR(AppendAccess(scope, sql));
  ASSIGN_OR_RETURN(
      std::vector<ChunkView> found, WithReader<std::vector<ChunkView>>([&](Database& db) {
        return QueryAll<ChunkView>(db, sql, [&](const Statement& s) -> Result<ChunkView> {
          ASSIGN_OR_RETURN(ChunkView v, ReadChunkView(s));
          if (with_embeddings) {
            ASSIGN_OR_RETURN(v.chunk.embedding,
                             DecodeEmbedding(s.Blob(kChunkColumnCount), v.chunk.id));
          }
          return v;
        });
      }));
  std::unordered_map<int64_t, size_t> by_id;
  for (size_t i = 0; i < found.size(); ++i) by_id.emplace(found[i].chunk.id, i);
  std::vector<ChunkView> ordered;
  ordered.reserve(found.size());
  for (int64_t id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end()) continue;
    ordered.push_back(std::move(found[it->second]));
    by_id.erase(it);  // a repeated id is returned once
  }
  return ordered;
}

Result<std::vector<std::pair<int64_t, std::vector<float>>>> SqliteDocumentStore::VisibleEmbeddings(
    const AccessScope& scope, int64_t after_id, int limit) {
  if (limit <= 0) return EmbeddingRows();
  // From the visible documents to their chunks (CROSS JOIN keeps that order):
  // the filter runs once per document, and only visible chunks are read.
  Sql sql;
  sql.Add("SELECT c.id, c.embedding").Add(kVisibleDocumentsFrom);
  sql.Add(" CROSS JOIN chunks c ON c.document_id = d.id WHERE ");
  RETURN_IF_ERROR(AppendDocumentAccess(scope, sql));
  sql.Add(" AND c.id > ").Bind(after_id).Add(" AND length(c.embedding) > 0");
  sql.Add(" ORDER BY c.id LIMIT ").Bind(static_cast<int64_t>(limit));
  return WithReader<EmbeddingRows>([&](Database& db) { return ReadEmbeddings(db, sql); });
}

Result<std::vector<std::pair<int64_t, std::vector<float>>>> SqliteDocumentStore::ChunkEmbeddings(
    int64_t collection_id, int64_t after_id, int limit) {
  if (limit <= 0) return EmbeddingRows();
  Sql sql;
  sql.Add("SELECT c.id, c.embedding FROM chunks c WHERE c.collection_id = ").Bind(collection_id);
  sql.Add(" AND c.id > ").Bind(after_id).Add(" AND length(c.embedding) > 0 ORDER BY c.id LIMIT ");
  sql.Bind(static_cast<int64_t>(limit));
  return WithReader<EmbeddingRows>([&](Database& db) { return ReadEmbeddings(db, sql); });
}

Result<std::vector<VectorChange>> SqliteDocumentStore::VectorChangesSince(int64_t collection_id,
                                                                          int64_t seq) {
  // One statement, so the collection's counters and the log come from one snapshot.
  return WithReader<std::vector<VectorChange>>(
      [&](Database& db) -> Result<std::vector<VectorChange>> {
        ASSIGN_OR_RETURN(Statement s,
                         db.Prepare("SELECT col.vector_seq, col.vector_pruned_seq, v.seq,"
                                    " v.chunk_id, v.added FROM collections col"
                                    " LEFT JOIN vector_changes v ON v.collection_id = col.id"
                                    " AND v.seq > ? WHERE col.id = ?"
                                    " ORDER BY v.seq, v.added, v.chunk_id"));
        s.Bind(1, seq).Bind(2, collection_id);
        std::vector<VectorChange> out;
        bool first = true;
        while (true) {
          ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) break;
          if (first) {
            first = false;
            const int64_t current = s.Int(0), pruned = s.Int(1);
            if (seq < pruned || seq > current) {
              return FailedPrecondition("vector change log covers seq " + std::to_string(pruned) +
                                        ".." + std::to_string(current) + ", asked from " +
                                        std::to_string(seq) + ": rebuild the index");
            }
          }
          if (s.IsNull(2)) continue;
          out.push_back(VectorChange{s.Int(2), s.Int(3), s.Int(4) != 0});
        }
        if (first) return NotFound("collection " + std::to_string(collection_id) + " not found");
        return out;
      });
}

Status SqliteDocumentStore::PruneVectorChanges(int64_t collection_id, int64_t seq) {
  return WriteTransaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(Statement up,
                     db.Prepare("UPDATE collections SET vector_pruned_seq ="
                                " max(vector_pruned_seq, min(?, vector_seq)) WHERE id = ?"));
    up.Bind(1, seq).Bind(2, collection_id);
    RETURN_IF_ERROR(up.Run());
    if (db.Changes() == 0)
      return NotFound("collection " + std::to_string(collection_id) + " not found");
    ASSIGN_OR_RETURN(Statement del,
                     db.Prepare("DELETE FROM vector_changes WHERE collection_id = ? AND seq <= ?"));
    del.Bind(1, collection_id).Bind(2, seq);
    return del.Run();
  });
}

}  // namespace gantry::store
