#include "providers/openai_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "core/ids.h"

namespace gantry::providers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Json MinimalRequest() {
  return Json::parse(R"({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})");
}

Json FullRequest() {
  return Json::parse(R"({
    "model": "gpt-4o",
    "messages": [
      {"role": "system", "content": "be brief"},
      {"role": "developer", "content": "dev note"},
      {"role": "user", "name": "alice",
       "content": [{"type": "text", "text": "look"},
                   {"type": "image_url", "image_url": {"url": "http://x/y.png"}},
                   {"type": "text", "text": "here"}]},
      {"role": "assistant", "content": null, "refusal": null,
       "tool_calls": [{"id": "call_1", "type": "function",
                       "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "42"}
    ],
    "stream": true,
    "stream_options": {"include_usage": true},
    "temperature": 0.5,
    "top_p": 0.9,
    "presence_penalty": -1.5,
    "frequency_penalty": 1.25,
    "max_tokens": 100,
    "n": 2,
    "seed": -7,
    "stop": ["END", "STOP"],
    "logprobs": true,
    "top_logprobs": 3,
    "response_format": {"type": "json_object"},
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "tool_choice": "auto",
    "user": "u-1",
    "metadata": {"k": "v"},
    "parallel_tool_calls": false
  })");
}

Status ParseError(const Json& body) {
  auto r = ParseChatRequest(body);
  return r.ok() ? OkStatus() : r.status();
}

TEST(ChatRequestTest, ParsesFullRequest) {
  auto r = ParseChatRequest(FullRequest());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model, "gpt-4o");
  ASSERT_EQ(r->messages.size(), 5u);
  EXPECT_EQ(r->messages[0].role, "system");
  EXPECT_EQ(r->messages[0].Text(), "be brief");
  EXPECT_EQ(r->messages[1].role, "developer");
  EXPECT_EQ(r->messages[2].name, "alice");
  EXPECT_EQ(r->messages[2].Text(), "look\nhere");
  EXPECT_TRUE(r->messages[3].content.is_null());
  ASSERT_TRUE(r->messages[3].tool_calls.is_array());
  EXPECT_EQ(r->messages[3].tool_calls[0]["id"], "call_1");
  EXPECT_TRUE(r->messages[3].extra.contains("refusal"));
  EXPECT_EQ(r->messages[4].tool_call_id, "call_1");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_DOUBLE_EQ(*r->temperature, 0.5);
  EXPECT_DOUBLE_EQ(*r->top_p, 0.9);
  EXPECT_DOUBLE_EQ(*r->presence_penalty, -1.5);
  EXPECT_DOUBLE_EQ(*r->frequency_penalty, 1.25);
  EXPECT_EQ(r->max_tokens, 100);
  EXPECT_EQ(r->n, 2);
  EXPECT_EQ(r->seed, -7);
  EXPECT_THAT(r->stop, ElementsAre("END", "STOP"));
  EXPECT_TRUE(r->logprobs);
  EXPECT_EQ(r->top_logprobs, 3);
  EXPECT_EQ(r->response_format["type"], "json_object");
  EXPECT_EQ(r->tools[0]["function"]["name"], "f");
  EXPECT_EQ(r->tool_choice, "auto");
  EXPECT_EQ(r->user, "u-1");
  // Unknown fields are kept, known ones are not duplicated there.
  EXPECT_EQ(r->extra, Json::parse(R"({"metadata": {"k": "v"}, "parallel_tool_calls": false})"));
}

TEST(ChatRequestTest, MinimalDefaults) {
  auto r = ParseChatRequest(MinimalRequest());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->include_usage);
  EXPECT_FALSE(r->temperature.has_value());
  EXPECT_FALSE(r->max_tokens.has_value());
  EXPECT_TRUE(r->stop.empty());
  EXPECT_TRUE(r->tools.is_null());
  EXPECT_TRUE(r->extra.empty());
}

