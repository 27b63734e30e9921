// Connection handling of gantry-mock-upstream (see connection.h).
//
// Responses are written as raw bytes (status line, header lines, body) so that
// slow_headers_ms can dribble the header lines and streaming can frame each SSE
// event as exactly one HTTP chunk. While the mock waits (latency, pacing, slow
// headers, hang) it keeps a read pending on the socket, so a client that goes
// away is noticed at once and counted as `aborted`.

#include "connection.h"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/string.hpp>
// GCC 12 with -fsanitize=address -O2 reports false -Wmaybe-uninitialized
// positives inside Beast's parser (boost::optional); keep -Werror builds green.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop
#include <nlohmann/json.hpp>

#include "knobs.h"
#include "openai_bodies.h"

namespace gantry::mock {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr uint64_t kMaxBodyBytes = 64ull << 20;
constexpr size_t kMaxBufferedBytes = 1u << 20;  // Read-ahead kept while watching the peer.
constexpr size_t kWatchReadBytes = 4096;

using Request = http::request<http::string_body>;

template <typename T>
constexpr bool kIsTls = false;
template <typename T>
constexpr bool kIsTls<asio::ssl::stream<T>> = true;

enum class Outcome { kKeepAlive, kClose, kDrop };

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class ActiveGuard {
 public:
  explicit ActiveGuard(std::atomic<int64_t>& counter) : counter_(counter) { ++counter_; }
  ~ActiveGuard() { --counter_; }
  ActiveGuard(const ActiveGuard&) = delete;
  ActiveGuard& operator=(const ActiveGuard&) = delete;

 private:
  std::atomic<int64_t>& counter_;
};

std::string StatusLine(int status) {
  std::string_view reason =
      http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)));
  if (reason.starts_with('<')) reason = "Unknown";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
}

template <typename Json>
std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = beast::detail::ascii_tolower(c);
  return out;
}

Response ErrorResponse(const ApiError& error) {
  Response response;
  response.status = error.status;
  response.body = ErrorBody(error);
  return response;
}

ApiError BadRequest(std::string message, std::string param = "") {
  ApiError error;
  error.message = std::move(message);
  error.param = std::move(param);
  return error;
}

Response NotFound(const Request& req, std::string_view path) {
  ApiError error;
  error.status = 404;
  error.message = "Unknown request URL: " + std::string(req.method_string()) + " " +
                  std::string(path) +
                  ". Please check the URL for typos, or see the docs at "
                  "https://platform.openai.com/docs/api-reference/.";
  error.code = "unknown_url";
  return ErrorResponse(error);
}

Response MethodNotAllowed(const Request& req, std::string_view allow) {
  ApiError error;
  error.status = 405;
  error.message = "Method " + std::string(req.method_string()) + " not allowed; use " +
                  std::string(allow) + ".";
  error.code = "method_not_allowed";
  Response response = ErrorResponse(error);
  response.headers.emplace_back("Allow", std::string(allow));
  return response;
}

template <typename Stream>
class Connection {
 public:
  Connection(Stream stream, ServerContext& ctx)
      : stream_(std::move(stream)), ctx_(ctx), state_(ctx.state) {}

  awaitable<void> Run();

 private:
  awaitable<Outcome> Dispatch(const Request& req);
  awaitable<Outcome> HandleControl(const Request& req, std::string_view path);
  awaitable<Outcome> HandleChat(const Request& req);
  awaitable<Outcome> HandleEmbeddings(const Request& req);
  awaitable<Outcome> StreamChat(const ChatRequest& chat, const Knobs& knobs, std::string_view id,
                                int64_t created, int64_t tokens, std::string_view finish_reason);

  // Effective knobs (process defaults + x-mock-* headers) and the error to inject.
  std::optional<ApiError> RequestKnobs(const Request& req, Knobs& knobs, int& error_status);
  // hang / latency / error / reset; nullopt means "produce the normal response".
  awaitable<std::optional<Outcome>> InjectFaults(const Knobs& knobs, int error_status,
                                                 bool streaming);
  void Record(const Request& req);

  // Writes a complete response. `api` marks chat/embedding requests, whose
  // failed writes count as aborted.
  awaitable<Outcome> Send(Response response, int64_t slow_headers_ms, bool api);
  awaitable<bool> WriteHead(std::string status_line, std::vector<std::string> header_lines,
                            std::string_view body, int64_t slow_headers_ms);
  awaitable<bool> WriteEvent(std::string_view payload);
  awaitable<bool> Write(std::string_view data);
  awaitable<bool> Write(std::string_view head, std::string_view body);

