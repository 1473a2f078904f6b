// Errors shared by every layer.
//
// UserError: the one base of everything a user can cause (a config, an option, a trace, a request the fabric cannot
// serve). `collemu` catches it once and exits with 2; its message says what is wrong and what was expected, in the
// library's terms (a rank count, a size, a link), never a command-line flag: the CLI adds which option a value came
// from. Everything else that escapes is an environment problem (exit 1: a missing GPU, an unreadable file system) or,
// for InternalError, a bug in collemu (exit 70).
//
// InputError: a UserError that carries where (file and line, or the option text) and what was expected.
// UnitError: thrown by the unit parsers; the caller adds where the text came from.
// COLLEMU_ASSERT: an internal invariant; a failure is a bug in collemu, never in the input.
// Header only, standard library only: the std-only solver target (models/solver) uses it too.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace collemu::common {

class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InputError : public UserError {
 public:
  // `where` is "file:line", "--set key=value" or empty; `what` says what is wrong and what was expected.
  InputError(std::string where, const std::string& what)
      : UserError(where.empty() ? what : where + ": " + what), where_(std::move(where)), detail_(what) {}
  const std::string& where() const { return where_; }
  // The message without its place: what a caller that adds another place (an option) puts after it.
  const std::string& detail() const { return detail_; }

 private:
  std::string where_;
  std::string detail_;
};

class UnitError : public UserError {
 public:
  using UserError::UserError;
};

class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// What `collemu` prints of an error message: a message quotes what the user gave, which may be a 10 MB value; a word
// (a run without spaces) over kMaxWord characters keeps its first and last characters and says how long it was, and
// a message over kMaxMessage characters keeps its head and tail the same way. Shorter messages pass unchanged.
inline std::string message_for_user(const std::string& m) {
  constexpr std::size_t kMaxWord = 200, kWordHead = 64, kWordTail = 16, kMaxMessage = 4000, kHead = 3000, kTail = 600;
  std::string out;
  out.reserve(m.size() < 2 * kMaxMessage ? m.size() : 2 * kMaxMessage);
  for (std::size_t i = 0; i < m.size();) {
    if (m[i] == ' ' || m[i] == '\n' || m[i] == '\t') {
      out += m[i++];
      continue;
    }
    std::size_t j = i;
    while (j < m.size() && m[j] != ' ' && m[j] != '\n' && m[j] != '\t') ++j;
    if (j - i <= kMaxWord) out.append(m, i, j - i);
    else
      out.append(m, i, kWordHead).append("...[" + std::to_string(j - i) + " characters]...").append(m, j - kWordTail,
                                                                                                  kWordTail);
    i = j;
  }
  if (out.size() > kMaxMessage)
    out = out.substr(0, kHead) + "...[" + std::to_string(out.size() - kHead - kTail) + " more characters]..." +
          out.substr(out.size() - kTail);
  return out;
}

}  // namespace collemu::common

#define COLLEMU_ASSERT(cond, msg)                                                                   \
  do {                                                                                              \
    if (!(cond))                                                                                    \
      throw ::collemu::common::InternalError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                             ": internal error: " + (msg) + " [" #cond "]");        \
  } while (0)
