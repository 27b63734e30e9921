#include "engine/chat_template.h"

#include <string_view>

namespace gantry::engine {
namespace {

// Jinja's `trim`: Python's str.strip(), i.e. Unicode whitespace; ASCII whitespace is
// what chat contents carry in practice, and non-ASCII spaces are kept as content.
std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

}  // namespace

Result<std::string> RenderGemmaChat(std::span<const ChatTurn> turns, bool add_generation_prompt) {
  if (turns.empty()) return InvalidArgument("messages: at least one message is required");
  std::string out;
  std::string first_user_prefix;
  size_t start = 0;
  if (turns[0].role == "system") {
    first_user_prefix = std::string(Trim(turns[0].content)) + "\n\n";
    start = 1;
  }
  for (size_t i = start; i < turns.size(); ++i) {
    const ChatTurn& t = turns[i];
    const bool expect_user = (i - start) % 2 == 0;
    const std::string where = "messages[" + std::to_string(i) + "] (role '" + t.role + "')";
    if (t.role != "user" && t.role != "assistant") {
      return InvalidArgument(where + ": the Gemma chat format supports the roles system " +
                             "(first message only), user and assistant");
    }
    if ((t.role == "user") != expect_user) {
      return InvalidArgument(where + ": roles must alternate user/assistant/user/... after an " +
                             "optional system message");
    }
    out += "<start_of_turn>";
    out += t.role == "assistant" ? "model" : "user";
    out += "\n";
    if (i == start) out += first_user_prefix;
    out += Trim(t.content);
    out += "<end_of_turn>\n";
  }
  if (start == turns.size()) {
    // Only a system message. HF's template would drop it silently; Gemma has no system
    // turn, so it becomes the user turn instead.
    out += "<start_of_turn>user\n" + std::string(Trim(turns[0].content)) + "<end_of_turn>\n";
  }
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

}  // namespace gantry::engine
