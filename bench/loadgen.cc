// gantry-loadgen: an open-loop HTTP/1.1 load client (Boost.Beast + C++20 coroutines).
//
// Usage:
//   gantry-loadgen --url http://127.0.0.1:PORT/v1/chat/completions --rate 1000 --duration 10
//       --connections 64 (--body FILE | --body-json STR) [--header "k: v"]... [--stream]
//       [--warmup 2] [--timeout 10]
//
// Open loop: request i is *scheduled* at start + i/rate, whatever happened to the
// requests before it, and its latency is measured from that scheduled time. A request
// that finds all --connections keep-alive connections busy waits (FIFO) for one, and
// that wait counts in its latency; so does any lag of the client itself. This avoids
// coordinated omission: a slow server cannot slow the client down and hide its stalls.
//
// Requests scheduled during --warmup seconds are sent but not recorded. Connections
// are opened before the warmup. With --stream, ttfb is the time to the first byte of
// the response body (the first SSE event) and latency the time to the end of it.
//
// Prints one JSON line to stdout: target and achieved rate, count, ok, errors (non-2xx,
// I/O, timeout), and latency (and ttfb) percentiles in ms over the successful requests.
// Exit status 0 when the run completed (even with errors), 2 on bad arguments or when
// the target cannot be reached.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
// GCC 12 reports false -Wmaybe-uninitialized positives inside Beast's parser.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop
#include <nlohmann/json.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);

struct Options {
  std::string url;
  double rate = 1000;
  double duration_s = 10;
  double warmup_s = 2;
  double timeout_s = 10;
  int connections = 64;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool stream = false;
};

struct Target {
  std::string host;
  std::string port;
  std::string target;  // Path and query.
};

std::optional<Target> ParseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return std::nullopt;
  const std::string rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  Target t;
  t.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty()) return std::nullopt;
  if (authority.front() == '[') {  // [v6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    t.host = authority.substr(1, close - 1);
    t.port = close + 1 < authority.size() && authority[close + 1] == ':'
                 ? authority.substr(close + 2)
                 : "80";
  } else {
    const size_t colon = authority.rfind(':');
    t.host = authority.substr(0, colon);
    t.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  }
  if (t.host.empty() || t.port.empty()) return std::nullopt;
  return t;
}

// One request to send: when it was due.
struct Job {
  Clock::time_point scheduled;
  bool measured = false;
};

struct Stats {
  std::vector<double> latency_ms;  // Successful, measured requests.
  std::vector<double> ttfb_ms;     // Same, --stream only.
  int64_t ok = 0;
  int64_t errors_status = 0;
  int64_t errors_io = 0;
  int64_t errors_timeout = 0;
  Clock::time_point last_done{};
  int busy = 0;
  int max_busy = 0;
  size_t max_queued = 0;
  double max_schedule_lag_ms = 0;
};

// One keep-alive connection, served by one coroutine.
struct Worker {
  explicit Worker(asio::io_context& ioc) : stream(ioc), wake(ioc, Clock::time_point::max()) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  bool connected = false;
  asio::steady_timer wake;  // Cancelled to hand this idle worker a job.
  std::optional<Job> job;
};

