// gantry-pii-bench: precision/recall of the PII detector on a labeled set, and
// scan throughput. See docs/benchmarks.md ("PII").
//
//   gantry-pii-bench quality [--set examples/pii-eval/pii.jsonl] [--json]
//     per entity type: true positives, false positives, false negatives,
//     precision, recall, F1. A gold entity is found by a finding of the same
//     type that overlaps it (each finding counts once); "exact" also requires
//     the same boundaries.
//
//   gantry-pii-bench throughput [--set ...] [--corpus examples/rag-eval/corpus] [--mb 8]
//     MB/s of PiiDetector::Scan, of Scan + Redact (mask), and of StreamRedactor
//     fed 16-byte pieces (a token stream), on prose from the corpus with the
//     labeled texts mixed in (about one in ten paragraphs), one thread.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "guard/pii.h"
#include "guard/redactor.h"
#include "guard/stream_scanner.h"
#include "jsonl.h"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using gantry::guard::Finding;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "gantry-pii-bench: " << what << "\n";
  std::exit(1);
}

struct Labeled {
  std::string id, text;
  std::vector<Finding> gold;  // type, start, end
};

std::vector<Labeled> LoadSet(const std::string& path) {
  std::vector<Labeled> out;
  gantry::bench::ForEachJsonLine("gantry-pii-bench", path, [&](const Json& j, int n) {
    Labeled l;
    l.id = j.contains("id") ? j["id"].get<std::string>() : std::to_string(n);
    l.text = j.at("text").get<std::string>();
    for (const auto& e : j.value("entities", Json::array())) {
      Finding f;
      f.type = e.at("type").get<std::string>();
      f.start = e.at("start").get<size_t>();
      f.end = e.at("end").get<size_t>();
      if (f.end > l.text.size() || f.start >= f.end)
        Die(path + ":" + std::to_string(n) + ": entity outside the text");
      l.gold.push_back(f);
    }
    out.push_back(std::move(l));
  });
  if (out.empty()) Die("no labeled texts in " + path);
  return out;
}

struct Counts {
  int tp = 0, fp = 0, fn = 0, exact = 0;
};

