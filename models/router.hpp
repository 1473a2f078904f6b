// Router: for a flow (source GPU, destination GPU, flow label) the set of links it loads, each with the share
// of the flow it carries (the coefficient a_lf of the flow-level model, DESIGN.md §4). Paths come from the
// structure (FabricLayout), never from enumerating pairs: a query costs O(width of the path set).
//
// Load balancing, by where the decision is taken:
//   NIC ports    spray (equal share on every port/plane) or hash (one port per flow label), nic.port_select;
//   DSF fabric   spray: every fabric element whose two links are up gets an equal share ("input balanced
//                mode" after failures: elements that cannot reach the egress leaf are skipped);
//   NSF hops     ECMP: one next hop among those that still reach the destination, by a deterministic hash of
//                the RoCE 5-tuple (the UDP source port is the only entropy) or of the QP (E-ECMP), per switch;
//                or, with nsf.routing=adaptive (InfiniBand AR), inside a building an equal share on every live
//                path between the two leaves (the flows to and from the BAG keep ECMP up to the top tier);
//   BAG hops     UCMP: one next hop per flow by a weighted hash; a next hop's weight is its link's capacity
//                times the share of the next hop's own capacity toward the destination building that is still
//                alive (what eBGP link-bandwidth advertises), so weights follow bandwidth and shrink when links
//                behind a next hop fail. A DSF ingress leaf takes this decision for
//                the egress edge leaf and BAG link, then sprays over the fabric to that edge leaf.
// Failures are read from the Fabric when the Router is made; make a new Router after failing links.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "models/fabric.hpp"

namespace collemu::models {

struct FlowLabel {
  NodeId src_gpu = 0;
  NodeId dst_gpu = 0;
  std::uint32_t qp = 0;         // queue pair index within the connection (NCCL_IB_QPS_PER_CONNECTION)
  std::uint32_t udp_sport = 0;  // RoCEv2 UDP source port: the only 5-tuple field that varies between flows
};

struct Route {
  std::vector<LinkId> links;
  std::vector<double> coefficients;  // share of the flow on each link, in (0, 1]
  std::vector<std::uint16_t> hops;   // hop of each entry, 0 = leaving the source GPU
  double path_count = 0;             // distinct paths (DSF spraying multiplies them)
  void clear() {
    links.clear();
    coefficients.clear();
    hops.clear();
    path_count = 0;
  }
  std::size_t size() const { return links.size(); }
};

// The share-weighted sum of link latencies along a route: its mean path latency, in seconds.
double mean_latency_s(const Fabric& fabric, const Route& route);

// Failures leave no live path between two GPUs (a user's what-if the fabric cannot serve).
class RouteError : public common::UserError {
 public:
  using common::UserError::UserError;
};

class Router {
 public:
  explicit Router(const Fabric& fabric);

  // Fills `out` (cleared first). Throws RouteError when failures leave no live path.
  void route(const FlowLabel& flow, Route& out) const;

  // The UCMP choices of a BAG switch or a building's top-tier node toward a destination building (index into
  // FabricLayout::buildings): each live link and its weight in bytes per second. For tests and reports.
  std::vector<std::pair<LinkId, double>> ucmp_weights(NodeId from, std::uint32_t dst_building) const;

  const Fabric& fabric() const { return f_; }
  std::uint32_t building_of(NodeId gpu) const { return gpu / f_.layout.gpus_per_building; }

