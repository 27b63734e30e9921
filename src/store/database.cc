#include "store/database.h"

#include <sqlite3.h>

#include <algorithm>
#include <set>
#include <utility>

namespace gantry::store {
namespace {

// Long statements (migrations) are cut so error messages stay readable.
std::string ShortSql(std::string_view sql) {
  constexpr size_t kMax = 160;
  std::string out(sql.substr(0, std::min(sql.size(), kMax)));
  std::replace(out.begin(), out.end(), '\n', ' ');
  if (sql.size() > kMax) out += "...";
  return out;
}

// Codes chosen by what the caller can do: busy/locked/full/io are transient,
// constraint violations mean the write conflicts with what is stored.
StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return StatusCode::kUnavailable;
    case SQLITE_CONSTRAINT:
    case SQLITE_READONLY:
      return StatusCode::kFailedPrecondition;
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return StatusCode::kInvalidArgument;
    default:
      return StatusCode::kInternal;
  }
}

Status SqliteError(sqlite3* db, int rc, std::string_view sql) {
  std::string msg = "sqlite: ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (";
  msg += sqlite3_errstr(rc);
  msg += ")";
  if (!sql.empty()) {
    msg += " in: ";
    msg += ShortSql(sql);
  }
  return {CodeFor(rc), std::move(msg)};
}

bool OnlyWhitespace(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; });
}

}  // namespace

// ---------------------------------------------------------------- Statement

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      sql_(std::move(other.sql_)),
      bind_error_(std::move(other.bind_error_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    sql_ = std::move(other.sql_);
    bind_error_ = std::move(other.bind_error_);
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

namespace {
void NoteBind(Status& first, sqlite3_stmt* stmt, int rc, int index, const std::string& sql) {
  if (rc == SQLITE_OK || !first.ok()) return;
  first =
      SqliteError(sqlite3_db_handle(stmt), rc, sql).WithContext("bind #" + std::to_string(index));
}
}  // namespace

Statement& Statement::Bind(int index, int64_t v) {
  NoteBind(bind_error_, stmt_, sqlite3_bind_int64(stmt_, index, v), index, sql_);
  return *this;
}

Statement& Statement::Bind(int index, double v) {
  NoteBind(bind_error_, stmt_, sqlite3_bind_double(stmt_, index, v), index, sql_);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view v) {
  // A null data pointer would bind NULL; an empty string must stay ''.
  const char* data = v.data() != nullptr ? v.data() : "";
  NoteBind(bind_error_, stmt_,
           sqlite3_bind_text64(stmt_, index, data, v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), index,
           sql_);
  return *this;
}

Statement& Statement::BindBlob(int index, std::span<const uint8_t> v) {
  const int rc = v.empty()
                     ? sqlite3_bind_zeroblob(stmt_, index, 0)
                     : sqlite3_bind_blob64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT);
  NoteBind(bind_error_, stmt_, rc, index, sql_);
  return *this;
}

Statement& Statement::BindNull(int index) {
  NoteBind(bind_error_, stmt_, sqlite3_bind_null(stmt_, index), index, sql_);
  return *this;
}

Result<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(sqlite3_db_handle(stmt_), rc, sql_);
}

Status Statement::Run() {
  while (true) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return OkStatus();
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = OkStatus();
}

bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

double Statement::Double(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::Text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::vector<uint8_t> Statement::Blob(int col) const {
  // sqlite3_column_blob must come before sqlite3_column_bytes (type conversion).
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
  const int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr || n <= 0) return {};
  return std::vector<uint8_t>(p, p + n);
}

// ----------------------------------------------------------------- Database

