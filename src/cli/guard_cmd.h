// `gantry guard scan`: PII and secret detection on text from stdin.
//
//   gantry guard scan [--json] [--default MODE] [--mode TYPE=MODE ...]
//
// Prints the text with every finding handled by the redaction policy (mask by
// default; modes allow, mask, hash, tokenize, block) and one line per finding
// on stderr; with --json one object:
//   {"findings": [{"type", "value", "start", "end", "score", "action"}],
//    "redacted": "...", "blocked": false}
// Offsets are bytes into the input. Exit status: 0, 1 when a finding's mode is
// block, 2 for bad flags.
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace gantry::cli {

struct GuardScanFlags {
  bool json = false;
  std::string default_mode = "mask";
  std::vector<std::string> modes;  // TYPE=MODE overrides
};

int RunGuardScan(const GuardScanFlags& flags, std::istream& in, std::ostream& out,
                 std::ostream& err);

}  // namespace gantry::cli
