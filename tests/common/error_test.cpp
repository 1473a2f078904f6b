// common::message_for_user: what collemu prints of an error message (error.hpp).
#include <gtest/gtest.h>

#include <string>

#include "common/error.hpp"

namespace {

using collemu::common::message_for_user;

TEST(MessageForUser, ShortMessagesPassUnchanged) {
  const std::string m = "TMP/a.yaml:3: key 'nic.speed': '400' has no unit; expected a bandwidth";
  EXPECT_EQ(message_for_user(m), m);
  // A word of exactly 200 characters is kept whole; spaces, tabs and newlines are kept as they are.
  const std::string w(200, 'a');
  EXPECT_EQ(message_for_user("x\t" + w + "\ny"), "x\t" + w + "\ny");
}

TEST(MessageForUser, LongWordKeepsHeadTailAndLength) {
  // 64 leading and 16 trailing characters of a 10,000,000-character word, its length in between.
  const std::string word = "'" + std::string(9'999'998, 'x') + "'";
  const std::string out = message_for_user("key 'nic.speed': " + word + " is not a number");
  EXPECT_EQ(out, "key 'nic.speed': '" + std::string(63, 'x') + "...[10000000 characters]..." + std::string(15, 'x') +
                     "' is not a number");
}

TEST(MessageForUser, LongMessageOfShortWordsKeepsHeadAndTail) {
  // 100,000 words "ab " (300,000 characters): 3,000 head characters, 600 tail characters, the rest counted.
  std::string m;
  for (int i = 0; i < 100'000; ++i) m += "ab ";
  const std::string out = message_for_user(m);
  EXPECT_EQ(out.substr(0, 3000), m.substr(0, 3000));
  EXPECT_EQ(out.substr(out.size() - 600), m.substr(m.size() - 600));
  EXPECT_NE(out.find("...[296400 more characters]..."), std::string::npos);
}

}  // namespace
