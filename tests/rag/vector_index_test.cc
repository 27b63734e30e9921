#include "rag/vector_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

namespace gantry::rag {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

HnswOptions Opts(int dim, size_t capacity = 1024) {
  HnswOptions o;
  o.dim = dim;
  o.initial_capacity = capacity;
  return o;
}

std::unique_ptr<HnswIndex> MustOpen(const std::string& path, const HnswOptions& o) {
  auto r = HnswIndex::Open(path, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : nullptr;
}

std::vector<float> RandomVector(std::mt19937& rng, int dim) {
  std::normal_distribution<float> d(0, 1);
  std::vector<float> v(static_cast<size_t>(dim));
  for (float& x : v) x = d(rng);
  return v;
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double{a[i]} * b[i];
    aa += double{a[i]} * a[i];
    bb += double{b[i]} * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class HnswIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "gantry_hnsw_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "sub" / "index.hnsw").string();  // the directory is created by Open
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // 50 random 16-dim vectors with ids 100..149, saved at seq 42.
  std::vector<std::vector<float>> SaveSample() {
    std::mt19937 rng(7);
    std::vector<std::vector<float>> vs;
    auto index = MustOpen(path_, Opts(16));
    for (int i = 0; i < 50; ++i) {
      vs.push_back(RandomVector(rng, 16));
      EXPECT_TRUE(index->Upsert(100 + i, vs.back()).ok());
    }
    EXPECT_TRUE(index->Save(42).ok());
    EXPECT_EQ(index->loaded_seq(), 42);
    return vs;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(HnswIndexTest, NearestFirstWithCosineSimilarity) {
  auto index = MustOpen("", Opts(3));
  ASSERT_NE(index, nullptr);
  const std::vector<float> a = {1, 0, 0}, b = {1, 1, 0}, c = {0, 0, 1}, d = {-1, 0, 0};
  ASSERT_TRUE(index->Upsert(1, a).ok());
  ASSERT_TRUE(index->Upsert(2, b).ok());
  ASSERT_TRUE(index->Upsert(3, c).ok());
  ASSERT_TRUE(index->Upsert(4, d).ok());
  EXPECT_EQ(index->size(), 4u);
  EXPECT_EQ(index->dim(), 3);

  const std::vector<float> q = {2, 0.5f, 0};
  auto hits = index->Search(q, 4);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->size(), 4u);
  EXPECT_EQ((*hits)[0].id, 1);
  EXPECT_EQ((*hits)[1].id, 2);
  EXPECT_EQ((*hits)[2].id, 3);
  EXPECT_EQ((*hits)[3].id, 4);
  // Neither the stored vectors nor the query are unit length: similarities
  // are cosines all the same.
  EXPECT_NEAR((*hits)[0].similarity, Cosine(q, a), 1e-5);
  EXPECT_NEAR((*hits)[1].similarity, Cosine(q, b), 1e-5);
  EXPECT_NEAR((*hits)[2].similarity, 0.0, 1e-5);
  EXPECT_NEAR((*hits)[3].similarity, Cosine(q, d), 1e-5);

  auto two = index->Search(q, 2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].id, 1);
  EXPECT_EQ((*two)[1].id, 2);

  auto none = index->Search(q, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(HnswIndexTest, UpsertNormalizesVectors) {
  auto index = MustOpen("", Opts(2));
  ASSERT_TRUE(index->Upsert(1, std::vector<float>{30, 40}).ok());
  // A unit query along the stored direction has similarity 1 only if the
  // stored vector was scaled to unit length.
  auto hits = index->Search(std::vector<float>{0.6f, 0.8f}, 1);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_NEAR((*hits)[0].similarity, 1.0, 1e-5);
}

TEST_F(HnswIndexTest, RejectsBadVectors) {
  auto index = MustOpen("", Opts(3));
  Status s = index->Upsert(1, std::vector<float>{1, 2});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("dimension"));

  s = index->Upsert(1, std::vector<float>{1, std::numeric_limits<float>::quiet_NaN(), 0});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("non-finite"));
  s = index->Upsert(1, std::vector<float>{std::numeric_limits<float>::infinity(), 0, 0});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);

  s = index->Upsert(1, std::vector<float>{0, 0, 0});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("zero"));
  EXPECT_EQ(index->size(), 0u);