  // Sleeps for `duration`; false if the peer went away meanwhile.
  awaitable<bool> SleepWatching(std::chrono::steady_clock::duration duration);
  // Completes when the peer closes the connection (or the read is cancelled).
  awaitable<void> WatchPeer();
  void ResetConnection();
  awaitable<void> Close(Outcome outcome);

  Outcome Aborted() {
    ++state_.stats().aborted;
    return Outcome::kDrop;
  }
  Outcome Done() const { return keep_alive_ ? Outcome::kKeepAlive : Outcome::kClose; }

  Stream stream_;
  ServerContext& ctx_;
  MockState& state_;
  beast::flat_buffer buffer_;
  bool keep_alive_ = true;
  bool chunked_ = true;  // HTTP/1.1 client: streams use chunked encoding.
  std::string request_id_;
};

template <typename Stream>
awaitable<void> Connection<Stream>::Run() {
  if constexpr (kIsTls<Stream>) {
    auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, kAsTuple);
    if (ec) {
      co_await Close(Outcome::kDrop);
      co_return;
    }
  }
  Outcome outcome = Outcome::kClose;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBodyBytes);
    auto [ec, n] = co_await http::async_read_header(stream_, buffer_, parser, kAsTuple);
    if (!ec && !parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        const bool ok = co_await Write("HTTP/1.1 100 Continue\r\n\r\n");
        if (!ok) break;
      }
      std::tie(ec, n) = co_await http::async_read(stream_, buffer_, parser, kAsTuple);
    }
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        keep_alive_ = false;
        request_id_.clear();
        Response response = ErrorResponse(BadRequest("malformed HTTP request: " + ec.message()));
        if (ec == http::error::body_limit) response.status = 413;
        outcome = co_await Send(std::move(response), 0, false);
        outcome = outcome == Outcome::kDrop ? outcome : Outcome::kClose;
      }
      break;
    }
    Request req = parser.release();
    outcome = co_await Dispatch(req);
    if (outcome != Outcome::kKeepAlive) break;
  }
  co_await Close(outcome);
}

template <typename Stream>
awaitable<Outcome> Connection<Stream>::Dispatch(const Request& req) {
  keep_alive_ = req.keep_alive();
  chunked_ = req.version() >= 11;
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  if (path.starts_with("/_mock/")) co_return co_await HandleControl(req, path);

  Stats& stats = state_.stats();
  ++stats.requests;
  ActiveGuard active(stats.active);
  Record(req);
  request_id_ = "req_mock_" + std::to_string(state_.NextRequestId());

  const http::verb method = req.method();
  if (!ctx_.require_key.empty() && path.starts_with("/v1/") &&
      req[http::field::authorization] != "Bearer " + ctx_.require_key) {
    ApiError error;
    error.status = 401;
    error.message = "Incorrect API key provided";
    error.code = "invalid_api_key";
    co_return co_await Send(ErrorResponse(error), 0, false);
  }
  if (path == "/v1/chat/completions") {
    if (method == http::verb::post) co_return co_await HandleChat(req);
    co_return co_await Send(MethodNotAllowed(req, "POST"), 0, false);
  }
  if (path == "/v1/embeddings") {
    if (method == http::verb::post) co_return co_await HandleEmbeddings(req);
    co_return co_await Send(MethodNotAllowed(req, "POST"), 0, false);
  }
  if (path == "/v1/models" || path.starts_with("/v1/models/")) {
    if (method != http::verb::get) co_return co_await Send(MethodNotAllowed(req, "GET"), 0, false);
    Response response;
    if (path == "/v1/models") {
      response.body = ModelsBody();
    } else if (auto body = ModelBody(path.substr(std::string_view("/v1/models/").size()))) {
      response.body = std::move(*body);
    } else {
      ApiError error;
      error.status = 404;
      error.message = "The model '" + std::string(path.substr(11)) + "' does not exist";
      error.param = "model";
      error.code = "model_not_found";
      response = ErrorResponse(error);
    }
    co_return co_await Send(std::move(response), 0, false);
  }
  co_return co_await Send(NotFound(req, path), 0, false);
}

