#include "collectives/coll.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "common/error.hpp"

namespace collemu::collectives {

using common::InputError;
using models::FlowId;
using models::LinkTier;
using models::NodeId;

Placement parse_placement(std::string_view text) {
  if (text == "packed") return Placement::Packed;
  if (text == "spread") return Placement::Spread;
  throw InputError("--placement " + std::string(text), "expected packed or spread");
}
Granularity parse_granularity(std::string_view text) {
  if (text == "pipelined") return Granularity::Pipelined;
  if (text == "step") return Granularity::Step;
  throw InputError("--granularity " + std::string(text), "expected pipelined or step");
}
const char* to_string(Placement p) { return p == Placement::Packed ? "packed" : "spread"; }
const char* to_string(Granularity g) { return g == Granularity::Pipelined ? "pipelined" : "step"; }

Communicator::Communicator(const models::Fabric& fabric, int ranks, Placement placement)
    : fabric_(fabric), router_(fabric) {
  const models::FabricLayout& L = fabric.layout;
  const std::int64_t n_gpus = std::int64_t{L.gpus_per_building} * static_cast<std::int64_t>(L.buildings.size());
  if (ranks < 1) throw InputError("--ranks " + std::to_string(ranks), "expected at least 1 rank");
  if (ranks > n_gpus)
    throw InputError("--ranks " + std::to_string(ranks),
                     "more ranks than the fabric's " + std::to_string(n_gpus) + " GPUs");
  const std::uint32_t dom = L.gpus_per_domain;
  const std::uint32_t nb = static_cast<std::uint32_t>(L.buildings.size());
  const std::uint32_t domains_per_building = L.gpus_per_building / dom;
  gpu_.resize(ranks);
  for (int r = 0; r < ranks; ++r) {
    if (placement == Placement::Packed) {
      gpu_[r] = static_cast<NodeId>(r);
      continue;
    }
    const std::uint32_t j = static_cast<std::uint32_t>(r) / dom, local = static_cast<std::uint32_t>(r) % dom;
    const std::uint32_t b = j % nb, d = j / nb;
    if (d >= domains_per_building)
      throw InputError("--ranks " + std::to_string(ranks),
                       "spread placement needs " + std::to_string(d + 1) + " NVLink domains in building " +
                           std::to_string(b) + ", which has " + std::to_string(domains_per_building));
    gpu_[r] = L.buildings[b].gpu_base + d * dom + local;
  }
  // Nodes (NVLink domains) in order of first appearance.
  std::map<std::uint32_t, std::uint32_t> node_index;
  node_of_rank_.resize(ranks);
  for (int r = 0; r < ranks; ++r) {
    auto [it, fresh] = node_index.emplace(gpu_[r] / dom, static_cast<std::uint32_t>(node_ranks_.size()));
    if (fresh) node_ranks_.emplace_back();
    node_of_rank_[r] = it->second;
    node_ranks_[it->second].push_back(r);
  }
  shape_.ranks = ranks;
  shape_.nodes = static_cast<int>(node_ranks_.size());
  for (const auto& nr : node_ranks_) shape_.ranks_per_node = std::max(shape_.ranks_per_node, static_cast<int>(nr.size()));
  shape_.nvswitch = dom > 1;

  payload_Bps_.resize(fabric.num_links());
  for (models::LinkId l = 0; l < fabric.num_links(); ++l) {
    const models::Link& k = fabric.link(l);
    payload_Bps_[l] = k.capacity_Bps * (k.tier == LinkTier::NvLink ? kNvlinkPayloadEfficiency : kRoceV2PayloadEfficiency);
  }
  // Per-GPU bandwidths of rank 0's GPU, for NCCL's model.
  for (models::LinkId l : fabric.out_links(gpu_[0])) {
    const models::Link& k = fabric.link(l);
    if (k.tier == LinkTier::NvLink) shape_.nvlink_Bps = payload_Bps_[l];
    if (k.tier == LinkTier::HostNic) shape_.nic_Bps = payload_Bps_[l];
  }
  groups_ = models::LinkGroups(fabric, payload_Bps_);
}

int Communicator::default_channels() const {
  if (shape_.nodes == 1) return 16;
  return std::clamp(2 * shape_.ranks_per_node, 2, 32);
}

namespace {

// Builds the flows of one collective into an engine.
class Builder {
 public:
  Builder(const models::Router& router, const models::LinkGroups& groups, models::FlowEngine& engine, int qps)
      : router_(router), groups_(groups), engine_(engine), qps_(qps) {}

