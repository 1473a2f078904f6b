// Text checks shared by the readers.
#pragma once

#include <string_view>

namespace collemu::common {

// Whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), the text
// every name must be before it reaches a JSON document or a table (a damaged file's names may be any bytes).
inline bool is_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned c = *p++;
    if (c < 0x80) continue;
    int more;
    unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) more = 1;
    else if (c == 0xE0) more = 2, lo = 0xA0;
    else if (c == 0xED) more = 2, hi = 0x9F;  // U+D800..U+DFFF are surrogates
    else if (c >= 0xE1 && c <= 0xEF) more = 2;
    else if (c == 0xF0) more = 3, lo = 0x90;
    else if (c == 0xF4) more = 3, hi = 0x8F;  // nothing above U+10FFFF
    else if (c >= 0xF1 && c <= 0xF3) more = 3;
    else return false;
    if (end - p < more) return false;
    if (*p < lo || *p > hi) return false;
    ++p;
    for (int k = 1; k < more; ++k, ++p)
      if (*p < 0x80 || *p > 0xBF) return false;
  }
  return true;
}

}  // namespace collemu::common
