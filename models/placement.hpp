// Placement: which GPU of a fabric each rank of a job runs on.
//   packed: rank i on GPU i (filling NVLink domains, then buildings, in order);
//   spread: the job's NVLink domains dealt round-robin over the buildings (domain j of the job in building j mod B,
//           the (j / B)-th domain there), so that rings and all-to-alls cross the BAG;
//   random: GPUs drawn at random (a seed: the same seed, the same GPUs, on every machine);
//   file:   one GPU per line, by rank (its id or its name, as `collemu topo` names it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "models/fabric.hpp"

namespace collemu::models {

enum class Placement : std::uint8_t { Packed, Spread, Random, File };
// "packed" or "spread". Throws common::InputError naming the text.
Placement parse_placement(std::string_view text);
const char* to_string(Placement p);

// A placement as the replay's options give it: "packed", "spread", "random" or "random:SEED", "file:PATH". Throws
// common::InputError naming the text.
struct PlacementSpec {
  Placement kind = Placement::Packed;
  std::uint64_t seed = 0;
  std::string file;
};
PlacementSpec parse_placement_spec(std::string_view text);
std::string to_string(const PlacementSpec& p);

// The GPUs of a job of `ranks` ranks among the GPUs that `taken` (per GPU; empty: none) leaves free: packed takes the
// free GPUs in order, spread deals the wholly free NVLink domains over the buildings, random draws free GPUs, file
// reads them (a file may name taken GPUs: the replay then names the conflict). Throws common::InputError for too few
// free GPUs or domains, and for a file that cannot be read, names a GPU the fabric does not have (file:line), names a
// GPU twice (both lines), or has another count of GPUs than the job has ranks.
std::vector<NodeId> place_job(const Fabric& fabric, int ranks, const PlacementSpec& spec,
                              const std::vector<std::uint8_t>& taken = {});

// The GPUs of `ranks` ranks, by rank. Throws common::InputError (in the rank count's terms) for fewer than 1 rank,
// more ranks than GPUs, or more domains than a building has for spread.
std::vector<NodeId> place_ranks(const FabricLayout& layout, int ranks, Placement placement);

}  // namespace collemu::models