  // The mean latency of the path src -> dst (through `via` when given, PXN), QP 0, seconds.
  double path_latency_s(NodeId src, NodeId dst, NodeId via = models::kNoNode) {
    if (via != models::kNoNode && via != src) return path_latency_s(src, via) + path_latency_s(via, dst);
    router_.route({src, dst, 0, 0xC000u}, route_);
    return models::mean_latency_s(router_.fabric(), route_);
  }

  // One connection src -> dst (optionally through `via`, PXN) as qps flows sharing `bytes`; returns the flow ids.
  // `latency_s` is added to the path's own latency, counted `path_times` times (0: the caller counted it). Flows
  // depend on `deps`.

  void connection(NodeId src, NodeId dst, NodeId via, std::uint32_t channel, double bytes, double latency_s,
                  double cap_Bps, std::span<const FlowId> deps, std::vector<FlowId>& out, int path_times = 1) {
    for (int q = 0; q < qps_; ++q) {
      combined_.clear();
      double path_latency = 0;
      auto add = [&](NodeId a, NodeId b) {
        router_.route({a, b, static_cast<std::uint32_t>(q), 0xC000u + channel}, route_);
        combined_.links.insert(combined_.links.end(), route_.links.begin(), route_.links.end());
        combined_.coefficients.insert(combined_.coefficients.end(), route_.coefficients.begin(),
                                      route_.coefficients.end());
        path_latency += models::mean_latency_s(router_.fabric(), route_);
      };
      if (via != models::kNoNode && via != src) {
        add(src, via);
        add(via, dst);
      } else {
        add(src, dst);
      }
      groups_.map(combined_, links_, coeffs_);
      out.push_back(engine_.add_flow(bytes / qps_, links_, coeffs_, latency_s + path_times * path_latency, deps, 0, 1,
                                     cap_Bps / qps_));
    }
  }