TEST(ChatRequestTest, StopAsString) {
  Json b = MinimalRequest();
  b["stop"] = "END";
  auto r = ParseChatRequest(b);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->stop, ElementsAre("END"));
}

TEST(ChatRequestTest, MaxCompletionTokensOverridesMaxTokens) {
  Json b = MinimalRequest();
  b["max_tokens"] = 100;
  b["max_completion_tokens"] = 20;
  auto r = ParseChatRequest(b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->max_tokens, 20);
  b.erase("max_tokens");
  EXPECT_EQ(ParseChatRequest(b)->max_tokens, 20);
}

TEST(ChatRequestTest, RejectsInvalidRequests) {
  struct Case {
    std::string name;
    std::function<void(Json&)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"missing model", [](Json& b) { b.erase("model"); }, "model"},
      {"empty model", [](Json& b) { b["model"] = ""; }, "model"},
      {"model not string", [](Json& b) { b["model"] = 3; }, "model"},
      {"missing messages", [](Json& b) { b.erase("messages"); }, "messages"},
      {"empty messages", [](Json& b) { b["messages"] = Json::array(); }, "messages"},
      {"bad role", [](Json& b) { b["messages"][0]["role"] = "robot"; }, "messages[0].role"},
      {"missing role", [](Json& b) { b["messages"][0].erase("role"); }, "messages[0].role"},
      {"message not object", [](Json& b) { b["messages"][0] = "hi"; }, "messages[0]"},
      {"user without content", [](Json& b) { b["messages"][0].erase("content"); },
       "messages[0].content"},
      {"content number", [](Json& b) { b["messages"][0]["content"] = 5; }, "messages[0].content"},
      {"bad content part",
       [](Json& b) {
         b["messages"][0]["content"] = Json::array({{{"text", "x"}}});
       },
       "messages[0].content[0]"},
      {"tool without tool_call_id",
       [](Json& b) {
         b["messages"].push_back({{"role", "tool"}, {"content", "42"}});
       },
       "messages[1].tool_call_id"},
      {"temperature 3", [](Json& b) { b["temperature"] = 3; }, "temperature"},
      {"temperature string", [](Json& b) { b["temperature"] = "hot"; }, "temperature"},
      {"top_p 1.5", [](Json& b) { b["top_p"] = 1.5; }, "top_p"},
      {"max_tokens 0", [](Json& b) { b["max_tokens"] = 0; }, "max_tokens"},
      {"max_tokens float", [](Json& b) { b["max_tokens"] = 1.5; }, "max_tokens"},
      {"max_completion_tokens 0", [](Json& b) { b["max_completion_tokens"] = 0; },
       "max_completion_tokens"},
      {"n 0", [](Json& b) { b["n"] = 0; }, "n"},
      {"stop 5 entries",
       [](Json& b) {
         b["stop"] = {"a", "b", "c", "d", "e"};
       },
       "stop"},
      {"stop number", [](Json& b) { b["stop"] = 1; }, "stop"},
      {"stream string", [](Json& b) { b["stream"] = "yes"; }, "stream"},
      {"stream_options without stream",
       [](Json& b) {
         b["stream_options"] = {{"include_usage", true}};
       },
       "stream_options"},
      {"stream_options not object",
       [](Json& b) {
         b["stream"] = true;
         b["stream_options"] = 1;
       },
       "stream_options"},
      {"response_format type",
       [](Json& b) {
         b["response_format"] = {{"type", "xml"}};
       },
       "response_format"},
      {"tools not array",
       [](Json& b) {
         b["tools"] = {{"type", "function"}};
       },
       "tools"},
      {"tool without name",
       [](Json& b) {
         b["tools"] = Json::array({{{"type", "function"}, {"function", Json::object()}}});
       },
       "tools[0]"},
      {"tool_choice number", [](Json& b) { b["tool_choice"] = 1; }, "tool_choice"},
      {"top_logprobs 21", [](Json& b) { b["top_logprobs"] = 21; }, "top_logprobs"},
      {"user number", [](Json& b) { b["user"] = 1; }, "user"},
  };
  for (const auto& c : cases) {
    Json b = MinimalRequest();
    c.mutate(b);
    Status s = ParseError(b);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(s.message().rfind(c.field, 0), 0u) << c.name << ": " << s.message();
  }
}