  auto q = index->Search(std::vector<float>{1, 0}, 1);
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(index->Upsert(1, std::vector<float>{1, 2, 3}).ok());
  q = index->Search(std::vector<float>{1, std::numeric_limits<float>::quiet_NaN(), 0}, 1);
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(HnswIndexTest, TinyAndHugeVectorsNormalize) {
  auto index = MustOpen("", Opts(2));
  const float tiny = std::numeric_limits<float>::denorm_min();
  ASSERT_TRUE(index->Upsert(1, std::vector<float>{tiny, 0}).ok());
  ASSERT_TRUE(index->Upsert(2, std::vector<float>{0, 1e38f}).ok());
  auto hits = index->Search(std::vector<float>{1e30f, 0}, 2);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_EQ((*hits)[0].id, 1);
  EXPECT_NEAR((*hits)[0].similarity, 1.0, 1e-5);
  EXPECT_NEAR((*hits)[1].similarity, 0.0, 1e-5);
}

TEST_F(HnswIndexTest, RejectsBadOptions) {
  EXPECT_EQ(HnswIndex::Open("", Opts(0)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HnswIndex::Open("", Opts(9000)).status().code(), StatusCode::kInvalidArgument);
  HnswOptions o = Opts(4);
  o.m = 1;
  EXPECT_EQ(HnswIndex::Open("", o).status().code(), StatusCode::kInvalidArgument);
  o = Opts(4);
  o.ef_construction = 4;  // < m
  EXPECT_EQ(HnswIndex::Open("", o).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(HnswIndexTest, EmptyIndexSearchesToNothing) {
  auto index = MustOpen("", Opts(2));
  auto hits = index->Search(std::vector<float>{1, 0}, 5);
  ASSERT_TRUE(hits.ok());
  EXPECT_TRUE(hits->empty());
}

TEST_F(HnswIndexTest, RemoveHidesAndReUpsertRestores) {
  auto index = MustOpen("", Opts(2));
  ASSERT_TRUE(index->Upsert(1, std::vector<float>{1, 0}).ok());
  ASSERT_TRUE(index->Upsert(2, std::vector<float>{0, 1}).ok());
  ASSERT_TRUE(index->Remove(1).ok());
  EXPECT_EQ(index->size(), 1u);
  // Removing twice, or an id never added, is fine and changes nothing.
  EXPECT_TRUE(index->Remove(1).ok());
  EXPECT_TRUE(index->Remove(99).ok());
  EXPECT_EQ(index->size(), 1u);

  auto hits = index->Search(std::vector<float>{1, 0}, 5);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].id, 2);

  // Re-adding the removed id (with a new vector) brings it back once.
  ASSERT_TRUE(index->Upsert(1, std::vector<float>{1, 1}).ok());
  EXPECT_EQ(index->size(), 2u);
  hits = index->Search(std::vector<float>{1, 1}, 5);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_EQ((*hits)[0].id, 1);
  EXPECT_NEAR((*hits)[0].similarity, 1.0, 1e-5);

  // Upserting a live id replaces its vector without adding one.
  ASSERT_TRUE(index->Upsert(2, std::vector<float>{-1, 0}).ok());
  EXPECT_EQ(index->size(), 2u);
  hits = index->Search(std::vector<float>{-1, 0}, 1);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].id, 2);
  EXPECT_NEAR((*hits)[0].similarity, 1.0, 1e-5);

  // Removing everything leaves an empty search.
  ASSERT_TRUE(index->Remove(1).ok());
  ASSERT_TRUE(index->Remove(2).ok());
  EXPECT_EQ(index->size(), 0u);
  hits = index->Search(std::vector<float>{1, 0}, 5);
  ASSERT_TRUE(hits.ok());
  EXPECT_TRUE(hits->empty());
}

