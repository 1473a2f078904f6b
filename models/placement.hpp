// Placement: which GPU of a fabric each rank of a job runs on.
//   packed: rank i on GPU i (filling NVLink domains, then buildings, in order);
//   spread: the job's NVLink domains dealt round-robin over the buildings (domain j of the job in building j mod B,
//           the (j / B)-th domain there), so that rings and all-to-alls cross the BAG.
#pragma once

#include <string_view>
#include <vector>

#include "models/fabric.hpp"

namespace collemu::models {

enum class Placement : std::uint8_t { Packed, Spread };
// "packed" or "spread". Throws common::InputError naming the text.
Placement parse_placement(std::string_view text);
const char* to_string(Placement p);

// The GPUs of `ranks` ranks, by rank. Throws common::InputError (in the rank count's terms) for fewer than 1 rank,
// more ranks than GPUs, or more domains than a building has for spread.
std::vector<NodeId> place_ranks(const FabricLayout& layout, int ranks, Placement placement);

}  // namespace collemu::models
