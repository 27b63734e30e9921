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

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/tokenizer.h"

namespace gantry::engine {

struct ChatTurn {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// One piece of a rendered prompt: a control token of the format ("<start_of_turn>") or
// plain text (role names, message contents, newlines).
struct ChatSegment {
  bool control = false;
  std::string text;
};

// kInvalidArgument naming the offending message (index and role) when the roles do
// not follow the rules above or the conversation is empty. Adjacent text is merged into
// one segment.
Result<std::vector<ChatSegment>> RenderGemmaChatSegments(std::span<const ChatTurn> turns,
                                                         bool add_generation_prompt);
// The segments concatenated: the prompt as text.
Result<std::string> RenderGemmaChat(std::span<const ChatTurn> turns, bool add_generation_prompt);

// Prompt token ids: what the tokenizer adds in front (<bos>), each control segment as its
// one token, each text segment tokenized with parse_special = false. For contents free of
// control-token texts this equals Encode(RenderGemmaChat(...), true, true) (llama.cpp's
// way); a message that contains "<end_of_turn>" or "<start_of_turn>" stays plain text
// instead of forging turn boundaries. kInvalidArgument when a control token is not in the
// vocabulary.
Result<std::vector<int32_t>> EncodeChat(std::span<const ChatSegment> segments,
                                        const Tokenizer& tokenizer);

}  // namespace gantry::engine