TEST_F(HnswIndexTest, GrowsBeyondInitialCapacity) {
  constexpr int kDim = 8, kN = 3000;
  HnswOptions o = Opts(kDim, 16);
  o.ef_construction = 40;  // keeps the test fast; recall is still exact at this size
  auto index = MustOpen("", o);
  std::mt19937 rng(1);
  std::vector<std::vector<float>> vs;
  for (int i = 0; i < kN; ++i) {
    vs.push_back(RandomVector(rng, kDim));
    Status s = index->Upsert(i, vs.back());
    ASSERT_TRUE(s.ok()) << i << ": " << s.ToString();
  }
  EXPECT_EQ(index->size(), static_cast<size_t>(kN));
  // Every sampled point finds itself first.
  for (int i = 0; i < kN; i += 149) {
    auto hits = index->Search(vs[static_cast<size_t>(i)], 1);
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].id, i);
    EXPECT_NEAR((*hits)[0].similarity, 1.0, 1e-4);
  }
}

TEST_F(HnswIndexTest, ClearEmptiesTheIndex) {
  auto index = MustOpen("", Opts(2));
  ASSERT_TRUE(index->Upsert(1, std::vector<float>{1, 0}).ok());
  index->Clear();
  EXPECT_EQ(index->size(), 0u);
  EXPECT_EQ(index->loaded_seq(), -1);
  auto hits = index->Search(std::vector<float>{1, 0}, 3);
  ASSERT_TRUE(hits.ok());
  EXPECT_TRUE(hits->empty());
  ASSERT_TRUE(index->Upsert(1, std::vector<float>{0, 1}).ok());
  EXPECT_EQ(index->size(), 1u);
}

TEST_F(HnswIndexTest, MemoryOnlyIndexSavesNothing) {
  auto index = MustOpen("", Opts(2));
  ASSERT_TRUE(index->Upsert(1, std::vector<float>{1, 0}).ok());
  EXPECT_TRUE(index->Save(5).ok());
  EXPECT_EQ(index->loaded_seq(), -1);
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(HnswIndexTest, FreshPathStartsEmpty) {
  auto index = MustOpen(path_, Opts(4));
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), 0u);
  EXPECT_EQ(index->loaded_seq(), -1);
  EXPECT_TRUE(fs::is_directory(fs::path(path_).parent_path()));
}

TEST_F(HnswIndexTest, SaveAndReopenGivesSameResults) {
  auto vs = SaveSample();
  EXPECT_TRUE(fs::exists(path_));
  EXPECT_TRUE(fs::exists(path_ + ".meta"));

  auto a = MustOpen("", Opts(16));
  for (size_t i = 0; i < vs.size(); ++i) ASSERT_TRUE(a->Upsert(100 + int(i), vs[i]).ok());

  auto reopened = MustOpen(path_, Opts(16));
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->loaded_seq(), 42);
  EXPECT_EQ(reopened->size(), 50u);
  std::mt19937 rng(99);
  for (int q = 0; q < 5; ++q) {
    auto query = RandomVector(rng, 16);
    auto expect = a->Search(query, 5);
    auto got = reopened->Search(query, 5);
    ASSERT_TRUE(expect.ok());
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ((*got)[i].id, (*expect)[i].id);
      EXPECT_NEAR((*got)[i].similarity, (*expect)[i].similarity, 1e-5);
    }
  }
  // The reopened index keeps working: updates, removal, growth.
  ASSERT_TRUE(reopened->Remove(100).ok());
  EXPECT_EQ(reopened->size(), 49u);
  auto hits = reopened->Search(vs[0], 1);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_NE((*hits)[0].id, 100);
}

TEST_F(HnswIndexTest, RemovalsSurviveSaveAndReopen) {
  std::mt19937 rng(3);
  std::vector<std::vector<float>> vs;
  {
    auto index = MustOpen(path_, Opts(8));
    for (int i = 0; i < 20; ++i) {
      vs.push_back(RandomVector(rng, 8));
      ASSERT_TRUE(index->Upsert(i, vs.back()).ok());
    }
    ASSERT_TRUE(index->Remove(7).ok());
    ASSERT_TRUE(index->Save(9).ok());
  }
  auto reopened = MustOpen(path_, Opts(8));
  EXPECT_EQ(reopened->loaded_seq(), 9);
  EXPECT_EQ(reopened->size(), 19u);
  auto hits = reopened->Search(vs[7], 20);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 19u);
  for (const auto& h : *hits) EXPECT_NE(h.id, 7);
}