TEST(ChatRequestTest, RejectsNonObjectBody) {
  for (const Json& body : {Json::array(), Json("text"), Json(nullptr), Json(3)}) {
    EXPECT_EQ(ParseError(body).code(), StatusCode::kInvalidArgument) << body.dump();
  }
}

TEST(ChatRequestTest, ToJsonRoundTrip) {
  auto r = ParseChatRequest(FullRequest());
  ASSERT_TRUE(r.ok());
  Json j = ChatRequestToJson(*r, "upstream-model");
  EXPECT_EQ(j["model"], "upstream-model");
  EXPECT_EQ(j["metadata"], Json({{"k", "v"}}));
  EXPECT_EQ(j["parallel_tool_calls"], false);
  EXPECT_EQ(j["stream"], true);
  EXPECT_EQ(j["stream_options"]["include_usage"], true);
  EXPECT_EQ(j["max_tokens"], 100);
  EXPECT_EQ(j["messages"][3]["tool_calls"][0]["id"], "call_1");
  EXPECT_EQ(j["messages"][4]["tool_call_id"], "call_1");
  EXPECT_EQ(j["messages"][2]["name"], "alice");

  // Parsing the output again yields the same request (with the new model).
  auto again = ParseChatRequest(j);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->model, "upstream-model");
  EXPECT_EQ(again->messages.size(), r->messages.size());
  EXPECT_EQ(again->stop, r->stop);
  EXPECT_EQ(again->seed, r->seed);
  EXPECT_EQ(again->extra, r->extra);
  EXPECT_EQ(ChatRequestToJson(*again, "upstream-model"), j);
}

TEST(ChatRequestTest, ToJsonStreamOptions) {
  auto r = ParseChatRequest(MinimalRequest());
  ASSERT_TRUE(r.ok());
  Json plain = ChatRequestToJson(*r, "m");
  EXPECT_FALSE(plain.contains("stream"));
  EXPECT_FALSE(plain.contains("stream_options"));
  r->stream = true;
  r->include_usage = true;
  Json streamed = ChatRequestToJson(*r, "m");
  EXPECT_EQ(streamed["stream"], true);
  EXPECT_EQ(streamed["stream_options"], Json({{"include_usage", true}}));
}

