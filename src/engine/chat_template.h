// Chat templates: turning a conversation into the prompt text a model was trained on.
//
// Gemma 3 (the format of google/gemma-3-*-it's tokenizer_config.json chat template and
// of llama.cpp's built-in "gemma" template):
//   <start_of_turn>user\n{system}\n\n{first user message}<end_of_turn>\n
//   <start_of_turn>model\n{assistant message}<end_of_turn>\n
//   ...
//   <start_of_turn>model\n                       (the generation prompt)
// A system message has no turn of its own: it is prepended to the first user turn.
// "assistant" is spelled "model". Contents are trimmed of surrounding whitespace.
// Roles must alternate user / assistant after the optional system message. A lone
// system message becomes the user turn (HF's template would silently drop it).
// The template's leading <bos> is not part of the text: the tokenizer adds it
// (Encode(..., add_special=true)), so the prompt never carries two.
//
// Thread safety: pure functions.
#pragma once

#include <span>
#include <string>

#include "core/status.h"

namespace gantry::engine {

struct ChatTurn {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// kInvalidArgument naming the offending message (index and role) when the roles do
// not follow the rules above or the conversation is empty.
Result<std::string> RenderGemmaChat(std::span<const ChatTurn> turns, bool add_generation_prompt);

}  // namespace gantry::engine
