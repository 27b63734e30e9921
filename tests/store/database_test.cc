#include "store/database.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace gantry::store {
namespace {

namespace fs = std::filesystem;

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "gantry_db_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string PathOf(const std::string& name) const { return (dir_ / name).string(); }

  std::unique_ptr<Database> OpenOrDie(const std::string& path) {
    auto db = Database::Open({.path = path});
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  fs::path dir_;
};

TEST_F(DatabaseTest, OpensInWalModeWithForeignKeys) {
  auto db = OpenOrDie(PathOf("a.db"));
  ASSERT_NE(db, nullptr);
  auto mode = db->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->Text(0), "wal");
  auto fk = db->Prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(fk.ok());
  ASSERT_TRUE(*fk->Step());
  EXPECT_EQ(fk->Int(0), 1);
}

TEST_F(DatabaseTest, BindAndReadEveryType) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t(i INTEGER, d REAL, s TEXT, b BLOB, n TEXT)").ok());
  auto ins = db->Prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?)");
  ASSERT_TRUE(ins.ok());
  const std::vector<uint8_t> blob = {0, 1, 2, 255};
  std::string text = "h\xC3\xA9llo";  // copied by SQLite: may die after the bind
  ins->Bind(1, int64_t{-42}).Bind(2, 2.5).Bind(3, std::string_view(text)).BindBlob(4, blob);
  ins->BindNull(5);
  text.assign("XXXXXX");
  ASSERT_TRUE(ins->Run().ok());
  EXPECT_EQ(db->Changes(), 1);
  EXPECT_EQ(db->LastInsertRowId(), 1);

  auto sel = db->Prepare("SELECT i, d, s, b, n FROM t");
  ASSERT_TRUE(sel.ok());
  auto row = sel->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(sel->Int(0), -42);
  EXPECT_DOUBLE_EQ(sel->Double(1), 2.5);
  EXPECT_EQ(sel->Text(2), "h\xC3\xA9llo");
  EXPECT_EQ(sel->Blob(3), blob);
  EXPECT_TRUE(sel->IsNull(4));
  EXPECT_EQ(sel->Text(4), "");
  row = sel->Step();
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(*row);
}

TEST_F(DatabaseTest, EmptyStringAndBlobAreNotNull) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  auto sel = db->Prepare("SELECT ? IS NULL, ? IS NULL, length(?)");
  ASSERT_TRUE(sel.ok());
  sel->Bind(1, std::string_view()).BindBlob(2, {}).Bind(3, "");
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->Int(0), 0);
  EXPECT_EQ(sel->Int(1), 0);
  EXPECT_EQ(sel->Int(2), 0);
}

TEST_F(DatabaseTest, ResetAllowsReuse) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t(x INTEGER)").ok());
  auto ins = db->Prepare("INSERT INTO t VALUES (?)");
  ASSERT_TRUE(ins.ok());
  for (int64_t i = 0; i < 5; ++i) {
    ins->Reset();
    ins->Bind(1, i);
    ASSERT_TRUE(ins->Run().ok());
  }
  auto sum = db->Prepare("SELECT sum(x), count(*) FROM t");
  ASSERT_TRUE(sum.ok());
  ASSERT_TRUE(*sum->Step());
  EXPECT_EQ(sum->Int(0), 10);
  EXPECT_EQ(sum->Int(1), 5);
}

TEST_F(DatabaseTest, ErrorsNameTheSqlNotTheValues) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  auto bad = db->Prepare("SELEKT 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("SELEKT 1"), std::string::npos);

  ASSERT_TRUE(db->Exec("CREATE TABLE t(x TEXT UNIQUE)").ok());
  auto ins = db->Prepare("INSERT INTO t VALUES (?)");
  ASSERT_TRUE(ins.ok());
  ins->Bind(1, "secret-value");
  ASSERT_TRUE(ins->Run().ok());
  ins->Reset();
  ins->Bind(1, "secret-value");
  Status st = ins->Run();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("INSERT INTO t"), std::string::npos);
  EXPECT_EQ(st.message().find("secret-value"), std::string::npos);
}

TEST_F(DatabaseTest, BindOutOfRangeIsReportedByStep) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  auto sel = db->Prepare("SELECT ?");
  ASSERT_TRUE(sel.ok());
  sel->Bind(5, int64_t{1});
  auto row = sel->Step();
  ASSERT_FALSE(row.ok());
  EXPECT_NE(row.status().message().find("bind #5"), std::string::npos);
}

TEST_F(DatabaseTest, PrepareRejectsSeveralStatements) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  EXPECT_FALSE(db->Prepare("SELECT 1; SELECT 2").ok());
  EXPECT_TRUE(db->Prepare("SELECT 1;  \n").ok());
  EXPECT_FALSE(db->Prepare("   ").ok());
}

TEST_F(DatabaseTest, TransactionCommitsAndRollsBack) {
  auto db = OpenOrDie(PathOf("tx.db"));
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t(x INTEGER)").ok());
  ASSERT_TRUE(db->Transaction([&] { return db->Exec("INSERT INTO t VALUES (1)"); }).ok());
  Status st = db->Transaction([&]() -> Status {
    RETURN_IF_ERROR(db->Exec("INSERT INTO t VALUES (2)"));
    RETURN_IF_ERROR(db->Exec("INSERT INTO t VALUES (3)"));
    return InvalidArgument("injected failure");
  });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "injected failure");
  // A failing SQL statement mid-way rolls back the earlier ones too.
  st = db->Transaction([&]() -> Status {
    RETURN_IF_ERROR(db->Exec("INSERT INTO t VALUES (4)"));
    return db->Exec("INSERT INTO missing VALUES (5)");
  });
  EXPECT_FALSE(st.ok());
  auto sel = db->Prepare("SELECT group_concat(x) FROM t");
  ASSERT_TRUE(sel.ok());
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->Text(0), "1");
  // The connection is usable (no transaction left open).
  EXPECT_TRUE(db->Exec("BEGIN; COMMIT;").ok());
}