TEST(ChatResponseTest, ParseAndSerialize) {
  Json body = Json::parse(R"({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o",
    "system_fingerprint": "fp_1",
    "choices": [
      {"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop",
       "logprobs": null},
      {"index": 1, "message": {"content": null,
                               "tool_calls": [{"id": "c", "type": "function",
                                               "function": {"name": "f", "arguments": "{}"}}]},
       "finish_reason": "tool_calls"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7,
              "prompt_tokens_details": {"cached_tokens": 0}}
  })");
  auto r = ParseChatResponse(body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->id, "chatcmpl-1");
  EXPECT_EQ(r->created, 1700000000);
  EXPECT_EQ(r->model, "gpt-4o");
  EXPECT_EQ(r->system_fingerprint, "fp_1");
  ASSERT_EQ(r->choices.size(), 2u);
  EXPECT_EQ(r->choices[0].message.Text(), "Hello");
  EXPECT_EQ(r->choices[0].finish_reason, "stop");
  EXPECT_EQ(r->choices[1].message.role, "assistant");  // defaulted
  EXPECT_EQ(r->choices[1].finish_reason, "tool_calls");
  ASSERT_TRUE(r->usage.has_value());
  EXPECT_EQ(r->usage->prompt_tokens, 5);
  EXPECT_EQ(r->usage->completion_tokens, 2);
  EXPECT_EQ(r->usage->total_tokens, 7);
  EXPECT_TRUE(r->usage->extra.contains("prompt_tokens_details"));

  Json out = ChatResponseToJson(*r);
  EXPECT_EQ(out["object"], "chat.completion");
  EXPECT_EQ(out["id"], "chatcmpl-1");
  EXPECT_EQ(out["created"], 1700000000);
  EXPECT_EQ(out["system_fingerprint"], "fp_1");
  EXPECT_EQ(out["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(out["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(out["choices"][0]["message"].contains("refusal"));
  EXPECT_EQ(out["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(out["choices"][1]["message"]["tool_calls"][0]["id"], "c");
  EXPECT_EQ(out["usage"]["total_tokens"], 7);
  EXPECT_EQ(out["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  auto again = ParseChatResponse(out);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ChatResponseToJson(*again), out);
}

TEST(ChatResponseTest, RejectsMalformed) {
  EXPECT_FALSE(ParseChatResponse(Json::array()).ok());
  EXPECT_FALSE(ParseChatResponse(Json::parse(R"({"id": "x"})")).ok());
  EXPECT_FALSE(ParseChatResponse(Json::parse(R"({"choices": [{"index": 0}]})")).ok());
  EXPECT_FALSE(
      ParseChatResponse(Json::parse(R"({"choices": [], "usage": {"prompt_tokens": -1}})")).ok());
  EXPECT_FALSE(
      ParseChatResponse(Json::parse(R"({"choices": [], "usage": {"prompt_tokens": "5"}})")).ok());
}

TEST(ChatChunkTest, ParsesRoleContentToolCallsFinish) {
  auto role = ParseChatChunk(Json::parse(R"({
    "id": "c1", "object": "chat.completion.chunk", "created": 5, "model": "m",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]
  })"));
  ASSERT_TRUE(role.ok()) << role.status().ToString();
  EXPECT_EQ(role->id, "c1");
  EXPECT_EQ(role->created, 5);
  EXPECT_EQ(role->model, "m");
  ASSERT_EQ(role->choices.size(), 1u);
  EXPECT_EQ(role->choices[0].delta.role, "assistant");
  EXPECT_EQ(role->choices[0].delta.content, "");
  EXPECT_FALSE(role->choices[0].finish_reason.has_value());
  EXPECT_FALSE(role->usage.has_value());

  auto tools = ParseChatChunk(Json::parse(R"({
    "id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call",
      "function": {"name": "f", "arguments": "{\"a\""}}], "refusal": null}}]
  })"));
  ASSERT_TRUE(tools.ok());
  EXPECT_FALSE(tools->choices[0].delta.content.has_value());
  EXPECT_EQ(tools->choices[0].delta.tool_calls[0]["function"]["arguments"], "{\"a\"");
  EXPECT_TRUE(tools->choices[0].delta.extra.contains("refusal"));

  auto finish = ParseChatChunk(Json::parse(
      R"({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})"));
  ASSERT_TRUE(finish.ok());
  EXPECT_EQ(finish->choices[0].finish_reason, "length");

  EXPECT_FALSE(ParseChatChunk(Json::parse(R"({"choices": [{"delta": {"content": 5}}]})")).ok());
  EXPECT_FALSE(ParseChatChunk(Json::parse(R"({"choices": 5})")).ok());
  EXPECT_FALSE(ParseChatChunk(Json("x")).ok());
}

TEST(ChatChunkTest, UsageOnlyChunk) {
  auto c = ParseChatChunk(Json::parse(R"({
    "id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
  })"));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->choices.empty());
  ASSERT_TRUE(c->usage.has_value());
  EXPECT_EQ(c->usage->completion_tokens, 4);
  EXPECT_EQ(c->usage->total_tokens, 7);
}

