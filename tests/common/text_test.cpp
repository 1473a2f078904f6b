// common::is_utf8 against RFC 3629's definition of UTF-8 (its section 4 grammar): the boundary code points of each
// length, and the forms the RFC excludes (overlong encodings, surrogates U+D800..U+DFFF, anything above U+10FFFF).
#include <gtest/gtest.h>

#include "common/text.hpp"

namespace collemu::common {
namespace {

TEST(Utf8, WellFormedTextIsAccepted) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("tp pp0 dp3"));
  EXPECT_TRUE(is_utf8("\xC2\x80"));          // U+0080, the first two-byte code point
  EXPECT_TRUE(is_utf8("\xDF\xBF"));          // U+07FF, the last
  EXPECT_TRUE(is_utf8("\xE0\xA0\x80"));      // U+0800, the first three-byte one
  EXPECT_TRUE(is_utf8("\xED\x9F\xBF"));      // U+D7FF, just below the surrogates
  EXPECT_TRUE(is_utf8("\xEE\x80\x80"));      // U+E000, just above them
  EXPECT_TRUE(is_utf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(is_utf8("\xF0\x90\x80\x80"));  // U+10000, the first four-byte one
  EXPECT_TRUE(is_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF, the last code point
  EXPECT_TRUE(is_utf8("r\xC3\xA9seau \xE2\x86\x92 GPU"));  // "réseau → GPU"
}

TEST(Utf8, MalformedBytesAreRefused) {
  EXPECT_FALSE(is_utf8("\x80"));              // a continuation byte alone
  EXPECT_FALSE(is_utf8("\xC0\xAF"));          // overlong '/' (RFC 3629 section 10's example)
  EXPECT_FALSE(is_utf8("\xC1\xBF"));          // overlong U+007F
  EXPECT_FALSE(is_utf8("\xE0\x9F\xBF"));      // overlong U+07FF
  EXPECT_FALSE(is_utf8("\xF0\x8F\xBF\xBF"));  // overlong U+FFFF
  EXPECT_FALSE(is_utf8("\xED\xA0\x80"));      // U+D800, a surrogate
  EXPECT_FALSE(is_utf8("\xED\xBF\xBF"));      // U+DFFF
  EXPECT_FALSE(is_utf8("\xF4\x90\x80\x80"));  // U+110000, above the last code point
  EXPECT_FALSE(is_utf8("\xF5\x80\x80\x80"));  // a lead byte no code point uses
  EXPECT_FALSE(is_utf8("\xFF"));
  EXPECT_FALSE(is_utf8("\xE2\x86"));          // cut short
  EXPECT_FALSE(is_utf8("ab\xC3"));            // cut short at the end
  EXPECT_FALSE(is_utf8("\xE2\x28\xA1"));      // a second byte that is not a continuation
  EXPECT_FALSE(is_utf8("\xF0\x90\x28\x80"));  // a third byte that is not
  EXPECT_FALSE(is_utf8(std::string_view("a\xD2 b", 4)));  // the damaged name of h5_flip_v1_test's kind
}

}  // namespace
}  // namespace collemu::common
