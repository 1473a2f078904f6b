// Helpers shared by the models tests.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "common/error.hpp"
#include "models/builder.hpp"
#include "models/config.hpp"

namespace collemu::models::testing {

inline FabricConfig config(const std::string& preset, std::initializer_list<std::string> sets = {}) {
  auto c = FabricConfig::from_preset(preset);
  for (const auto& s : sets) c.set_assignment(s);
  return c;
}

inline Fabric build(const std::string& preset, std::initializer_list<std::string> sets = {}) {
  return build_fabric(config(preset, sets));
}

// Runs f, expects a common::InputError, returns its message ("" and a test failure otherwise).
template <class F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const common::InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

}  // namespace collemu::models::testing
