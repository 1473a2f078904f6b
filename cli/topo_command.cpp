#include "cli/topo_command.hpp"

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/options.hpp"
#include "common/error.hpp"
#include "common/units.hpp"
#include "models/builder.hpp"
#include "models/config.hpp"
#include "models/router.hpp"
#include "models/summary.hpp"

namespace collemu::cli {

namespace {

struct TopoOptions {
  std::string source = "prometheus";
  std::vector<std::string> sets;
  std::vector<std::string> fails;
  std::vector<std::string> routes;
  bool json = false;
  bool list_keys = false;
  bool show_config = false;
};

nlohmann::json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json to_json(const models::TopoSummary& s) {
  using models::NodeKind;
  nlohmann::json j;
  j["name"] = s.name;
  j["gpus"] = s.gpus;
  j["hosts"] = s.scaleup_domains;
  j["nics"] = s.nics;
  j["switches"] = s.switches;
  j["links"] = s.links;
  j["failed_links"] = s.failed_links;
  nlohmann::json by_kind = nlohmann::json::object();
  for (int k = 0; k < models::kNumNodeKinds; ++k) {
    auto kind = static_cast<NodeKind>(k);
    if (kind == NodeKind::Gpu || kind == NodeKind::Nic || s.nodes_by_kind[k] == 0) continue;
    by_kind[models::to_string(kind)] = s.nodes_by_kind[k];
  }
  j["switches_by_tier"] = by_kind;
  nlohmann::json tiers = nlohmann::json::array();
  for (const auto& t : s.tiers)
    tiers.push_back({{"name", models::to_string(t.tier)},
                     {"cables", t.cables},
                     {"capacity_Bps", t.capacity_Bps},
                     {"oversubscription", optional_number(t.oversubscription)}});
  j["tiers"] = tiers;
  j["bag_oversubscription"] = optional_number(s.bag_oversubscription);
  nlohmann::json buildings = nlohmann::json::array();
  for (const auto& b : s.buildings)
    buildings.push_back({{"name", "r" + std::to_string(b.region) + ".b" + std::to_string(b.building)},
                         {"kind", models::to_string(b.kind)},
                         {"gpus", b.gpus},
                         {"bisection_Bps", b.bisection_Bps},
                         {"bag_oversubscription", optional_number(b.bag_oversubscription)}});
  j["buildings"] = buildings;
  j["bag_bisection_Bps"] = optional_number(s.bag_bisection_Bps);
  nlohmann::json inter = nlohmann::json::array();
  for (const auto& r : s.inter_region)
    inter.push_back({{"from", "r" + std::to_string(r.a)}, {"to", "r" + std::to_string(r.b)},
                     {"capacity_Bps", r.capacity_Bps}});
  j["inter_region"] = inter;
  j["memory_bytes"] = s.memory_bytes;
  return j;
}

std::string ratio_text(const std::optional<double>& r) { return r ? common::format_ratio(*r) : "-"; }

void print_text(const models::TopoSummary& s, const models::FabricLayout& L) {
  using models::NodeKind;
  std::printf("fabric %s: %zu GPUs (%s) in %zu scale-up domains of %u, %zu NICs (%u ports on %u planes)\n",
              s.name.c_str(), s.gpus, models::to_string(L.gpu), s.scaleup_domains, L.gpus_per_domain, s.nics,
              L.nic_ports, L.planes);
  std::printf("switches %zu:", s.switches);
  for (NodeKind k : {NodeKind::Leaf, NodeKind::EdgeLeaf, NodeKind::FabricElement, NodeKind::Spine,
                     NodeKind::SuperSpine, NodeKind::Bag})
    if (s.nodes_by_kind[static_cast<int>(k)])
      std::printf(" %s %zu", models::to_string(k), s.nodes_by_kind[static_cast<int>(k)]);
  std::printf("\nlinks %zu directed (%zu failed)\n\n", s.links, s.failed_links);
  std::printf("%-14s %10s %16s %18s\n", "tier", "cables", "capacity", "oversubscription");
  for (const auto& t : s.tiers)
    std::printf("%-14s %10zu %16s %18s\n", models::to_string(t.tier), t.cables,
                common::format_bandwidth(t.capacity_Bps).c_str(), ratio_text(t.oversubscription).c_str());
  std::printf("\n%-10s %-5s %8s %16s %10s\n", "building", "kind", "gpus", "bisection", "L2->BAG");
  for (const auto& b : s.buildings) {
    const std::string name = "r" + std::to_string(b.region) + ".b" + std::to_string(b.building);
    std::printf("%-10s %-5s %8zu %16s %10s\n", name.c_str(), models::to_string(b.kind), b.gpus,
                common::format_bandwidth(b.bisection_Bps).c_str(), ratio_text(b.bag_oversubscription).c_str());
  }
  std::printf("\nBAG oversubscription (L2->BAG): %s\n", ratio_text(s.bag_oversubscription).c_str());
  if (s.bag_bisection_Bps)
    std::printf("bisection across the BAG (half the buildings to the other half): %s\n",
                common::format_bandwidth(*s.bag_bisection_Bps).c_str());
  for (const auto& r : s.inter_region)
    std::printf("inter-region r%u -> r%u: %s\n", r.a, r.b, common::format_bandwidth(r.capacity_Bps).c_str());
}

// Every key with its kind (and unit), its value in this config (the preset's default unless a file or --set gave one)
// and its meaning.
void list_keys(const models::FabricConfig& config) {
  std::printf("%-28s %-20s %-14s %s\n", "key", "kind", "value", "meaning");
  for (const auto& k : models::config_keys()) {
    std::string kind;
    switch (k.kind) {
      case models::KeyKind::Count: kind = "count"; break;
      case models::KeyKind::CountOrAuto: kind = "count|auto"; break;
      case models::KeyKind::Bandwidth: kind = "bandwidth (bps, B/s)"; break;
      case models::KeyKind::Duration: kind = "duration (s)"; break;
      case models::KeyKind::Distance: kind = "distance (m)"; break;
      case models::KeyKind::Ratio: kind = "ratio (N:1)"; break;
      case models::KeyKind::Percent: kind = "share (%)"; break;
      case models::KeyKind::Bool: kind = "bool"; break;
      case models::KeyKind::Choice: kind = std::string(k.choices); break;
    }
    std::printf("%-28s %-20s %-14s %s\n", std::string(k.name).c_str(), kind.c_str(), config.text(k.name).c_str(),
                std::string(k.help).c_str());
  }
}

// "SRC:DST[:QP]" with GPUs as global indices (0, 20000) or names (r0.b1.gpu5).
models::FlowLabel parse_route(const models::Fabric& f, const std::string& spec) {
  const std::string where = "--route " + spec;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() < 2 || parts.size() > 3)
    throw common::InputError(where, "expected SRC:DST or SRC:DST:QP, e.g. 0:20000:1 or r0.b0.gpu0:r0.b1.gpu5");
  const std::size_t n_gpus = std::size_t{f.layout.gpus_per_building} * f.layout.buildings.size();
  auto gpu = [&](const std::string& text) -> models::NodeId {
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
      const auto v = std::stoull(text.substr(0, 12));
      if (text.size() > 12 || v >= n_gpus)
        throw common::InputError(where, "GPU " + text + " does not exist; the fabric has " + std::to_string(n_gpus) +
                                            " GPUs (0.." + std::to_string(n_gpus - 1) + ")");
      return static_cast<models::NodeId>(v);
    }
    const models::NodeId id = f.find_node(text);
    if (id == models::kNoNode || f.node(id).kind != models::NodeKind::Gpu)
      throw common::InputError(where, "'" + text + "' is not a GPU; expected an index or a name like r0.b0.gpu3");
    return id;
  };
  models::FlowLabel flow{gpu(parts[0]), gpu(parts[1])};
  if (flow.src_gpu == flow.dst_gpu)
    throw common::InputError(where, "SRC and DST are the same GPU (" + f.node_name(flow.src_gpu) +
                                        "); a route joins two different GPUs");
  if (parts.size() == 3) {
    const std::string& q = parts[2];
    if (q.empty() || q.size() > 9 || q.find_first_not_of("0123456789") != std::string::npos)
      throw common::InputError(where, "the QP index must be a whole number such as 0 or 3");
    flow.qp = static_cast<std::uint32_t>(std::stoul(q));
  }
  return flow;
}