template <typename Stream>
awaitable<Outcome> Connection<Stream>::HandleControl(const Request& req, std::string_view path) {
  request_id_.clear();
  const http::verb method = req.method();
  Response response;
  if (path == "/_mock/config") {
    if (method == http::verb::get) {
      response.body = Dump(state_.ConfigJson());
    } else if (method == http::verb::post) {
      const std::string_view text = req.body().empty() ? "{}" : std::string_view(req.body());
      const nlohmann::json patch = nlohmann::json::parse(text, nullptr, false);
      std::string error =
          patch.is_discarded() ? "config body is not valid JSON" : state_.ApplyConfig(patch);
      response = error.empty() ? Response{200, "application/json", Dump(state_.ConfigJson()), {}}
                               : ErrorResponse(BadRequest(error));
    } else {
      response = MethodNotAllowed(req, "GET, POST");
    }
  } else if (path == "/_mock/reset") {
    if (method == http::verb::post) {
      state_.Reset();
      response.body = R"({"ok":true})";
    } else {
      response = MethodNotAllowed(req, "POST");
    }
  } else if (path == "/_mock/stats") {
    response = method == http::verb::get
                   ? Response{200, "application/json", Dump(state_.StatsJson()), {}}
                   : MethodNotAllowed(req, "GET");
  } else {
    response = NotFound(req, path);
  }
  co_return co_await Send(std::move(response), 0, false);
}

template <typename Stream>
void Connection<Stream>::Record(const Request& req) {
  RecordedRequest record;
  record.method = std::string(req.method_string());
  record.path = std::string(req.target());
  for (const auto& field : req) {
    record.headers.emplace_back(Lower(field.name_string()), std::string(field.value()));
  }
  record.body = req.body();
  state_.Record(std::move(record));
}

template <typename Stream>
std::optional<ApiError> Connection<Stream>::RequestKnobs(const Request& req, Knobs& knobs,
                                                         int& error_status) {
  constexpr std::string_view kPrefix = "x-mock-";
  knobs = state_.CurrentKnobs();
  bool status_overridden = false;
  for (const auto& field : req) {
    const std::string_view name = field.name_string();
    if (name.size() <= kPrefix.size() || !beast::iequals(name.substr(0, kPrefix.size()), kPrefix)) {
      continue;
    }
    const std::string knob = CanonicalKnobName(name.substr(kPrefix.size()));
    if (std::string error = SetKnobFromString(knobs, knob, field.value()); !error.empty()) {
      return BadRequest("header " + std::string(name) + ": " + error);
    }
    status_overridden = status_overridden || knob == "error_status";
  }
  if (std::string error = ValidateKnobs(knobs); !error.empty()) return BadRequest(error);
  error_status = status_overridden ? static_cast<int>(knobs.error_status) : state_.ConsumeError();
  return std::nullopt;
}

template <typename Stream>
awaitable<std::optional<Outcome>> Connection<Stream>::InjectFaults(const Knobs& knobs,
                                                                   int error_status,
                                                                   bool streaming) {
  if (knobs.hang) {
    co_await WatchPeer();
    co_return Aborted();
  }
  if (knobs.latency_ms > 0) {
    const bool alive = co_await SleepWatching(std::chrono::milliseconds(knobs.latency_ms));
    if (!alive) co_return Aborted();
  }
  if (error_status != 0) {
    Response response = ErrorResponse(MockError(error_status));
    if (knobs.retry_after > 0) {
      response.headers.emplace_back("Retry-After", std::to_string(knobs.retry_after));
    }
    co_return co_await Send(std::move(response), knobs.slow_headers_ms, true);
  }
  if (!streaming && knobs.reset_after_tokens >= 0) {
    ResetConnection();
    co_return Outcome::kDrop;
  }
  co_return std::nullopt;
}

template <typename Stream>
awaitable<Outcome> Connection<Stream>::HandleChat(const Request& req) {
  ++state_.stats().chat_requests;
  const nlohmann::json body = nlohmann::json::parse(req.body(), nullptr, false);
  ChatRequest chat;
  Knobs knobs;
  int error_status = 0;
  std::optional<ApiError> error = ParseChatRequest(body, chat);
  if (!error) error = RequestKnobs(req, knobs, error_status);
  if (error) co_return co_await Send(ErrorResponse(*error), 0, true);

  std::optional<Outcome> early = co_await InjectFaults(knobs, error_status, chat.stream);
  if (early) co_return *early;

  int64_t tokens = knobs.tokens;
  std::string_view finish_reason = "stop";
  if (chat.max_tokens && *chat.max_tokens < tokens) {
    tokens = *chat.max_tokens;
    finish_reason = "length";
  }
  const std::string id = "chatcmpl-mock-" + std::to_string(state_.NextCompletionId());
  const int64_t created = static_cast<int64_t>(std::time(nullptr));
  if (chat.stream) {
    co_return co_await StreamChat(chat, knobs, id, created, tokens, finish_reason);
  }
  Response response;
  response.body = ChatCompletionBody(id, created, chat, tokens, finish_reason);
  if (knobs.malformed == "json") response.body.resize(response.body.size() / 2);
  co_return co_await Send(std::move(response), knobs.slow_headers_ms, true);
}