Result<std::unique_ptr<Database>> Database::Open(const Options& options) {
  if (options.path.empty()) return InvalidArgument("database path is empty");
  int flags =
      options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // Each Database is used by one thread at a time (see header): no SQLite mutex.
  flags |= SQLITE_OPEN_NOMUTEX;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(options.path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status st = SqliteError(raw, rc, "");
    sqlite3_close(raw);
    return Status(StatusCode::kUnavailable, st.message()).WithContext(options.path);
  }
  std::unique_ptr<Database> db(new Database(raw));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);

  // The first statement that reads the header tells a non-database file apart.
  std::string setup = "PRAGMA foreign_keys=ON; SELECT count(*) FROM sqlite_master;";
  if (!options.read_only) setup += "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
  Status st = db->Exec(setup);
  if (!st.ok()) {
    const int code = sqlite3_errcode(raw) & 0xff;
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
      return InvalidArgument(options.path + ": not an SQLite database (" + st.message() + ")");
    }
    return st.WithContext(options.path);
  }
  return db;
}

Database::~Database() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status Database::Exec(std::string_view sql) {
  // sqlite3_exec needs a NUL-terminated string.
  const std::string owned(sql);
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, owned.c_str(), nullptr, nullptr, &err);
  if (err != nullptr) sqlite3_free(err);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
  return OkStatus();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, &tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(db_, rc, sql);
  }
  if (stmt == nullptr) return InternalError("sqlite: empty statement: " + ShortSql(sql));
  Statement out(stmt, std::string(sql));
  const size_t used = static_cast<size_t>(tail - sql.data());
  if (used < sql.size() && !OnlyWhitespace(sql.substr(used))) {
    return InternalError("sqlite: Prepare takes one statement: " + ShortSql(sql));
  }
  return out;
}

Status Database::Transaction(const std::function<Status()>& fn) {
  // Inside an open transaction a savepoint nests, so helpers that use
  // Transaction compose.
  const bool outer = sqlite3_get_autocommit(db_) != 0;
  RETURN_IF_ERROR(Exec(outer ? "BEGIN IMMEDIATE" : "SAVEPOINT gantry_nested"));
  auto rollback = [&] {
    if (outer) {
      // After some errors SQLite has already rolled back; ROLLBACK then fails harmlessly.
      if (sqlite3_get_autocommit(db_) == 0) (void)Exec("ROLLBACK");
    } else {
      (void)Exec("ROLLBACK TO gantry_nested");
      (void)Exec("RELEASE gantry_nested");
    }
  };
  Status st;
  try {
    st = fn();
  } catch (...) {
    rollback();
    throw;
  }
  if (!st.ok()) {
    rollback();
    return st;
  }
  st = Exec(outer ? "COMMIT" : "RELEASE gantry_nested");
  if (!st.ok()) rollback();
  return st;
}

Result<int> Database::UserVersion() {
  ASSIGN_OR_RETURN(Statement stmt, Prepare("PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return InternalError("sqlite: PRAGMA user_version returned no row");
  return static_cast<int>(stmt.Int(0));
}

Status Database::Migrate(std::span<const Migration> migrations) {
  std::vector<const Migration*> ordered;
  std::set<int> seen;
  for (const Migration& m : migrations) {
    if (m.version <= 0) return InvalidArgument("migration version must be positive");
    if (!seen.insert(m.version).second) {
      return InvalidArgument("duplicate migration version " + std::to_string(m.version));
    }
    ordered.push_back(&m);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const Migration* a, const Migration* b) { return a->version < b->version; });
  const int newest = ordered.empty() ? 0 : ordered.back()->version;
  ASSIGN_OR_RETURN(int current, UserVersion());
  if (current > newest) {
    return FailedPrecondition("database schema version " + std::to_string(current) +
                              " is newer than this program's (" + std::to_string(newest) + ")");
  }
  for (const Migration* m : ordered) {
    if (m->version <= current) continue;
    Status st = Transaction([&]() -> Status {
      // Re-read under the write lock: another process may have migrated meanwhile.
      ASSIGN_OR_RETURN(int now, UserVersion());
      if (now >= m->version) return OkStatus();
      RETURN_IF_ERROR(Exec(m->sql));
      return Exec("PRAGMA user_version = " + std::to_string(m->version));
    });
    if (!st.ok()) return st.WithContext("migration " + std::to_string(m->version));
  }
  return OkStatus();
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

int64_t Database::Changes() const { return sqlite3_changes64(db_); }

}  // namespace gantry::store
