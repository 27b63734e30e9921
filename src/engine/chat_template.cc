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

Result<std::vector<ChatSegment>> RenderGemmaChatSegments(std::span<const ChatTurn> turns,
                                                         bool add_generation_prompt) {
  if (turns.empty()) return InvalidArgument("messages: at least one message is required");
  std::vector<ChatSegment> out;
  auto control = [&](std::string_view text) { out.push_back({true, std::string(text)}); };
  auto text = [&](std::string_view t) {
    if (t.empty()) return;
    if (!out.empty() && !out.back().control) {
      out.back().text += t;
    } else {
      out.push_back({false, std::string(t)});
    }
  };
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
    control("<start_of_turn>");
    text(t.role == "assistant" ? "model\n" : "user\n");
    if (i == start) text(first_user_prefix);
    text(Trim(t.content));
    control("<end_of_turn>");
    text("\n");
  }
  if (start == turns.size()) {
    // Only a system message. HF's template would drop it silently; Gemma has no system
    // turn, so it becomes the user turn instead.
    control("<start_of_turn>");
    text("user\n");
    text(Trim(turns[0].content));
    control("<end_of_turn>");
    text("\n");
  }
  if (add_generation_prompt) {
    control("<start_of_turn>");
    text("model\n");
  }
  return out;
}

Result<std::string> RenderGemmaChat(std::span<const ChatTurn> turns, bool add_generation_prompt) {
  ASSIGN_OR_RETURN(auto segments, RenderGemmaChatSegments(turns, add_generation_prompt));
  std::string out;
  for (const auto& s : segments) out += s.text;
  return out;
}

Result<std::vector<int32_t>> EncodeChat(std::span<const ChatSegment> segments,
                                        const Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  // The <bos> (or whatever the vocabulary adds in front) of an empty text.
  ASSIGN_OR_RETURN(ids, tokenizer.Encode("", /*add_special=*/true, /*parse_special=*/false));
  for (const auto& s : segments) {
    if (s.control) {
      auto id = tokenizer.TokenId(s.text);
      if (!id) return InvalidArgument("the model's vocabulary has no token '" + s.text + "'");
      ids.push_back(*id);
      continue;
    }
    ASSIGN_OR_RETURN(auto part, tokenizer.Encode(s.text, /*add_special=*/false,
                                                 /*parse_special=*/false));
    ids.insert(ids.end(), part.begin(), part.end());
  }
  return ids;
}

}  // namespace gantry::engine
