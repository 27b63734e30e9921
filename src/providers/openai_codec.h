// OpenAI wire format <-> typed requests and responses.
//
// Parse* functions validate: a wrong type, a missing required field or a value
// out of range is kInvalidArgument naming the field (e.g. "messages[1].role").
// They are used on client requests (server/) and on upstream answers
// (the OpenAI-compatible provider), so they are strict about types and lenient
// about unknown fields (kept in `extra`).
// Thread safety: pure functions.
#pragma once

#include "core/status.h"
#include "providers/chat_types.h"

namespace gantry::providers {

Result<ChatRequest> ParseChatRequest(const Json& body);
// `model` replaces request.model (the upstream's name for it).
Json ChatRequestToJson(const ChatRequest& request, const std::string& model);

Result<ChatResponse> ParseChatResponse(const Json& body);
Json ChatResponseToJson(const ChatResponse& response);

Result<ChatChunk> ParseChatChunk(const Json& body);
// `usage_field`: emit "usage" (null when absent), as OpenAI does when the client
// asked for stream_options.include_usage.
Json ChatChunkToJson(const ChatChunk& chunk, bool usage_field);

Result<EmbeddingRequest> ParseEmbeddingRequest(const Json& body);
Json EmbeddingRequestToJson(const EmbeddingRequest& request, const std::string& model);
Result<EmbeddingResponse> ParseEmbeddingResponse(const Json& body);
// Encodes vectors as floats or base64 (little-endian float32) per `encoding_format`.
Json EmbeddingResponseToJson(const EmbeddingResponse& response, const std::string& encoding_format);

Result<Usage> ParseUsage(const Json& body);
Json UsageToJson(const Usage& usage);

}  // namespace gantry::providers
