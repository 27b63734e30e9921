// Knob table and conversions for gantry-mock-upstream.

#include "knobs.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <system_error>
#include <variant>

namespace gantry::mock {
namespace {

using KnobMember =
    std::variant<int64_t Knobs::*, double Knobs::*, bool Knobs::*, std::string Knobs::*>;

struct KnobSpec {
  std::string_view name;
  KnobMember member;
  std::string_view help;
};

const std::array<KnobSpec, 10> kKnobSpecs = {{
    {"latency_ms", &Knobs::latency_ms, "delay before the response headers (ms)"},
    {"tokens", &Knobs::tokens, "completion tokens per chat response"},
    {"tokens_per_second", &Knobs::tokens_per_second, "streaming pace, 0 = unpaced"},
    {"error_status", &Knobs::error_status, "respond with this HTTP status, 0 = none"},
    {"error_count", &Knobs::error_count, "if >0 only the next N requests get the error"},
    {"retry_after", &Knobs::retry_after, "Retry-After seconds sent with errors, 0 = none"},
    {"reset_after_tokens", &Knobs::reset_after_tokens,
     "TCP RST after N streamed tokens (non-streaming: instead of answering), -1 = never"},
    {"malformed", &Knobs::malformed, "\"json\" (truncated body) or \"sse\" (broken event)"},
    {"slow_headers_ms", &Knobs::slow_headers_ms, "delay between response header lines (ms)"},
    {"hang", &Knobs::hang, "read the request and never answer"},
}};

const KnobSpec* FindKnob(std::string_view name) {
  const std::string canonical = CanonicalKnobName(name);
  for (const KnobSpec& spec : kKnobSpecs) {
    if (spec.name == canonical) return &spec;
  }
  return nullptr;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::string CanonicalKnobName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    c = (c == '-') ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string SetKnobFromJson(Knobs& knobs, std::string_view name, const nlohmann::json& value) {
  const KnobSpec* spec = FindKnob(name);
  if (spec == nullptr) return "unknown knob '" + std::string(name) + "'";
  const std::string bad = "bad value for knob '" + std::string(spec->name) + "': " + value.dump();
  return std::visit(
      [&](auto member) -> std::string {
        using T = std::remove_reference_t<decltype(knobs.*member)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          if (value.is_number_integer()) {
            knobs.*member = value.get<int64_t>();
          } else if (value.is_number_float() &&
                     std::trunc(value.get<double>()) == value.get<double>() &&
                     std::abs(value.get<double>()) < 9e15) {
            knobs.*member = static_cast<int64_t>(value.get<double>());
          } else {
            return bad;
          }
        } else if constexpr (std::is_same_v<T, double>) {
          if (!value.is_number()) return bad;
          knobs.*member = value.get<double>();
        } else if constexpr (std::is_same_v<T, bool>) {
          if (value.is_boolean()) {
            knobs.*member = value.get<bool>();
          } else if (value.is_number_integer() && (value == 0 || value == 1)) {
            knobs.*member = value.get<int64_t>() == 1;
          } else {
            return bad;
          }
        } else {
          if (value.is_null()) {
            knobs.*member = "";
          } else if (value.is_string()) {
            knobs.*member = value.get<std::string>();
          } else {
            return bad;
          }
        }
        return "";
      },
      spec->member);
}

std::string SetKnobFromString(Knobs& knobs, std::string_view name, std::string_view raw) {
  const KnobSpec* spec = FindKnob(name);
  if (spec == nullptr) return "unknown knob '" + std::string(name) + "'";
  const std::string text = Trim(raw);
  const std::string bad = "bad value for knob '" + std::string(spec->name) + "': '" + text + "'";
  const char* first = text.data();
  const char* last = text.data() + text.size();
  return std::visit(
      [&](auto member) -> std::string {
        using T = std::remove_reference_t<decltype(knobs.*member)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
          T parsed{};
          auto [ptr, ec] = std::from_chars(first, last, parsed);
          if (ec != std::errc() || ptr != last || text.empty()) return bad;
          knobs.*member = parsed;
        } else if constexpr (std::is_same_v<T, bool>) {
          const std::string lower = CanonicalKnobName(text);
          if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") {
            knobs.*member = true;
          } else if (lower == "false" || lower == "0" || lower == "no" || lower == "off") {
            knobs.*member = false;
          } else {
            return bad;
          }
        } else {
          knobs.*member = text;
        }
        return "";
      },
      spec->member);
}

std::string ValidateKnobs(const Knobs& k) {
  if (k.latency_ms < 0) return "latency_ms must be >= 0";
  if (k.tokens < 0 || k.tokens > 10'000'000) return "tokens must be in [0, 10000000]";
  if (!(k.tokens_per_second >= 0.0) || std::isinf(k.tokens_per_second)) {
    return "tokens_per_second must be a finite number >= 0";
  }
  if (k.error_status != 0 && (k.error_status < 200 || k.error_status > 599)) {
    return "error_status must be 0 or in [200, 599]";
  }
  if (k.error_count < 0) return "error_count must be >= 0";
  if (k.retry_after < 0) return "retry_after must be >= 0";
  if (k.reset_after_tokens < -1) return "reset_after_tokens must be >= -1";
  if (k.malformed != "" && k.malformed != "json" && k.malformed != "sse") {
    return "malformed must be \"\", \"json\" or \"sse\"";
  }
  if (k.slow_headers_ms < 0) return "slow_headers_ms must be >= 0";
  return "";
}

nlohmann::json KnobsToJson(const Knobs& knobs) {
  nlohmann::json out = nlohmann::json::object();
  for (const KnobSpec& spec : kKnobSpecs) {
    std::visit([&](auto member) { out[std::string(spec.name)] = knobs.*member; }, spec.member);
  }
  return out;
}

void AddKnobOptions(CLI::App& app, Knobs& knobs) {
  for (const KnobSpec& spec : kKnobSpecs) {
    std::string flag = "--" + std::string(spec.name);
    for (char& c : flag) {
      if (c == '_') c = '-';
    }
    std::visit(
        [&](auto member) {
          using T = std::remove_reference_t<decltype(knobs.*member)>;
          CLI::Option* option = app.add_option(flag, knobs.*member, std::string(spec.help));
          option->capture_default_str();
          if constexpr (std::is_same_v<T, bool>) {
            // `--hang`, `--hang true`, `--hang=false`: expected(0) marks the option
            // flag-like (a bare flag means true), expected(0, 1) then allows a value.
            option->expected(0)->expected(0, 1);
          }
        },
        spec.member);
  }
}

}  // namespace gantry::mock
