#include "analysis/timeline.hpp"

#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/atomic_file.hpp"

namespace collemu::analysis {

void write_timeline(const std::string& path, const emulator::ReplayReport& rep, const StepSummary& sum,
                    const std::vector<emulator::Job>& jobs) {
  using nlohmann::json;
  json events = json::array();
  // One process per job with its recorded ranks (job 0 is pid 0, job k pid k + 1), and one for the tiers (pid 1).
  const int tiers_pid = 1;
  auto job_pid = [](std::uint32_t job) { return job == 0 ? 0 : static_cast<int>(job) + 1; };
  std::set<std::pair<std::uint32_t, std::uint32_t>> ranks;  // (job, rank)
  for (const auto& o : rep.rank_ops) ranks.insert({o.job, o.rank});
  std::set<std::uint32_t> named;
  for (auto [job, r] : ranks) {
    if (named.insert(job).second)
      events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", job_pid(job)}, {"tid", 0},
                        {"args", {{"name", rep.jobs[job].name + " (recorded ranks)"}}}});
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", job_pid(job)}, {"tid", 2 * r},
                      {"args", {{"name", "rank " + std::to_string(r) + " compute"}}}});
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", job_pid(job)}, {"tid", 2 * r + 1},
                      {"args", {{"name", "rank " + std::to_string(r) + " communication"}}}});
  }
  if (named.empty())
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", job_pid(0)}, {"tid", 0},
                      {"args", {{"name", rep.jobs.front().name + " (recorded ranks)"}}}});
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", tiers_pid}, {"tid", 0},
                    {"args", {{"name", "link tiers: utilisation"}}}});
  for (const auto& o : rep.rank_ops) {
    const traces::Trace& t = *jobs[o.job].trace;
    const bool compute = o.kind == traces::OpKind::Compute;
    json e = {{"ph", "X"},
              {"pid", job_pid(o.job)},
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
  // step_time_s: the last job's end (every job's own in jobs[]).
  double end_s = 0;
  json job_list = json::array();
  for (const auto& j : rep.jobs) {
    end_s = std::max(end_s, j.step_time_s);
    job_list.push_back({{"name", j.name}, {"step_time_s", j.step_time_s}});
  }
  const json doc = {{"traceEvents", events},
                    {"displayTimeUnit", "ms"},
                    {"otherData", {{"generator", "collemu run"}, {"step_time_s", end_s}, {"jobs", job_list}}}};
  common::write_file_atomically(path, doc.dump() + "\n");
}

}  // namespace collemu::analysis
