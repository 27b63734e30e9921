// ForEachJsonLine: the JSONL reading the bench tools share. Calls `fn(object,
// line number)` for every non-blank line; a line that is not a JSON object, or
// whose fields `fn` reads with the wrong type (nlohmann throws), ends the tool
// with "<tool>: <path>:<line>: <what>" on stderr and exit status 1.
#pragma once

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

namespace gantry::bench {

template <typename Fn>
void ForEachJsonLine(const std::string& tool, const std::string& path, Fn&& fn) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << tool << ": cannot read " << path << "\n";
    std::exit(1);
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    std::string error = j.is_discarded() || !j.is_object() ? "not a JSON object" : "";
    if (error.empty()) {
      try {
        fn(j, n);
      } catch (const nlohmann::json::exception& e) {
        error = e.what();
      }
    }
    if (!error.empty()) {
      std::cerr << tool << ": " << path << ":" << n << ": " << error << "\n";
      std::exit(1);
    }
  }
}

}  // namespace gantry::bench