nlohmann::json route_json(const models::Fabric& f, const models::FlowLabel& flow, const models::Route& r) {
  nlohmann::json links = nlohmann::json::array();
  for (std::size_t i = 0; i < r.size(); ++i)
    links.push_back({{"hop", r.hops[i]}, {"link", f.link_name(r.links[i])}, {"share", r.coefficients[i]}});
  return {{"src", f.node_name(flow.src_gpu)}, {"dst", f.node_name(flow.dst_gpu)}, {"qp", flow.qp},
          {"paths", r.path_count}, {"mean_latency_s", models::mean_latency_s(f, r)}, {"links", links}};
}

void print_route(const models::Fabric& f, const models::FlowLabel& flow, const models::Route& r) {
  std::printf("\nroute %s -> %s (qp %u): %.0f paths, mean latency %s\n", f.node_name(flow.src_gpu).c_str(),
              f.node_name(flow.dst_gpu).c_str(), flow.qp, r.path_count,
              common::format_duration(models::mean_latency_s(f, r)).c_str());
  std::printf("%4s %8s  %s\n", "hop", "share", "link");
  for (std::size_t i = 0; i < r.size(); ++i)
    std::printf("%4u %8.5f  %s\n", r.hops[i], r.coefficients[i], f.link_name(r.links[i]).c_str());
}