TEST_F(DatabaseTest, NestedTransactionRollsBackOnlyItself) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t(x INTEGER)").ok());
  Status st = db->Transaction([&]() -> Status {
    RETURN_IF_ERROR(db->Exec("INSERT INTO t VALUES (1)"));
    Status inner = db->Transaction([&]() -> Status {
      RETURN_IF_ERROR(db->Exec("INSERT INTO t VALUES (2)"));
      return Unavailable("inner fails");
    });
    EXPECT_FALSE(inner.ok());
    return db->Transaction([&] { return db->Exec("INSERT INTO t VALUES (3)"); });
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto sel = db->Prepare("SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY x)");
  ASSERT_TRUE(sel.ok());
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->Text(0), "1,3");
}

TEST_F(DatabaseTest, MigrationsApplyInOrderAndAreIdempotent) {
  const std::vector<Migration> migrations = {
      {2, "ALTER TABLE t ADD COLUMN y INTEGER DEFAULT 7"},
      {1, "CREATE TABLE t(x INTEGER); INSERT INTO t(x) VALUES (1)"},
  };
  const std::string path = PathOf("m.db");
  {
    auto db = OpenOrDie(path);
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(*db->UserVersion(), 0);
    ASSERT_TRUE(db->Migrate(migrations).ok());
    EXPECT_EQ(*db->UserVersion(), 2);
    ASSERT_TRUE(db->Migrate(migrations).ok());  // nothing to do
  }
  auto db = OpenOrDie(path);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Migrate(migrations).ok());
  auto sel = db->Prepare("SELECT count(*), max(y) FROM t");
  ASSERT_TRUE(sel.ok());
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->Int(0), 1);  // the INSERT of migration 1 ran once
  EXPECT_EQ(sel->Int(1), 7);

  // A newer migration set applies only what is new.
  std::vector<Migration> more = migrations;
  more.push_back({3, "CREATE TABLE u(z INTEGER)"});
  ASSERT_TRUE(db->Migrate(more).ok());
  EXPECT_EQ(*db->UserVersion(), 3);
  // An older program refuses a newer schema.
  Status st = db->Migrate(migrations);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
}

TEST_F(DatabaseTest, FailedMigrationLeavesVersionAndSchema) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  const std::vector<Migration> migrations = {
      {1, "CREATE TABLE a(x INTEGER)"},
      {2, "CREATE TABLE b(x INTEGER); CREATE TABLE a(x INTEGER)"},  // fails half-way
  };
  Status st = db->Migrate(migrations);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("migration 2"), std::string::npos);
  EXPECT_EQ(*db->UserVersion(), 1);
  EXPECT_FALSE(db->Prepare("SELECT * FROM b").ok());  // rolled back
  EXPECT_TRUE(db->Prepare("SELECT * FROM a").ok());
}

TEST_F(DatabaseTest, MigrateRejectsBadVersions) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  const std::vector<Migration> dup = {{1, "SELECT 1"}, {1, "SELECT 2"}};
  EXPECT_EQ(db->Migrate(dup).code(), StatusCode::kInvalidArgument);
  const std::vector<Migration> zero = {{0, "SELECT 1"}};
  EXPECT_EQ(db->Migrate(zero).code(), StatusCode::kInvalidArgument);
}

TEST_F(DatabaseTest, OpenErrors) {
  auto missing_dir = Database::Open({.path = PathOf("no/such/dir/x.db")});
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.status().code(), StatusCode::kUnavailable);

  const std::string junk = PathOf("junk.db");
  {
    std::ofstream out(junk, std::ios::binary);
    out << std::string(4096, 'x');
  }
  auto not_db = Database::Open({.path = junk});
  ASSERT_FALSE(not_db.ok());
  EXPECT_EQ(not_db.status().code(), StatusCode::kInvalidArgument);

  auto ro_missing = Database::Open({.path = PathOf("absent.db"), .read_only = true});
  EXPECT_FALSE(ro_missing.ok());
  EXPECT_FALSE(Database::Open({.path = ""}).ok());
}

TEST_F(DatabaseTest, ReadOnlyConnectionSeesCommittedWritesAndCannotWrite) {
  const std::string path = PathOf("ro.db");
  auto writer = OpenOrDie(path);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Exec("CREATE TABLE t(x INTEGER)").ok());
  auto reader = Database::Open({.path = path, .read_only = true});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_TRUE(writer->Exec("INSERT INTO t VALUES (1)").ok());
  auto sel = (*reader)->Prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(sel.ok());
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->Int(0), 1);
  EXPECT_FALSE((*reader)->Exec("INSERT INTO t VALUES (2)").ok());
}

TEST_F(DatabaseTest, StatementMoves) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  auto a = db->Prepare("SELECT 7");
  ASSERT_TRUE(a.ok());
  Statement s = std::move(a).value();
  auto b = db->Prepare("SELECT 8");
  ASSERT_TRUE(b.ok());
  s = std::move(b).value();
  ASSERT_TRUE(*s.Step());
  EXPECT_EQ(s.Int(0), 8);
}

}  // namespace
}  // namespace gantry::store