TEST_F(HnswIndexTest, SaveAgainReplacesTheFiles) {
  SaveSample();
  {
    auto index = MustOpen(path_, Opts(16));
    ASSERT_TRUE(index->Upsert(1, std::vector<float>(16, 1.0f)).ok());
    ASSERT_TRUE(index->Save(43).ok());
    EXPECT_EQ(index->loaded_seq(), 43);
  }
  auto reopened = MustOpen(path_, Opts(16));
  EXPECT_EQ(reopened->loaded_seq(), 43);
  EXPECT_EQ(reopened->size(), 51u);
  // No temporary files are left behind.
  for (const auto& e : fs::directory_iterator(fs::path(path_).parent_path())) {
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr("tmp")));
  }
}

TEST_F(HnswIndexTest, CorruptIndexFileIsNotLoaded) {
  SaveSample();
  std::string bytes = ReadFile(path_);
  ASSERT_GT(bytes.size(), 200u);
  // Flip bytes at several places (header, graph, data): each must be caught.
  for (size_t at : {size_t{0}, size_t{9}, bytes.size() / 2, bytes.size() - 1}) {
    std::string bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    WriteFile(path_, bad);
    auto index = MustOpen(path_, Opts(16));
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(index->loaded_seq(), -1) << "flipped byte " << at;
    EXPECT_EQ(index->size(), 0u);
    // Usable as a fresh index.
    ASSERT_TRUE(index->Upsert(1, std::vector<float>(16, 1.0f)).ok());
    EXPECT_EQ(index->size(), 1u);
  }
  // A truncated file, too.
  WriteFile(path_, bytes.substr(0, bytes.size() / 3));
  EXPECT_EQ(MustOpen(path_, Opts(16))->loaded_seq(), -1);
  // The original bytes load again (the sidecar was not touched).
  WriteFile(path_, bytes);
  EXPECT_EQ(MustOpen(path_, Opts(16))->loaded_seq(), 42);
}

TEST_F(HnswIndexTest, SidecarMismatchIsNotLoaded) {
  SaveSample();
  const std::string meta = ReadFile(path_ + ".meta");
  auto j = nlohmann::json::parse(meta);

  auto expect_rejected = [&](const std::string& sidecar, const char* what) {
    WriteFile(path_ + ".meta", sidecar);
    auto index = MustOpen(path_, Opts(16));
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(index->loaded_seq(), -1) << what;
    EXPECT_EQ(index->size(), 0u) << what;
  };
  auto bad_hash = j;
  bad_hash["xxh64"] = "0000000000000000";
  expect_rejected(bad_hash.dump(), "hash");
  auto bad_dim = j;
  bad_dim["dim"] = 8;
  expect_rejected(bad_dim.dump(), "dim");
  auto bad_format = j;
  bad_format["format"] = 99;
  expect_rejected(bad_format.dump(), "format");
  auto no_seq = j;
  no_seq.erase("seq");
  expect_rejected(no_seq.dump(), "no seq");
  expect_rejected("{not json", "garbage");
  expect_rejected("", "empty");

  // Options with another dim than the file never load it either.
  WriteFile(path_ + ".meta", meta);
  auto other_dim = MustOpen(path_, Opts(8));
  EXPECT_EQ(other_dim->loaded_seq(), -1);
  EXPECT_EQ(MustOpen(path_, Opts(16))->loaded_seq(), 42);
}

TEST_F(HnswIndexTest, MissingSidecarIsNotLoaded) {
  SaveSample();
  fs::remove(path_ + ".meta");
  auto index = MustOpen(path_, Opts(16));
  EXPECT_EQ(index->loaded_seq(), -1);
  EXPECT_EQ(index->size(), 0u);
}

TEST_F(HnswIndexTest, MissingIndexFileIsNotLoaded) {
  SaveSample();
  fs::remove(path_);
  auto index = MustOpen(path_, Opts(16));
  EXPECT_EQ(index->loaded_seq(), -1);
  EXPECT_EQ(index->size(), 0u);
}

}  // namespace
}  // namespace gantry::rag