int Quality(const std::string& set_path, bool json_out, bool show_errors) {
  const auto set = LoadSet(set_path);
  const gantry::guard::PiiDetector detector;
  std::map<std::string, Counts> by_type;
  for (const auto& l : set) {
    const auto found = detector.Scan(l.text);
    std::vector<bool> used(found.size(), false);
    for (const auto& g : l.gold) {
      bool hit = false;
      for (size_t i = 0; i < found.size() && !hit; ++i) {
        const auto& f = found[i];
        if (used[i] || f.type != g.type || f.end <= g.start || f.start >= g.end) continue;
        used[i] = true;
        hit = true;
        ++by_type[g.type].tp;
        if (f.start == g.start && f.end == g.end) ++by_type[g.type].exact;
      }
      if (!hit) {
        ++by_type[g.type].fn;
        if (show_errors)
          std::cerr << l.id << " missed " << g.type << ": "
                    << l.text.substr(g.start, g.end - g.start) << "\n";
      }
    }
    for (size_t i = 0; i < found.size(); ++i) {
      if (used[i]) continue;
      ++by_type[found[i].type].fp;
      if (show_errors)
        std::cerr << l.id << " extra " << found[i].type << ": " << found[i].value << "\n";
    }
  }
  Counts all;
  Json report = {{"texts", set.size()}, {"types", Json::object()}};
  auto ratio = [](int a, int b) { return b == 0 ? 0.0 : static_cast<double>(a) / b; };
  auto row = [&](const Counts& c) {
    const double p = ratio(c.tp, c.tp + c.fp), r = ratio(c.tp, c.tp + c.fn);
    return Json{{"tp", c.tp},
                {"fp", c.fp},
                {"fn", c.fn},
                {"exact", c.exact},
                {"precision", p},
                {"recall", r},
                {"f1", p + r > 0 ? 2 * p * r / (p + r) : 0.0}};
  };
  for (const auto& [type, c] : by_type) {
    report["types"][type] = row(c);
    all.tp += c.tp;
    all.fp += c.fp;
    all.fn += c.fn;
    all.exact += c.exact;
  }
  report["all"] = row(all);
  if (json_out) {
    std::cout << report.dump() << "\n";
    return 0;
  }
  std::cout << "Labeled texts: " << set.size() << "\n\n"
            << "| type | gold | found | false pos. | exact bounds | precision | recall | F1 |\n"
               "|---|---|---|---|---|---|---|---|\n";
  auto print = [](const std::string& name, const Json& r) {
    const int tp = r["tp"], fp = r["fp"], fn = r["fn"], exact = r["exact"];
    std::printf("| %s | %d | %d | %d | %d | %.3f | %.3f | %.3f |\n", name.c_str(), tp + fn, tp, fp,
                exact, r["precision"].get<double>(), r["recall"].get<double>(),
                r["f1"].get<double>());
  };
  for (const auto& [type, r] : report["types"].items()) print(type, r);
  print("all (micro)", report["all"]);
  return 0;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int Throughput(const std::string& set_path, const std::string& corpus, double mb) {
  const auto set = LoadSet(set_path);
  std::vector<std::string> prose;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(corpus, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::istringstream in(ReadFile(it->path()));
    std::string para, line;
    while (std::getline(in, line)) {
      if (line.empty()) {
        if (!para.empty()) prose.push_back(para);
        para.clear();
      } else {
        para += line + "\n";
      }
    }
    if (!para.empty()) prose.push_back(para);
  }
  if (prose.empty()) Die("no text under " + corpus);
  // Documents of ~4 KB: prose paragraphs with a labeled text in about one of ten.
  std::mt19937_64 rng(7);
  std::vector<std::string> docs;
  size_t total = 0;
  const size_t want = static_cast<size_t>(mb * 1e6);
  while (total < want) {
    std::string d;
    while (d.size() < 4096) {
      d += (rng() % 10 == 0) ? set[rng() % set.size()].text + "\n\n" : prose[rng() % prose.size()];
    }
    total += d.size();
    docs.push_back(std::move(d));
  }
  const gantry::guard::PiiDetector detector;
  gantry::guard::RedactionPolicy policy;  // mask everything
  auto rate = [&](auto&& fn) {
    fn();  // warm-up pass
    const auto t0 = Clock::now();
    size_t findings = fn();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    return std::make_pair(static_cast<double>(total) / 1e6 / s, findings);
  };
  const auto scan = rate([&] {
    size_t n = 0;
    for (const auto& d : docs) n += detector.Scan(d).size();
    return n;
  });
  const auto redact = rate([&] {
    size_t n = 0;
    for (const auto& d : docs)
      n += gantry::guard::Redact(d, detector.Scan(d), policy, nullptr).applied.size();
    return n;
  });
  const auto stream = rate([&] {
    size_t n = 0;
    for (const auto& d : docs) {
      gantry::guard::StreamRedactor r(detector, policy, nullptr);
      std::string out;
      for (size_t i = 0; i < d.size(); i += 16) out += r.Push(std::string_view(d).substr(i, 16));
      out += r.Finish();
      n += r.applied().size();
    }
    return n;
  });
  std::cout << Json{{"mb", static_cast<double>(total) / 1e6},
                    {"documents", docs.size()},
                    {"scan_mb_s", scan.first},
                    {"scan_redact_mb_s", redact.first},
                    {"stream_16b_mb_s", stream.first},
                    {"findings", scan.second},
                    {"stream_findings", stream.second}}
                   .dump()
            << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gantry PII detector benchmark"};
  app.require_subcommand(1);
  std::string set = "examples/pii-eval/pii.jsonl";
  std::string corpus = "examples/rag-eval/corpus";
  bool json_out = false, errors = false;
  double mb = 8;
  auto* quality = app.add_subcommand("quality", "precision/recall per entity type");
  quality->add_option("--set", set);
  quality->add_flag("--json", json_out);
  quality->add_flag("--errors", errors, "list every miss and false positive on stderr");
  auto* throughput = app.add_subcommand("throughput", "scan MB/s");
  throughput->add_option("--set", set);
  throughput->add_option("--corpus", corpus);
  throughput->add_option("--mb", mb)->check(CLI::Range(0.1, 1000.0));
  CLI11_PARSE(app, argc, argv);
  if (*quality) return Quality(set, json_out, errors);
  return Throughput(set, corpus, mb);
}