 private:
  const models::Router& router_;
  const models::LinkGroups& groups_;
  models::FlowEngine& engine_;
  int qps_;
  models::Route route_, combined_;
  std::vector<std::uint32_t> links_;  // link groups
  std::vector<double> coeffs_;
};

}  // namespace

CollResult Communicator::run(const CollSpec& spec, const std::string& solver) const {
  const int n = size();
  if (spec.qps < 1) throw InputError("--qps " + std::to_string(spec.qps), "expected at least 1 QP per connection");
  if (spec.channels < 0) throw InputError("--channels " + std::to_string(spec.channels), "expected at least 1 channel");
  if (spec.root < 0 || spec.root >= n)
    throw InputError("--root " + std::to_string(spec.root), "expected a rank in [0, " + std::to_string(n) + ")");
  if (!(spec.bytes >= 0) || !std::isfinite(spec.bytes) || spec.bytes > 1e18)
    throw InputError("", "size " + std::to_string(spec.bytes) + " B; expected a size from 0 to 1e18 B");
  CollResult res;
  res.op = spec.op;
  res.count = nccl_tests_count(spec.op, spec.bytes, n);
  res.bytes = nccl_tests_bytes(spec.op, res.count, n);
  res.channels = spec.channels ? spec.channels : default_channels();
  const int nch = res.channels;
  const Choice ch = choose(spec.op, res.bytes, shape_, nch, spec.algo ? &*spec.algo : nullptr,
                           spec.proto ? &*spec.proto : nullptr);
  res.algo = ch.algo;
  res.proto = ch.proto;
  const double eff = proto_efficiency(ch.proto);
  // Per-channel payload ceilings of the protocol, as wire-rate caps of one channel's connection.
  double channel_cap = models::solver::kNoCap;
  if (ch.proto == Proto::LL128) channel_cap = ll128_channel_cap_Bps() / eff;
  if (ch.proto == Proto::LL) channel_cap = ll_total_cap_Bps(shape_.nodes) / nch / eff;
  if (ch.algo == Algo::Tree) channel_cap = tree_channel_cap_Bps(ch.proto, shape_.nodes, nch) / eff;

  models::FlowEngine engine(groups_.capacities(), solver);
  Builder b(router_, groups_, engine, spec.qps);
  std::vector<FlowId> flows, prev_step, this_step;
  const double S = res.bytes;
  const double model_latency = nccl_latency_s(spec.op, ch.algo, ch.proto, shape_);

  if (n == 1 || S == 0) {
    // Nothing crosses a link: NCCL still pays its latency (n == 1: a local copy, not modelled).
    engine.add_flow(0, {}, {}, n == 1 ? 0 : model_latency);
  } else if (ch.algo == Algo::Nvls || ch.algo == Algo::NvlsTree) {
    // NVLS inside an NVSwitch domain of m ranks: each GPU's shard is reduced by the switch (multimem.ld_reduce reads
    // S/m from every GPU) and multicast back (multimem.st): S (1 + 1/m) each way on every GPU's NVLink. NCCL's NVLS
    // efficiency and (nCh - 1)/nCh (tuning.cc) scale the bytes on the wire. NVLSTree: between the two phases, GPU l of
    // every node all-reduces its shard S/m with GPU l of the others over a double binary tree of their NICs (half
    // the shard on each tree, up then down: S/m through each NIC each way, as Tree does with S).
    for (int r = 0; r < n; ++r) {
      const double m = static_cast<double>(node_ranks_[node_of_rank_[r]].size());
      const double wire = S * (1.0 + 1.0 / m) / (kNvlsEfficiency * (nch - 1) / nch);
      models::LinkId up = models::kNoLink;
      for (models::LinkId l : fabric_.out_links(gpu_[r]))
        if (fabric_.link(l).tier == LinkTier::NvLink) up = l;
      COLLEMU_ASSERT(up != models::kNoLink, "NVLS without an NVLink");
      const models::LinkId down = models::Fabric::reverse(up);
      const std::uint32_t lu[] = {groups_.group(up)}, ld[] = {groups_.group(down)};
      const double one[] = {1.0};
      flows.push_back(engine.add_flow(wire, lu, one, model_latency + fabric_.link(up).latency_s));
      flows.push_back(engine.add_flow(wire, ld, one, model_latency + fabric_.link(down).latency_s));
    }
    if (ch.algo == Algo::NvlsTree) {
      const int nodes = shape_.nodes;
      for (int l = 0; l < shape_.ranks_per_node; ++l)
        for (int t = 0; t < 2; ++t)
          for (int i = 0; i < nodes; ++i) {
            const int parent = dtree_parent(nodes, i, t);
            const auto& mine = node_ranks_[i];
            if (parent < 0 || l >= static_cast<int>(mine.size()) ||
                l >= static_cast<int>(node_ranks_[parent].size()))
              continue;
            const double D = S / static_cast<double>(mine.size()) / 2;
            const NodeId a = gpu_[mine[l]], z = gpu_[node_ranks_[parent][l]];
            b.connection(a, z, models::kNoNode, static_cast<std::uint32_t>(2 * l + t), D, model_latency,
                         models::solver::kNoCap, {}, flows);
            b.connection(z, a, models::kNoNode, static_cast<std::uint32_t>(2 * l + t), D, model_latency,
                         models::solver::kNoCap, {}, flows);
          }
    }
  } else if (ch.algo == Algo::Pat) {
    // PAT (one rank per node): at step k every rank exchanges with the rank 2^k away the min(2^k, n - 2^k) chunks of
    // S/n it has gathered so far (a Bruck-style doubling: n - 1 chunks in all, log2(n) steps), pipelined; PAT's 0.75
    // (tuning.cc) scales the bytes on the wire.
    // The rounds follow each other: every flow pays the rounds' summed (mean) path latencies.
    double rounds_path_s = 0;
    for (int dist = 1; dist < n; dist *= 2) {
      double round_s = 0;
      for (int r = 0; r < n; ++r) round_s += b.path_latency_s(gpu_[r], gpu_[(r + dist) % n]);
      rounds_path_s += round_s / n;
    }
    for (int dist = 1; dist < n; dist *= 2) {
      const double chunks = std::min(dist, n - dist);
      for (int r = 0; r < n; ++r) {
        const int peer = spec.op == Op::AllGather ? (r - dist + n) % n : (r + dist) % n;
        b.connection(gpu_[r], gpu_[peer], models::kNoNode, static_cast<std::uint32_t>(dist % 64),
                     chunks * S / n / kPatEfficiency, model_latency + rounds_path_s, models::solver::kNoCap, {},
                     flows, 0);
      }
    }
  } else if (ch.algo == Algo::Tree) {
    // NCCL's Tree AllReduce: per channel, a chain through each node's ranks (rotated by half the channel index, so
    // that each GPU heads one channel of each tree and its NIC serves both; the head is the node's end of the tree)
    // and, between nodes, the channel's tree of the double binary tree (even channels tree 0, odd ones tree 1). A
    // channel reduces its S/nch up the tree and broadcasts it down. Pipelined: every edge carries S/nch each way as
    // one flow. Step: the channel's data goes in chunks of NCCL's Simple step (4 MiB buffer / NCCL_STEPS 8 = 512 KiB,
    // at most 1,024 chunks); a chunk goes up an edge once it came up every child edge, and down once it came down to
    // the parent (the root: once it came up from all its children); the first chunk pays NCCL's Tree per-hop latency.
    const int nodes = shape_.nodes;
    std::vector<int> parent(n), depth(n), order;
    std::vector<std::vector<int>> children(n);
    std::vector<std::vector<FlowId>> up(n), down(n), prev_up(n), prev_down(n);
    std::vector<FlowId> deps;
    for (int c = 0; c < nch; ++c) {
      std::fill(parent.begin(), parent.end(), -1);
      for (auto& ch_list : children) ch_list.clear();
      auto member = [&](int node, int k) {
        const auto& nr = node_ranks_[node];
        return nr[static_cast<std::size_t>(k + c / 2) % nr.size()];
      };
      for (int i = 0; i < nodes; ++i) {
        const int m = static_cast<int>(node_ranks_[i].size());
        for (int k = 1; k < m; ++k) parent[member(i, k)] = member(i, k - 1);
        const int pn = dtree_parent(nodes, i, c % 2);
        if (pn >= 0) parent[member(i, 0)] = member(pn, 0);
      }
      for (int r = 0; r < n; ++r)
        if (parent[r] >= 0) children[parent[r]].push_back(r);
      if (spec.granularity == Granularity::Pipelined) {
        // Data goes up to the root and back down: every flow pays twice the path latency of the deepest leaf's way.
        double deepest_s = 0;
        for (int r = 0; r < n; ++r) {
          if (!children[r].empty()) continue;
          double up_s = 0;
          for (int at = r; parent[at] >= 0; at = parent[at]) up_s += b.path_latency_s(gpu_[at], gpu_[parent[at]]);
          deepest_s = std::max(deepest_s, up_s);
        }
        const double D = S / nch / eff;
        for (int r = 0; r < n; ++r) {
          if (parent[r] < 0) continue;
          const NodeId a = gpu_[r], z = gpu_[parent[r]];
          b.connection(a, z, models::kNoNode, c, D, model_latency + 2 * deepest_s, channel_cap, {}, flows, 0);
          b.connection(z, a, models::kNoNode, c, D, model_latency + 2 * deepest_s, channel_cap, {}, flows, 0);
        }
        continue;
      }
      // Depths (a parent is nearer the root), then ranks deepest first: children are added before their parents.
      order.resize(n);
      for (int r = 0; r < n; ++r) {
        int d = 0;
        for (int at = r; parent[at] >= 0; at = parent[at]) ++d;
        depth[r] = d;
        order[r] = r;
      }
      std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return depth[x] > depth[y]; });
      const double per_channel = S / nch;
      const int K = static_cast<int>(std::clamp(std::ceil(per_channel / (512.0 * 1024)), 1.0, 1024.0));
      const double chunk = per_channel / K / eff;
      for (auto& v : prev_up) v.clear();
      for (auto& v : prev_down) v.clear();
      for (int j = 0; j < K; ++j) {
        for (int r : order) {  // reduce: up
          up[r].clear();
          if (parent[r] < 0) continue;
          deps.assign(prev_up[r].begin(), prev_up[r].end());
          for (int ch_r : children[r]) deps.insert(deps.end(), up[ch_r].begin(), up[ch_r].end());
          const bool inter = node_of_rank_[r] != node_of_rank_[parent[r]];
          // The first chunk pays the hop's latency (and the leaves the base latency); later chunks follow it through
          // NCCL's NCCL_STEPS slots without paying it again.
          const double lat = j > 0 ? 0.0
                                   : tree_step_latency_s(ch.proto, inter) +
                                         (children[r].empty() ? tree_base_latency_s(ch.proto) : 0.0);
          b.connection(gpu_[r], gpu_[parent[r]], models::kNoNode, c, chunk, lat, channel_cap, deps, up[r]);
          flows.insert(flows.end(), up[r].begin(), up[r].end());
        }
        for (auto it = order.rbegin(); it != order.rend(); ++it) {  // broadcast: down
          const int r = *it;
          down[r].clear();
          if (parent[r] < 0) continue;
          const int p = parent[r];
          deps.assign(prev_down[r].begin(), prev_down[r].end());
          if (parent[p] < 0) {
            for (int sib : children[p]) deps.insert(deps.end(), up[sib].begin(), up[sib].end());
          } else {
            deps.insert(deps.end(), down[p].begin(), down[p].end());
          }
          const bool inter = node_of_rank_[r] != node_of_rank_[p];
          b.connection(gpu_[p], gpu_[r], models::kNoNode, c, chunk, j > 0 ? 0.0 : tree_step_latency_s(ch.proto, inter),
                       channel_cap, deps, down[r]);
          flows.insert(flows.end(), down[r].begin(), down[r].end());
        }
        std::swap(up, prev_up);
        std::swap(down, prev_down);
      }
    }
  } else if (spec.op == Op::SendRecv) {
    // Rank s sends S to rank s + 1 (nccl-tests' sendrecv); to another NVLink domain through PXN.
    const std::uint32_t dom = fabric_.layout.gpus_per_domain;
    for (int s = 0; s < n; ++s) {
      const NodeId gs = gpu_[s], gd = gpu_[(s + 1) % n];
      const NodeId via = dom > 1 && gs / dom != gd / dom ? (gs / dom) * dom + gd % dom : models::kNoNode;
      b.connection(gs, gd, via, 0, S / eff, model_latency, models::solver::kNoCap, {}, flows);
    }
  } else if (spec.op == Op::AllToAll) {
    // Every rank sends S/n to every other. Inside a domain: over NVLink. To another domain, with PXN: over NVLink to
    // the GPU on the destination's rail (same local index), which sends for every rank of its domain over its NIC.
    // Pipelined, each stage is its own flow: per (source, NVLink peer) the bytes of all its destinations through
    // that peer, and per (proxy, destination) one connection with the bytes of the whole source domain.
    const std::uint32_t dom = fabric_.layout.gpus_per_domain;
    const double piece = S / n;
    std::vector<double> ranks_by_local(dom, 0.0), remote_by_local(dom), to_gpu(dom);
    for (int r = 0; r < n; ++r) ranks_by_local[gpu_[r] % dom] += 1;
    for (const auto& members : node_ranks_) {
      const NodeId base = gpu_[members.front()] / dom * dom;
      for (std::uint32_t l = 0; l < dom; ++l) remote_by_local[l] = ranks_by_local[l];
      for (int r : members) remote_by_local[gpu_[r] % dom] -= 1;
      for (int s : members) {
        std::fill(to_gpu.begin(), to_gpu.end(), 0.0);
        for (int d : members)
          if (d != s) to_gpu[gpu_[d] % dom] += piece;
        for (std::uint32_t l = 0; l < dom; ++l)
          if (base + l != gpu_[s]) to_gpu[l] += remote_by_local[l] * piece;
        for (std::uint32_t l = 0; l < dom; ++l)
          if (to_gpu[l] > 0)
            b.connection(gpu_[s], base + l, models::kNoNode, 0, to_gpu[l] / eff, model_latency,
                         models::solver::kNoCap, {}, flows);
      }
      const double domain_bytes = piece * static_cast<double>(members.size());
      for (int d = 0; d < n; ++d) {
        if (gpu_[d] / dom == base / dom) continue;
        b.connection(base + gpu_[d] % dom, gpu_[d], models::kNoNode, static_cast<std::uint32_t>(d % 64),
                     domain_bytes / eff, model_latency, models::solver::kNoCap, {}, flows);
      }
    }
  } else {
    // Rings: channel c visits the nodes in order, and inside each node its ranks rotated by c, so that every GPU
    // (and its NIC) enters its node on ranks_per_node-th of the channels. Between nodes a channel stays on one rail,
    // as NCCL's rail-aligned rings do (NET/x GPU_x ... GPU_y NET/x): the last GPU of a node hands its data over
    // NVLink to the GPU on the next node's entry rail, whose NIC sends it (PXN).
    const std::uint32_t dom = fabric_.layout.gpus_per_domain;
    auto rail_via = [&](int a, int z) {
      const NodeId ga = gpu_[a], gz = gpu_[z];
      if (dom == 1 || ga / dom == gz / dom) return models::kNoNode;
      return ga / dom * dom + gz % dom;
    };
    const int K = spec.op == Op::AllReduce ? 2 * (n - 1) : n - 1;  // ring steps (Broadcast/Reduce: chain of n-1)
    for (int c = 0; c < nch; ++c) {
      std::vector<int> order;
      order.reserve(n);
      for (const auto& nr : node_ranks_) {
        const int m = static_cast<int>(nr.size());
        for (int i = 0; i < m; ++i) order.push_back(nr[(i + c) % m]);
      }
      auto edge_inter = [&](int k) { return node_of_rank_[order[k]] != node_of_rank_[order[(k + 1) % n]]; };
      if (spec.op == Op::Broadcast || spec.op == Op::Reduce) {
        // A chain of n - 1 edges from the root around the ring (Reduce: towards the root), S per channel share.
        // The data crosses the whole chain: every flow pays the chain's summed path latency.
        const int at = static_cast<int>(std::find(order.begin(), order.end(), spec.root) - order.begin());
        double chain_path_s = 0;
        for (int k = 0; k < n - 1; ++k) {
          const int a = order[(at + k) % n], z = order[(at + k + 1) % n];
          chain_path_s += b.path_latency_s(gpu_[a], gpu_[z], rail_via(a, z));
        }
        for (int k = 0; k < n - 1; ++k) {
          int a = order[(at + k) % n], z = order[(at + k + 1) % n];
          if (spec.op == Op::Reduce) std::swap(a, z);
          b.connection(gpu_[a], gpu_[z], rail_via(a, z), c, S / nch / eff, model_latency + chain_path_s, channel_cap,
                       {}, flows, 0);
        }
        continue;
      }
      if (spec.granularity == Granularity::Pipelined) {
        // A chunk crosses K consecutive edges of the ring: K times the ring's mean path latency.
        const double share = (spec.op == Op::AllReduce ? 2.0 * (n - 1) / n : (n - 1.0) / n) * S / nch;
        double ring_path_s = 0;
        for (int k = 0; k < n; ++k)
          ring_path_s += b.path_latency_s(gpu_[order[k]], gpu_[order[(k + 1) % n]], rail_via(order[k], order[(k + 1) % n]));
        const double latency = model_latency + K * ring_path_s / n;
        for (int k = 0; k < n; ++k)
          b.connection(gpu_[order[k]], gpu_[order[(k + 1) % n]], rail_via(order[k], order[(k + 1) % n]), c, share / eff, latency,
                       channel_cap, {}, flows, 0);
        continue;
      }
      // Step-accurate: step s of the ring edge k waits for step s - 1 of edge k - 1 (the chunk it forwards).
      const double chunk = S / n / nch / eff;
      const double base = model_latency -
                          [&] {  // NCCL's latency minus its per-step part: the base latency, paid once
                            double steps = 0;
                            const int ninter = shape_.nodes == 1 ? 0 : (spec.op == Op::AllReduce ? 2 : 1) * (shape_.nodes - 1);
                            steps += (K - ninter) * ring_step_latency_s(ch.proto, false, shape_);
                            steps += ninter * ring_step_latency_s(ch.proto, true, shape_);
                            return steps;
                          }();
      prev_step.clear();
      for (int s = 0; s < K; ++s) {
        this_step.clear();
        for (int k = 0; k < n; ++k) {
          const double lat = ring_step_latency_s(ch.proto, edge_inter(k), shape_) + (s == 0 ? base : 0);
          std::span<const FlowId> deps;
          if (s > 0) {
            const std::size_t kp = static_cast<std::size_t>((k + n - 1) % n) * spec.qps;
            deps = {prev_step.data() + kp, static_cast<std::size_t>(spec.qps)};
          }
          b.connection(gpu_[order[k]], gpu_[order[(k + 1) % n]], rail_via(order[k], order[(k + 1) % n]), c, chunk, lat, channel_cap, deps,
                       this_step);
        }
        flows.insert(flows.end(), this_step.begin(), this_step.end());
        std::swap(prev_step, this_step);
      }
    }
  }

  engine.run();
  res.time_s = engine.makespan_s();
  res.flows = engine.num_flows();
  res.engine = engine.stats();
  res.algbw_Bps = res.time_s > 0 ? S / res.time_s : 0;
  res.busbw_Bps = res.algbw_Bps * busbw_factor(spec.op, n);
  // The binding tier: the tier of the link with the highest utilisation over the collective.
  if (res.time_s > 0) {
    const auto& carried = engine.link_bytes();
    for (std::uint32_t g = 0; g < carried.size(); ++g) {
      if (carried[g] <= 0 || groups_.capacity_Bps(g) <= 0) continue;
      const double u = carried[g] / (groups_.capacity_Bps(g) * res.time_s);
      if (u > res.binding_utilisation) {
        res.binding_utilisation = u;
        res.binding_tier = fabric_.link(groups_.representative(g)).tier;
      }
    }
  }
  return res;
}

}  // namespace collemu::collectives
