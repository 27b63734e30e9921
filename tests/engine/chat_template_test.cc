#include "engine/chat_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace gantry::engine {
namespace {

using ::testing::HasSubstr;

TEST(GemmaChatTest, SingleUserTurnWithGenerationPrompt) {
  std::vector<ChatTurn> t = {{"user", "Test"}};
  auto r = RenderGemmaChat(t, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "<start_of_turn>user\nTest<end_of_turn>\n<start_of_turn>model\n");
  auto no_prompt = RenderGemmaChat(t, false);
  EXPECT_EQ(*no_prompt, "<start_of_turn>user\nTest<end_of_turn>\n");
}

TEST(GemmaChatTest, SystemIsPrependedToTheFirstUserTurnAndAssistantIsModel) {
  std::vector<ChatTurn> t = {
      {"system", "  Be brief. "}, {"user", "Hi\n"}, {"assistant", " Hello! "}, {"user", "Bye"}};
  auto r = RenderGemmaChat(t, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r,
            "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
            "<start_of_turn>model\nHello!<end_of_turn>\n"
            "<start_of_turn>user\nBye<end_of_turn>\n"
            "<start_of_turn>model\n");
}

TEST(GemmaChatTest, LoneSystemMessageBecomesTheUserTurn) {
  std::vector<ChatTurn> t = {{"system", "Say hi."}};
  auto r = RenderGemmaChat(t, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "<start_of_turn>user\nSay hi.<end_of_turn>\n<start_of_turn>model\n");
}

TEST(GemmaChatTest, RejectsBadConversations) {
  EXPECT_THAT(RenderGemmaChat({}, true).status().message(), HasSubstr("at least one"));

  std::vector<ChatTurn> two_users = {{"user", "a"}, {"user", "b"}};
  auto r = RenderGemmaChat(two_users, true);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("messages[1] (role 'user')"));
  EXPECT_THAT(r.status().message(), HasSubstr("alternate"));

  std::vector<ChatTurn> starts_with_assistant = {{"assistant", "a"}};
  EXPECT_THAT(RenderGemmaChat(starts_with_assistant, true).status().message(),
              HasSubstr("messages[0] (role 'assistant')"));

  std::vector<ChatTurn> late_system = {{"user", "a"}, {"system", "b"}};
  EXPECT_THAT(RenderGemmaChat(late_system, true).status().message(),
              HasSubstr("messages[1] (role 'system')"));

  std::vector<ChatTurn> tool = {{"user", "a"}, {"tool", "b"}};
  EXPECT_THAT(RenderGemmaChat(tool, true).status().message(), HasSubstr("role 'tool'"));
}

}  // namespace
}  // namespace gantry::engine
