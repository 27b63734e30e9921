// Secret: a string that must never be printed or logged (API keys, passwords).
// It has no implicit conversion to string or JSON; streaming it prints
// "[REDACTED]". Call Reveal() only where the value is used (an auth header).
#pragma once

#include <ostream>
#include <string>
#include <utility>

namespace gantry {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  friend std::ostream& operator<<(std::ostream& os, const Secret&) { return os << "[REDACTED]"; }

 private:
  std::string value_;
};

}  // namespace gantry