template <typename Stream>
awaitable<Outcome> Connection<Stream>::StreamChat(const ChatRequest& chat, const Knobs& knobs,
                                                  std::string_view id, int64_t created,
                                                  int64_t tokens, std::string_view finish_reason) {
  Stats& stats = state_.stats();
  ++stats.streams_started;
  std::vector<std::string> headers = {"Content-Type: text/event-stream\r\n",
                                      "Cache-Control: no-cache\r\n",
                                      "x-request-id: " + request_id_ + "\r\n"};
  if (chunked_) {
    headers.emplace_back("Transfer-Encoding: chunked\r\n");
  } else {
    keep_alive_ = false;  // HTTP/1.0: the body ends when the connection does.
  }
  if (!keep_alive_) headers.emplace_back("Connection: close\r\n");
  if (!co_await WriteHead(StatusLine(200), std::move(headers), {}, knobs.slow_headers_ms)) {
    co_return Aborted();
  }

  const ChunkBuilder builder(id, created, chat.model, chat.include_usage);
  if (!co_await WriteEvent(builder.RoleChunk())) co_return Aborted();
  const auto interval = knobs.tokens_per_second > 0
                            ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(1.0 / knobs.tokens_per_second))
                            : std::chrono::steady_clock::duration::zero();
  for (int64_t i = 0; i < tokens; ++i) {
    if (knobs.reset_after_tokens == i) {
      ResetConnection();
      co_return Outcome::kDrop;
    }
    if (i > 0 && interval > std::chrono::steady_clock::duration::zero()) {
      const bool alive = co_await SleepWatching(interval);
      if (!alive) co_return Aborted();
    }
    if (!co_await WriteEvent(builder.TokenChunk(i))) co_return Aborted();
    if (i == 0 && knobs.malformed == "sse") {
      if (!co_await WriteEvent("{\"id\": broken")) co_return Aborted();
    }
  }
  if (knobs.reset_after_tokens == tokens) {
    ResetConnection();
    co_return Outcome::kDrop;
  }
  if (!co_await WriteEvent(builder.FinishChunk(finish_reason))) co_return Aborted();
  if (chat.include_usage) {
    if (!co_await WriteEvent(builder.UsageChunk(chat.prompt_tokens, tokens))) co_return Aborted();
  }
  if (!co_await WriteEvent("[DONE]")) co_return Aborted();
  if (chunked_ && !co_await Write("0\r\n\r\n")) co_return Aborted();
  ++stats.streams_completed;
  co_return Done();
}

template <typename Stream>
awaitable<Outcome> Connection<Stream>::HandleEmbeddings(const Request& req) {
  ++state_.stats().embedding_requests;
  const nlohmann::json body = nlohmann::json::parse(req.body(), nullptr, false);
  EmbeddingRequest embedding;
  Knobs knobs;
  int error_status = 0;
  std::optional<ApiError> error = ParseEmbeddingRequest(body, embedding);
  if (!error) error = RequestKnobs(req, knobs, error_status);
  if (error) co_return co_await Send(ErrorResponse(*error), 0, true);

  std::optional<Outcome> early = co_await InjectFaults(knobs, error_status, false);
  if (early) co_return *early;

  Response response;
  response.body = EmbeddingsBody(embedding);
  if (knobs.malformed == "json") response.body.resize(response.body.size() / 2);
  co_return co_await Send(std::move(response), knobs.slow_headers_ms, true);
}

template <typename Stream>
awaitable<Outcome> Connection<Stream>::Send(Response response, int64_t slow_headers_ms, bool api) {
  std::vector<std::string> lines;
  lines.reserve(5 + response.headers.size());
  lines.push_back("Content-Type: " + response.content_type + "\r\n");
  lines.push_back("Content-Length: " + std::to_string(response.body.size()) + "\r\n");
  if (!request_id_.empty()) lines.push_back("x-request-id: " + request_id_ + "\r\n");
  for (const auto& [name, value] : response.headers) lines.push_back(name + ": " + value + "\r\n");
  if (!keep_alive_) lines.emplace_back("Connection: close\r\n");
  const bool ok = co_await WriteHead(StatusLine(response.status), std::move(lines), response.body,
                                     slow_headers_ms);
  if (!ok) co_return api ? Aborted() : Outcome::kDrop;
  co_return Done();
}