TEST(ChatChunkTest, ToJsonEmitsUsageOnlyWhenAsked) {
  ChatChunk c;
  c.id = "c1";
  c.created = 9;
  c.model = "m";
  ChunkChoice ch;
  ch.delta.content = "hi";
  c.choices.push_back(ch);

  Json without = ChatChunkToJson(c, /*usage_field=*/false);
  EXPECT_EQ(without["object"], "chat.completion.chunk");
  EXPECT_FALSE(without.contains("usage"));
  EXPECT_EQ(without["choices"][0]["delta"]["content"], "hi");
  EXPECT_FALSE(without["choices"][0]["delta"].contains("role"));
  ASSERT_TRUE(without["choices"][0].contains("finish_reason"));
  EXPECT_TRUE(without["choices"][0]["finish_reason"].is_null());

  Json with = ChatChunkToJson(c, /*usage_field=*/true);
  ASSERT_TRUE(with.contains("usage"));
  EXPECT_TRUE(with["usage"].is_null());

  ChatChunk u;
  u.id = "c1";
  u.usage = Usage{1, 2, 3};
  Json usage = ChatChunkToJson(u, true);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 3);

  auto back = ParseChatChunk(with);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->choices[0].delta.content, "hi");
}

TEST(EmbeddingRequestTest, AcceptsInputShapes) {
  auto s = ParseEmbeddingRequest(Json::parse(R"({"model": "e", "input": "hello"})"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->InputCount(), 1u);
  EXPECT_EQ(s->encoding_format, "float");

  auto list = ParseEmbeddingRequest(Json::parse(
      R"({"model": "e", "input": ["a", "b", "c"], "dimensions": 8, "encoding_format": "base64",
          "user": "u", "x_extra": 1})"));
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->InputCount(), 3u);
  EXPECT_EQ(list->dimensions, 8);
  EXPECT_EQ(list->encoding_format, "base64");
  EXPECT_EQ(list->user, "u");
  EXPECT_EQ(list->extra, Json({{"x_extra", 1}}));

  auto tokens = ParseEmbeddingRequest(Json::parse(R"({"model": "e", "input": [1, 2, 3]})"));
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(tokens->InputCount(), 1u);

  auto token_lists =
      ParseEmbeddingRequest(Json::parse(R"({"model": "e", "input": [[1, 2], [3]]})"));
  ASSERT_TRUE(token_lists.ok());
  EXPECT_EQ(token_lists->InputCount(), 2u);

  Json j = EmbeddingRequestToJson(*list, "upstream-e");
  EXPECT_EQ(j["model"], "upstream-e");
  EXPECT_EQ(j["input"], Json({"a", "b", "c"}));
  EXPECT_EQ(j["encoding_format"], "float");
  EXPECT_EQ(j["dimensions"], 8);
  EXPECT_EQ(j["x_extra"], 1);
}

TEST(EmbeddingRequestTest, RejectsBadInputs) {
  const char* bodies[][2] = {
      {R"({"input": "x"})", "model"},
      {R"({"model": "e"})", "input"},
      {R"({"model": "e", "input": ""})", "input"},
      {R"({"model": "e", "input": []})", "input"},
      {R"({"model": "e", "input": 5})", "input"},
      {R"({"model": "e", "input": [1, "a"]})", "input"},
      {R"({"model": "e", "input": ["a", 1]})", "input"},
      {R"({"model": "e", "input": ["a", ""]})", "input[1]"},
      {R"({"model": "e", "input": [[1], []]})", "input[1]"},
      {R"({"model": "e", "input": [[1, "a"]]})", "input"},
      {R"({"model": "e", "input": "x", "encoding_format": "hex"})", "encoding_format"},
      {R"({"model": "e", "input": "x", "encoding_format": 1})", "encoding_format"},
      {R"({"model": "e", "input": "x", "dimensions": 0})", "dimensions"},
      {R"([1])", ""},
  };
  for (const auto& [body, field] : bodies) {
    auto r = ParseEmbeddingRequest(Json::parse(body));
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << body;
    EXPECT_EQ(r.status().message().rfind(field, 0), 0u) << body << " -> " << r.status().message();
  }
  Json many = {{"model", "e"}, {"input", Json::array()}};
  for (int i = 0; i < 2049; ++i) many["input"].push_back("x");
  EXPECT_FALSE(ParseEmbeddingRequest(many).ok());
}

