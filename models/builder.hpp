// Builds a Fabric from a FabricConfig: scale-up domains, NICs striped over planes, DSF or NSF building
// fabrics, the BAG super-spine of each region and the inter-region BAG links.
//
// Capacities of the upper tiers are derived from what is below them and the configured oversubscription, so
// a configured ratio is exactly what the built graph measures: a leaf's uplinks carry its NIC-facing capacity
// divided by the leaf ratio; a building's BAG links carry the capacity entering its top tier divided by
// bag.oversubscription. Switch counts per tier come from the port counts; a topology that does not fit (more
// leaves than a fabric element or spine can connect, a BAG switch short of ports, a disconnected fabric) is an
// InputError that names the keys and where they were set. docs/fabric-model.md describes the model.
#pragma once

#include "models/config.hpp"
#include "models/fabric.hpp"

namespace collemu::models {

Fabric build_fabric(const FabricConfig& config);

// Throws common::InputError when some GPU cannot reach another over live links (the check build_fabric runs).
void check_connected(const Fabric& fabric);

}  // namespace collemu::models