template <typename Stream>
awaitable<bool> Connection<Stream>::WriteHead(std::string status_line,
                                              std::vector<std::string> header_lines,
                                              std::string_view body, int64_t slow_headers_ms) {
  if (slow_headers_ms <= 0) {
    std::string head = std::move(status_line);
    for (const std::string& line : header_lines) head += line;
    head += "\r\n";
    co_return co_await Write(head, body);
  }
  const std::chrono::milliseconds delay(slow_headers_ms);
  if (!co_await Write(status_line)) co_return false;
  for (const std::string& line : header_lines) {
    if (!co_await SleepWatching(delay)) co_return false;
    if (!co_await Write(line)) co_return false;
  }
  if (!co_await SleepWatching(delay)) co_return false;
  co_return co_await Write("\r\n", body);
}

template <typename Stream>
awaitable<bool> Connection<Stream>::WriteEvent(std::string_view payload) {
  const size_t size = payload.size() + 8;  // "data: " + payload + "\n\n"
  std::string event;
  event.reserve(size + 16);
  if (chunked_) {
    char hex[17];
    const auto [end, ec] = std::to_chars(hex, hex + sizeof(hex), size, 16);
    event.append(hex, end);
    event += "\r\n";
  }
  event += "data: ";
  event += payload;
  event += "\n\n";
  if (chunked_) event += "\r\n";
  co_return co_await Write(event);
}

template <typename Stream>
awaitable<bool> Connection<Stream>::Write(std::string_view data) {
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(data), kAsTuple);
  co_return !ec;
}

template <typename Stream>
awaitable<bool> Connection<Stream>::Write(std::string_view head, std::string_view body) {
  const std::array<asio::const_buffer, 2> buffers = {asio::buffer(head), asio::buffer(body)};
  auto [ec, n] = co_await asio::async_write(stream_, buffers, kAsTuple);
  co_return !ec;
}

template <typename Stream>
awaitable<bool> Connection<Stream>::SleepWatching(std::chrono::steady_clock::duration duration) {
  if (duration <= std::chrono::steady_clock::duration::zero()) co_return true;
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  auto winner = co_await (timer.async_wait(kAsTuple) || WatchPeer());
  co_return winner.index() == 0;
}

template <typename Stream>
awaitable<void> Connection<Stream>::WatchPeer() {
  for (;;) {
    if (buffer_.size() >= kMaxBufferedBytes) {
      // The client keeps sending; stop reading and just wait to be cancelled.
      asio::steady_timer forever(co_await asio::this_coro::executor,
                                 asio::steady_timer::time_point::max());
      co_await forever.async_wait(kAsTuple);
      co_return;
    }
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kWatchReadBytes), kAsTuple);
    buffer_.commit(n);  // Pipelined bytes stay available for the next request.
    if (ec) co_return;
  }
}

template <typename Stream>
void Connection<Stream>::ResetConnection() {
  auto& socket = beast::get_lowest_layer(stream_);
  boost::system::error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

template <typename Stream>
awaitable<void> Connection<Stream>::Close(Outcome outcome) {
  auto& socket = beast::get_lowest_layer(stream_);
  if (!socket.is_open()) co_return;
  if constexpr (kIsTls<Stream>) {
    if (outcome == Outcome::kClose) {
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(200));
      co_await (stream_.async_shutdown(kAsTuple) || timer.async_wait(kAsTuple));
    }
  }
  boost::system::error_code ignored;
  if (outcome != Outcome::kDrop) socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

}  // namespace

awaitable<void> ServePlain(tcp::socket socket, ServerContext& ctx) {
  Connection<tcp::socket> connection(std::move(socket), ctx);
  co_await connection.Run();
}

awaitable<void> ServeTls(tcp::socket socket, asio::ssl::context& tls, ServerContext& ctx) {
  Connection<asio::ssl::stream<tcp::socket>> connection(
      asio::ssl::stream<tcp::socket>(std::move(socket), tls), ctx);
  co_await connection.Run();
}

}  // namespace gantry::mock