void run(const TopoOptions& o) {
  if (o.list_keys || o.show_config) {
    auto config = models::FabricConfig::from_preset_or_file(o.source);
    for (const auto& s : o.sets) config.set_assignment(s);
    if (o.list_keys) {
      list_keys(config);
      return;
    }
    models::build_fabric(config);  // an impossible fabric is refused here, not written out
    std::fputs(config.to_yaml().c_str(), stdout);
    return;
  }
  models::Fabric fabric = build_fabric_from_options(o.source, o.sets, o.fails);
  std::vector<models::FlowLabel> flows;
  for (const auto& spec : o.routes) flows.push_back(parse_route(fabric, spec));
  auto summary = models::summarize(fabric);
  std::vector<models::Route> routes(flows.size());
  if (!flows.empty()) {
    models::Router router(fabric);
    for (std::size_t i = 0; i < flows.size(); ++i) router.route(flows[i], routes[i]);
  }
  if (o.json) {
    auto j = to_json(summary);
    j["gpu"] = models::to_string(fabric.layout.gpu);
    if (!flows.empty()) {
      j["routes"] = nlohmann::json::array();
      for (std::size_t i = 0; i < flows.size(); ++i) j["routes"].push_back(route_json(fabric, flows[i], routes[i]));
    }
    std::cout << j.dump(2) << "\n";
  } else {
    print_text(summary, fabric.layout);
    for (std::size_t i = 0; i < flows.size(); ++i) print_route(fabric, flows[i], routes[i]);
  }
}

}  // namespace

void add_topo_command(CLI::App& app) {
  auto opts = std::make_shared<TopoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "topo", "Build a fabric (preset or YAML/JSON file) and print what the built graph measures: counts and "
              "capacity per tier, oversubscription at each tier boundary, bisection, inter-region capacity.");
  cmd->add_option("fabric", opts->source,
                  "preset (prometheus, llama3-24k, fat-tree) or a YAML/JSON fabric file; default prometheus");
  cmd->add_option("--set", opts->sets,
                  "override a key, e.g. --set bag.oversubscription=7:1 --set nic.speed=400Gbps (repeatable; "
                  "--list-keys lists the keys)")
      ->allow_extra_args(false);
  cmd->add_option("--fail", opts->fails,
                  "fail a switch (r0.b0.p0.fe3, r0.bag2) or a cable (A->B) before measuring (repeatable)")
      ->allow_extra_args(false);

  cmd->add_option("--route", opts->routes,
                  "print the path set of a flow SRC:DST[:QP] (GPU indices or names such as r0.b1.gpu5): every "
                  "link with its share of the flow (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--json", opts->json, "print one JSON object instead of tables");
  cmd->add_flag("--list-keys", opts->list_keys,
                "list every config key with its kind, unit, value here (the preset's unless set) and meaning");
  cmd->add_flag("--show-config", opts->show_config,
                "print the effective configuration (preset, file, --set) as YAML that `collemu topo FILE` reads back");
  cmd->callback([opts] { run(*opts); });
}

}  // namespace collemu::cli