 private:
  struct Emitter;
  // The destination of a port path: its building, GPU within the building and NIC slot within a plane.
  struct Destination {
    const BuildingLayout* building;
    std::uint32_t index;  // building index in the layout
    std::uint32_t local_gpu;
    std::uint32_t slot;
  };
  // Under failures: can BAG switch j (or top-tier node `top`, through its BAG links) still deliver to the
  // destination's leaf and NIC port? Always true on a fabric without failures.
  bool bag_delivers(NodeId j, const Destination& d) const;
  bool top_delivers_up(NodeId top, const Destination& d) const;
  void route_port(const FlowLabel& flow, std::uint64_t key, std::uint32_t port, double mass, Emitter& em) const;
  // Leaf a to leaf b inside one building; returns the hops emitted.
  std::uint16_t route_building_local(std::uint64_t key, const BuildingLayout& B, std::uint32_t pl, std::uint32_t a,
                            std::uint32_t b, double mass, std::uint16_t hop, Emitter& em) const;
  NodeId leaf_of(const BuildingLayout& B, std::uint32_t local_gpu, std::uint32_t plane, std::uint32_t slot) const;
  // The NIC of the building's GPU `local_gpu` (GPUs sharing a NIC are consecutive).
  NodeId nic_of(const BuildingLayout& B, std::uint32_t local_gpu) const {
    return B.nic_base + local_gpu / f_.layout.gpus_per_nic;
  }
  // The access links of one NIC port (plane, slot within the plane): NIC->leaf and leaf->NIC.
  LinkId access_up(const BuildingLayout& B, std::uint32_t local_gpu, std::uint32_t plane, std::uint32_t slot) const;
  LinkId access_down(const BuildingLayout& B, std::uint32_t local_gpu, std::uint32_t plane, std::uint32_t slot) const;
  bool up(LinkId l) const { return l != kNoLink && !f_.link(l).failed; }
  // Without failures every link of the structure is up: no need to look it up.
  bool link_up(NodeId u, NodeId v) const { return !failures_ || up(f_.find_link(u, v)); }
  // DSF: fabric elements f with a->f and f->b both up.
  void dsf_viable(const PlaneLayout& P, NodeId a, NodeId b, std::vector<std::pair<LinkId, LinkId>>& out) const;
  std::uint16_t route_adaptive(const PlaneLayout& P, NodeId a, NodeId b, double mass, std::uint16_t hop,
                               Emitter& em) const;
  // UCMP weight of link l toward a destination building, bytes/s (0 when failed).
  double ucmp_weight(LinkId l, std::uint32_t dst_building) const;
  static double survival(const std::vector<double>& live, const std::vector<double>& built, std::size_t i);
  // UCMP choice tables: for each decision point (a top-tier node, a DSF ingress (building, plane), a BAG switch)
  // and destination building, the live next-hop links and their cumulative weights. Weights depend only on the
  // failures, so they are computed once here, and a query picks by binary search.
  void build_choice_tables();
  std::span<const LinkId> choice_links(std::uint32_t point, std::uint32_t bd, std::span<const double>* cum) const;
  LinkId pick(std::uint32_t point, std::uint32_t bd, std::uint64_t hash) const;
  template <class Usable>
  NodeId ecmp(std::uint64_t key, NodeId at, NodeId first, std::uint32_t count, Usable&& usable) const;
  template <class Usable>
  LinkId pick_usable(std::uint32_t point, std::uint32_t bd, std::uint64_t hash, Usable&& usable) const;
  bool top_delivers(const BuildingLayout& B, NodeId top, NodeId leaf) const;  // top node -> that leaf, live
  std::uint16_t descend(const BuildingLayout& B, NodeId top, NodeId leaf, double mass, std::uint16_t hop,
                        Emitter& em) const;

  const Fabric& f_;
  // Per node: capacity of its inward links (toward GPUs, not to the BAG), live and as built, bytes/s.
  std::vector<double> down_live_, down_built_;
  std::vector<std::uint32_t> bag_ordinal_;  // per region: ordinal of its first BAG switch
  std::uint32_t n_bag_total_ = 0;
  // [bag ordinal * n_buildings + building]: a BAG switch's capacity toward a building, live (UCMP-weighted)
  // and as built.
  std::vector<double> reach_live_, reach_built_;
  static constexpr std::uint32_t kNoPoint = ~0u;
  std::vector<std::uint32_t> point_of_;       // node -> decision point (top-tier nodes and BAG switches)
  std::vector<std::uint32_t> ingress_point_;  // building -> first DSF ingress point (one per plane)
  std::vector<std::uint32_t> table_begin_;    // [point * n_buildings + building] -> first choice
  std::vector<LinkId> choice_link_;
  std::vector<double> choice_cum_;
  const bool failures_;  // any failed link: choices must check that they still lead to the destination
};

}  // namespace collemu::models
