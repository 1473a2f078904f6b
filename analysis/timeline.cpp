#include "analysis/timeline.hpp"

#include <nlohmann/json.hpp>
#include <set>

#include "common/atomic_file.hpp"

namespace collemu::analysis {

void write_timeline(const std::string& path, const emulator::ReplayReport& rep, const StepSummary& sum,
                    const std::vector<emulator::Job>& jobs) {
  using nlohmann::json;
  json events = json::array();
  const int job_pid = 0, tiers_pid = 1;
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", job_pid}, {"tid", 0},
                    {"args", {{"name", rep.jobs.front().name + " (recorded ranks)"}}}});
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", tiers_pid}, {"tid", 0},
                    {"args", {{"name", "link tiers: utilisation"}}}});
  std::set<std::uint32_t> ranks;
  for (const auto& o : rep.rank_ops) ranks.insert(o.rank);
  for (std::uint32_t r : ranks) {
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", job_pid}, {"tid", 2 * r},
                      {"args", {{"name", "rank " + std::to_string(r) + " compute"}}}});
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", job_pid}, {"tid", 2 * r + 1},
                      {"args", {{"name", "rank " + std::to_string(r) + " communication"}}}});
  }
  const traces::Trace& t = *jobs.front().trace;
  for (const auto& o : rep.rank_ops) {
    const bool compute = o.kind == traces::OpKind::Compute;
    json e = {{"ph", "X"},
              {"pid", job_pid},
              {"tid", 2 * o.rank + (compute ? 0 : 1)},
              {"ts", o.start_s * 1e6},
              {"dur", (o.end_s - o.start_s) * 1e6},
              {"cat", compute ? "compute" : "communication"}};
    if (compute) {
      e["name"] = "compute";
    } else {
      e["name"] = o.kind == traces::OpKind::Collective ? common::to_string(o.coll) : traces::to_string(o.kind);
      e["args"] = {{"op", o.op}, {"comm", t.comms[o.comm].name}, {"waited_us", (o.data_s - o.start_s) * 1e6}};
    }
    events.push_back(std::move(e));
  }
  for (std::size_t i = 0; i < rep.tiers.bytes.size(); ++i) {
    json args = json::object();
    for (const auto& tier : sum.tiers)
      args[models::to_string(tier.tier)] =
          tier.capacity_Bps > 0 ? rep.tiers.bytes[i][static_cast<int>(tier.tier)] / (tier.capacity_Bps * rep.tiers.bin_s)
                                : 0.0;
    events.push_back({{"name", "utilisation"}, {"ph", "C"}, {"pid", tiers_pid}, {"tid", 0},
                      {"ts", static_cast<double>(i) * rep.tiers.bin_s * 1e6}, {"args", args}});
  }
  const json doc = {{"traceEvents", events},
                    {"displayTimeUnit", "ms"},
                    {"otherData", {{"generator", "collemu run"}, {"step_time_s", rep.jobs.front().step_time_s}}}};
  common::write_file_atomically(path, doc.dump() + "\n");
}

}  // namespace collemu::analysis
