// Errors shared by every layer.
//
// InputError: something a user gave us (a config file, a --set option, a trace) is wrong. It carries where
// (file and line, or the option text) and what was expected, so the CLI can print one clear line.
// COLLEMU_ASSERT: an internal invariant; a failure is a bug in collemu, never in the input.
#pragma once

#include <stdexcept>
#include <string>

namespace collemu::common {

class InputError : public std::runtime_error {
 public:
  // `where` is "file:line", "--set key=value" or empty; `what` says what is wrong and what was expected.
  InputError(std::string where, const std::string& what)
      : std::runtime_error(where.empty() ? what : where + ": " + what), where_(std::move(where)) {}
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

// Thrown by the unit parsers; the caller adds where the text came from.
class UnitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace collemu::common

#define COLLEMU_ASSERT(cond, msg)                                                                   \
  do {                                                                                              \
    if (!(cond))                                                                                    \
      throw ::collemu::common::InternalError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                             ": internal error: " + (msg) + " [" #cond "]");        \
  } while (0)
