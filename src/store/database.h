// Database: a thin RAII wrapper over one SQLite connection (sqlite3 stays
// inside store/). Statements bind by 1-based index; text and blobs are copied
// by SQLite (SQLITE_TRANSIENT), so arguments need not outlive the call.
//
// Opening sets WAL mode, foreign keys on, synchronous=NORMAL (durable across a
// process crash; a power loss may lose the last transactions, never corrupt)
// and a busy timeout.
//
// Thread safety: a Database and its Statements are NOT thread-safe; use one per
// thread or guard them with a mutex. Several Databases may open the same file
// (WAL: many readers, one writer at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace gantry::store {

class Statement final {
 public:
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  // Binding (1-based). Bind() with std::nullopt binds NULL.
  Statement& Bind(int index, int64_t v);
  Statement& Bind(int index, double v);
  Statement& Bind(int index, std::string_view v);
  Statement& Bind(int index, const char* v) { return Bind(index, std::string_view(v)); }
  Statement& BindBlob(int index, std::span<const uint8_t> v);
  Statement& BindNull(int index);

  // Runs one step: true while a row is available, false when done.
  // Errors name the SQL that failed (never the bound values).
  Result<bool> Step();
  // Steps to completion, ignoring rows (INSERT/UPDATE/DELETE).
  Status Run();
  // Resets for re-execution and clears bindings.
  void Reset();

  // Column access on the current row (0-based).
  bool IsNull(int col) const;
  int64_t Int(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  std::vector<uint8_t> Blob(int col) const;

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, std::string sql) : stmt_(stmt), sql_(std::move(sql)) {}
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
  Status bind_error_;  // first bind failure, reported by Step()
};

// One schema migration: applied in order of `version` when the database's
// user_version is lower, each inside its own transaction.
struct Migration {
  int version = 0;
  std::string sql;
};

class Database final {
 public:
  struct Options {
    std::string path;  // ":memory:" for an in-memory database
    bool read_only = false;
    int busy_timeout_ms = 5000;
  };
  // Errors: kUnavailable if the file cannot be opened, kInvalidArgument when it
  // is not an SQLite database.
  static Result<std::unique_ptr<Database>> Open(const Options& options);
  ~Database();

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);

  // Runs `fn` inside BEGIN IMMEDIATE ... COMMIT; rolls back when fn returns an
  // error (which is returned) or when COMMIT fails.
  Status Transaction(const std::function<Status()>& fn);

  // Applies the migrations above the current user_version, in order.
  // kFailedPrecondition when the database is newer than every migration given.
  Status Migrate(std::span<const Migration> migrations);
  Result<int> UserVersion();

  int64_t LastInsertRowId() const;
  int64_t Changes() const;

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

}  // namespace gantry::store
