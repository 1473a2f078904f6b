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

// Two DSF buildings of 16 single-GPU hosts (no NVLink), 800 Gbps NICs of 4 ports on 4 planes, a BAG of one switch per
// plane at 16:1 (each building one 200 Gbps cable per plane to the BAG: 800 Gbps across per direction, as much as one
// NIC), no hop latency and no fibre. GPU i of building 0 is GPU i; of building 1, GPU 16 + i.
inline Fabric bag_fabric() {
  return build("prometheus", {"scaleup.gpus=1", "building.gpus=16", "fabric.kind=dsf", "bag.switches=4",
                              "bag.oversubscription=16:1", "fabric.hop_latency=0ns", "building.distance=0m"});
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