TEST(EmbeddingResponseTest, Base64DecodesToTheSameFloats) {
  EmbeddingResponse r;
  r.model = "e";
  r.data = {{0.5f, -1.25f, 3.0e-8f}, {1.0f}};
  r.usage.prompt_tokens = 4;
  r.usage.total_tokens = 4;
  Json j = EmbeddingResponseToJson(r, "base64");
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["model"], "e");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 4);
  EXPECT_EQ(j["usage"]["total_tokens"], 4);
  ASSERT_EQ(j["data"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(j["data"][i]["object"], "embedding");
    EXPECT_EQ(j["data"][i]["index"], i);
    ASSERT_TRUE(j["data"][i]["embedding"].is_string());
    auto bytes = Base64Decode(j["data"][i]["embedding"].get<std::string>());
    ASSERT_TRUE(bytes.ok());
    ASSERT_EQ(bytes->size(), r.data[i].size() * 4);
    std::vector<float> v(r.data[i].size());
    std::memcpy(v.data(), bytes->data(), bytes->size());
    EXPECT_EQ(v, r.data[i]);
  }
  // And the parser reads base64 back.
  auto parsed = ParseEmbeddingResponse(j);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->data, r.data);

  Json f = EmbeddingResponseToJson(r, "float");
  ASSERT_TRUE(f["data"][0]["embedding"].is_array());
  EXPECT_FLOAT_EQ(f["data"][0]["embedding"][1].get<float>(), -1.25f);
}

TEST(EmbeddingResponseTest, ParseOrdersByIndex) {
  auto r = ParseEmbeddingResponse(Json::parse(R"({
    "model": "e",
    "data": [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}],
    "usage": {"prompt_tokens": 2, "total_tokens": 2}
  })"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->data.size(), 2u);
  EXPECT_EQ(r->data[0], std::vector<float>{1.0f});
  EXPECT_EQ(r->data[1], std::vector<float>{2.0f});
  EXPECT_EQ(r->usage.prompt_tokens, 2);
}

TEST(EmbeddingResponseTest, RejectsRepeatedOrBadIndex) {
  EXPECT_FALSE(
      ParseEmbeddingResponse(
          Json::parse(
              R"({"data": [{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [2]}]})"))
          .ok());
  EXPECT_FALSE(
      ParseEmbeddingResponse(Json::parse(R"({"data": [{"index": 1, "embedding": [1]}]})")).ok());
  EXPECT_FALSE(
      ParseEmbeddingResponse(Json::parse(R"({"data": [{"index": -1, "embedding": [1]}]})")).ok());
  EXPECT_FALSE(ParseEmbeddingResponse(Json::parse(R"({"data": [{"index": 0}]})")).ok());
  EXPECT_FALSE(ParseEmbeddingResponse(Json::parse(R"({"data": [{"embedding": ["x"]}]})")).ok());
  EXPECT_FALSE(ParseEmbeddingResponse(Json::parse(R"({"data": [{"embedding": "AAA"}]})")).ok());
  EXPECT_FALSE(
      ParseEmbeddingResponse(Json::parse(R"({"data": [{"embedding": "AAAAAAA="}]})")).ok());
  EXPECT_FALSE(ParseEmbeddingResponse(Json::parse(R"({"nodata": []})")).ok());
}

TEST(UsageTest, ParseAndSerialize) {
  auto u = ParseUsage(Json::parse(R"({"prompt_tokens": 3, "completion_tokens": 4})"));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->total_tokens, 7);  // computed when absent
  Json j = UsageToJson(*u);
  EXPECT_EQ(j, Json::parse(R"({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})"));
  EXPECT_FALSE(ParseUsage(Json::array()).ok());
}

}  // namespace
}  // namespace gantry::providers