class LoadGen {
 public:
  LoadGen(asio::io_context& ioc, Options options, Target target, tcp::resolver::results_type eps)
      : ioc_(ioc),
        opt_(std::move(options)),
        target_(std::move(target)),
        endpoints_(std::move(eps)) {
    request_.method(http::verb::post);
    request_.target(target_.target);
    request_.version(11);
    request_.set(http::field::host, target_.host + ":" + target_.port);
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::user_agent, "gantry-loadgen");
    request_.keep_alive(true);
    for (const auto& [name, value] : opt_.headers) request_.set(name, value);
    request_.body() = opt_.body;
    request_.prepare_payload();
    for (int i = 0; i < opt_.connections; ++i) workers_.push_back(std::make_unique<Worker>(ioc_));
  }

  // Opens every connection; false if none could be opened.
  awaitable<bool> ConnectAll() {
    int connected = 0;
    for (auto& w : workers_) {
      if (co_await Connect(*w)) ++connected;
    }
    co_return connected > 0;
  }

  awaitable<void> Run() {
    for (auto& w : workers_) asio::co_spawn(ioc_, Serve(*w), asio::detached);
    asio::steady_timer timer(ioc_);
    const auto interval = std::chrono::duration<double>(1.0 / opt_.rate);
    const auto start = Clock::now();
    measure_start_ = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(opt_.warmup_s));
    const auto end = measure_start_ + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(opt_.duration_s));
    for (int64_t i = 0;; ++i) {
      const auto due =
          start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i));
      if (due >= end) break;
      if (Clock::now() < due) {
        timer.expires_at(due);
        co_await timer.async_wait(kAsTuple);
      }
      const double lag = Ms(Clock::now() - due);
      if (due >= measure_start_)
        stats_.max_schedule_lag_ms = std::max(stats_.max_schedule_lag_ms, lag);
      Dispatch(Job{due, due >= measure_start_});
    }
    scheduling_done_ = true;
    // Wake idle workers so that they notice the end; busy ones exit after their job.
    while (!idle_.empty()) {
      Worker* w = idle_.front();
      idle_.pop_front();
      w->wake.cancel();
    }
  }

  const Stats& stats() const { return stats_; }
  const Options& options() const { return opt_; }
  Clock::time_point measure_start() const { return measure_start_; }

 private:
  static double Ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  }

  void Dispatch(Job job) {
    if (!idle_.empty()) {
      Worker* w = idle_.front();
      idle_.pop_front();
      w->job = job;
      w->wake.cancel();
      return;
    }
    pending_.push_back(job);
    stats_.max_queued = std::max(stats_.max_queued, pending_.size());
  }

  awaitable<bool> Connect(Worker& w) {
    beast::error_code ignored;
    w.stream.socket().close(ignored);
    w.buffer.clear();
    w.stream.expires_after(
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt_.timeout_s)));
    auto [ec, ep] = co_await w.stream.async_connect(endpoints_, kAsTuple);
    w.stream.expires_never();
    if (ec) {
      w.connected = false;
      co_return false;
    }
    w.stream.socket().set_option(tcp::no_delay(true), ignored);
    w.connected = true;
    co_return true;
  }

  awaitable<void> Serve(Worker& w) {
    for (;;) {
      if (!w.job && !pending_.empty()) {
        w.job = pending_.front();
        pending_.pop_front();
      }
      if (!w.job) {
        if (scheduling_done_) co_return;
        idle_.push_back(&w);
        w.wake.expires_at(Clock::time_point::max());
        co_await w.wake.async_wait(kAsTuple);  // Cancelled by Dispatch or the end of Run.
        continue;
      }
      const Job job = *w.job;
      w.job.reset();
      ++stats_.busy;
      stats_.max_busy = std::max(stats_.max_busy, stats_.busy);
      co_await Send(w, job);
      --stats_.busy;
    }
  }

  enum class Result { kOk, kStatus, kIo, kTimeout };

  awaitable<void> Send(Worker& w, const Job& job) {
    std::optional<Clock::time_point> first_body;
    Result result = Result::kIo;
    if (!w.connected) co_await Connect(w);
    if (w.connected) {
      w.stream.expires_after(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(opt_.timeout_s)));
      result = co_await Exchange(w, first_body);
      w.stream.expires_never();
    }
    const auto done = Clock::now();
    if (!job.measured) co_return;
    stats_.last_done = std::max(stats_.last_done, done);
    switch (result) {
      case Result::kOk:
        ++stats_.ok;
        stats_.latency_ms.push_back(Ms(done - job.scheduled));
        if (opt_.stream) stats_.ttfb_ms.push_back(Ms(first_body.value_or(done) - job.scheduled));
        break;
      case Result::kStatus:
        ++stats_.errors_status;
        break;
      case Result::kIo:
        ++stats_.errors_io;
        break;
      case Result::kTimeout:
        ++stats_.errors_timeout;
        break;
    }
  }

  // Writes the request and reads the whole response on a connected worker.
  awaitable<Result> Exchange(Worker& w, std::optional<Clock::time_point>& first_body) {
    auto fail = [&w](const beast::error_code& ec) {
      beast::error_code ignored;
      w.stream.socket().close(ignored);
      w.connected = false;
      return ec == beast::error::timeout ? Result::kTimeout : Result::kIo;
    };
    auto [wec, written] = co_await http::async_write(w.stream, request_, kAsTuple);
    if (wec) co_return fail(wec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    auto [hec, header_bytes] =
        co_await http::async_read_header(w.stream, w.buffer, parser, kAsTuple);
    if (hec) co_return fail(hec);
    while (!parser.is_done()) {
      auto [ec, n] = co_await http::async_read_some(w.stream, w.buffer, parser, kAsTuple);
      if (ec) co_return fail(ec);
      if (!first_body && !parser.get().body().empty()) first_body = Clock::now();
      parser.get().body().clear();  // Streams can be long; only timing matters.
    }
    if (!first_body) first_body = Clock::now();
    const auto& res = parser.get();
    if (!res.keep_alive()) {
      beast::error_code ignored;
      w.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      w.stream.socket().close(ignored);
      w.connected = false;
    }
    const unsigned status = res.result_int();
    co_return status >= 200 && status < 300 ? Result::kOk : Result::kStatus;
  }

  asio::io_context& ioc_;
  Options opt_;
  Target target_;
  tcp::resolver::results_type endpoints_;
  http::request<http::string_body> request_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::deque<Worker*> idle_;
  std::deque<Job> pending_;  // Due but waiting for a free connection.
  bool scheduling_done_ = false;
  Clock::time_point measure_start_{};
  Stats stats_;
};

double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

// Nearest-rank percentile of sorted values.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

nlohmann::json Summary(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (double v : values) sum += v;
  return {
      {"p50", Round3(Percentile(values, 50))},
      {"p90", Round3(Percentile(values, 90))},
      {"p99", Round3(Percentile(values, 99))},
      {"p99.9", Round3(Percentile(values, 99.9))},
      {"max", Round3(values.empty() ? 0 : values.back())},
      {"mean", Round3(values.empty() ? 0 : sum / static_cast<double>(values.size()))},
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gantry-loadgen: open-loop HTTP/1.1 load client (constant request rate)"};
  Options opt;
  std::string body_file;
  std::string body_json;
  std::vector<std::string> header_args;
  app.add_option("--url", opt.url, "http://HOST:PORT/PATH")->required();
  app.add_option("--rate", opt.rate, "requests per second (scheduled)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e7));
  app.add_option("--duration", opt.duration_s, "measured seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--warmup", opt.warmup_s, "seconds sent before measuring (not recorded)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--timeout", opt.timeout_s, "per-request timeout in seconds (counts as error)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--connections", opt.connections, "keep-alive connection pool size")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  auto* body_file_opt =
      app.add_option("--body", body_file, "file holding the POST body")->check(CLI::ExistingFile);
  auto* body_json_opt = app.add_option("--body-json", body_json, "the POST body itself");
  body_file_opt->excludes(body_json_opt);
  app.add_option("--header", header_args, "extra request header \"Name: value\" (repeatable)");
  app.add_flag("--stream", opt.stream, "also measure time to first body byte (SSE)");
  CLI11_PARSE(app, argc, argv);

  if (!body_file.empty()) {
    std::ifstream in(body_file, std::ios::binary);
    std::ostringstream contents;
    contents << in.rdbuf();
    opt.body = contents.str();
  } else if (!body_json.empty()) {
    opt.body = body_json;
  } else {
    std::cerr << "gantry-loadgen: pass --body FILE or --body-json STR\n";
    return 2;
  }
  for (const std::string& h : header_args) {
    const size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "gantry-loadgen: --header must be \"Name: value\", got '" << h << "'\n";
      return 2;
    }
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    opt.headers.emplace_back(h.substr(0, colon), value);
  }
  const std::optional<Target> target = ParseUrl(opt.url);
  if (!target) {
    std::cerr << "gantry-loadgen: --url must look like http://HOST:PORT/PATH\n";
    return 2;
  }

  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context ioc(1);
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(target->host, target->port, ec);
  if (ec || endpoints.empty()) {
    std::cerr << "gantry-loadgen: cannot resolve " << target->host << ": " << ec.message() << "\n";
    return 2;
  }

  LoadGen gen(ioc, opt, *target, endpoints);
  bool reachable = false;
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        reachable = co_await gen.ConnectAll();
        if (reachable) co_await gen.Run();
      },
      asio::detached);
  ioc.run();
  if (!reachable) {
    std::cerr << "gantry-loadgen: cannot connect to " << target->host << ":" << target->port
              << "\n";
    return 2;
  }

  const Stats& s = gen.stats();
  const int64_t errors = s.errors_status + s.errors_io + s.errors_timeout;
  const int64_t count = s.ok + errors;
  const double elapsed =
      count > 0 ? std::chrono::duration<double>(s.last_done - gen.measure_start()).count() : 0;
  nlohmann::json out = {
      {"url", opt.url},
      {"stream", opt.stream},
      {"target_rate", opt.rate},
      {"achieved_rate", Round3(elapsed > 0 ? static_cast<double>(count) / elapsed : 0)},
      {"duration_s", opt.duration_s},
      {"warmup_s", opt.warmup_s},
      {"connections", opt.connections},
      {"count", count},
      {"ok", s.ok},
      {"errors", errors},
      {"errors_status", s.errors_status},
      {"errors_io", s.errors_io},
      {"errors_timeout", s.errors_timeout},
      {"max_busy_connections", s.max_busy},
      {"max_queued", s.max_queued},
      {"max_schedule_lag_ms", Round3(s.max_schedule_lag_ms)},
      {"latency_ms", Summary(s.latency_ms)},
  };
  if (opt.stream) out["ttfb_ms"] = Summary(s.ttfb_ms);
  std::cout << out.dump() << std::endl;
  return 0;
}
