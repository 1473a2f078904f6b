#include "analysis/results.hpp"

#include "collectives/nccl.hpp"
#include "traces/hdf5_io.hpp"

namespace collemu::analysis {

void write_results_h5(const std::string& path, const emulator::ReplayReport& rep, const StepSummary& sum,
                      const std::vector<emulator::Job>& jobs, const RunInfo& info) {
  traces::h5::write_atomically(path, [&](traces::h5::Writer& w) {
    w.attr_str("format", "collemu-results");
    w.attr_u64("version", kResultsFormatVersion);
    std::string sources;
    for (const auto& j : jobs) sources += (sources.empty() ? "" : "; ") + j.trace->source;
    w.attr_str("trace", sources);
    w.attr_str("topo", info.topo);
    w.attr_str("placement", info.placement);
    w.attr_str("solver", info.solver);
    w.attr_f64("finish_tolerance", info.finish_tolerance);
    const emulator::JobReport& j0 = rep.jobs.front();
    w.attr_f64("step_time_s", j0.step_time_s);
    w.attr_f64("compute_s", j0.critical.compute_s);
    w.attr_f64("exposed_comm_s", j0.critical.exposed_comm_s);
    w.attr_f64("wait_s", j0.critical.wait_s);
    w.attr_f64("bubble_s", j0.critical.bubble_s);
    w.attr_u64("critical_rank", j0.critical_rank);
    w.attr_f64("bag_bytes", sum.bag_bytes);
    w.attr_u64("flows", rep.flows);
    w.attr_u64("events", rep.replay_events);

    // Names of the codes the columns use.
    w.group("/legend");
    std::vector<std::string> names;
    for (int k = 0; k < common::kNumCollKinds; ++k) names.push_back(common::to_string(static_cast<common::CollKind>(k)));
    w.strings("/legend/kind", names);
    names.clear();
    for (auto a : {collectives::Algo::Ring, collectives::Algo::Tree, collectives::Algo::Nvls,
                   collectives::Algo::NvlsTree, collectives::Algo::Pat})
      names.push_back(collectives::to_string(a));
    w.strings("/legend/algo", names);
    names.clear();
    for (auto p : {collectives::Proto::LL, collectives::Proto::LL128, collectives::Proto::Simple})
      names.push_back(collectives::to_string(p));
    w.strings("/legend/proto", names);
    names.clear();
    for (int t = 0; t < models::kNumLinkTiers; ++t) names.push_back(models::to_string(static_cast<models::LinkTier>(t)));
    w.strings("/legend/tier", names);

    // Jobs and their communicators.
    w.group("/jobs");
    std::vector<std::string> job_names;
    std::vector<double> step;
    std::vector<std::uint32_t> critical, comm_offset;
    std::vector<std::string> comm_names;
    std::vector<std::uint32_t> comm_size;
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      job_names.push_back(rep.jobs[j].name);
      step.push_back(rep.jobs[j].step_time_s);
      critical.push_back(rep.jobs[j].critical_rank);
      comm_offset.push_back(static_cast<std::uint32_t>(comm_names.size()));
      for (const auto& c : jobs[j].trace->comms) {
        comm_names.push_back(c.name);
        comm_size.push_back(static_cast<std::uint32_t>(c.ranks.size()));
      }
    }
    w.strings("/jobs/name", job_names);
    w.column("/jobs/step_time_s", step);
    w.column("/jobs/critical_rank", critical);
    w.column("/jobs/comm_offset", comm_offset);
    w.group("/comms");
    w.strings("/comms/name", comm_names);
    w.column("/comms/size", comm_size);

    // One row per collective and transfer.
    {
      const auto& cs = rep.colls;
      auto col = [&](const char* name, auto get) {
        using T = decltype(get(cs.front()));
        std::vector<T> v;
        v.reserve(cs.size());
        for (const auto& c : cs) v.push_back(get(c));
        w.column(name, v);
      };
      w.group("/collectives");
      if (!cs.empty()) {
        using R = emulator::CollRecord;
        col("/collectives/job", [](const R& c) { return c.job; });
        col("/collectives/comm", [](const R& c) { return c.comm; });
        col("/collectives/index", [](const R& c) { return static_cast<std::uint64_t>(c.index); });
        col("/collectives/kind", [](const R& c) { return static_cast<std::uint8_t>(c.kind); });
        col("/collectives/bytes", [](const R& c) { return c.bytes; });
        col("/collectives/ranks", [](const R& c) { return static_cast<std::uint32_t>(c.ranks); });
        col("/collectives/start_s", [](const R& c) { return c.start_s; });
        col("/collectives/end_s", [](const R& c) { return c.end_s; });
        col("/collectives/algo", [](const R& c) { return static_cast<std::uint8_t>(c.algo); });
        col("/collectives/proto", [](const R& c) { return static_cast<std::uint8_t>(c.proto); });
        col("/collectives/channels", [](const R& c) { return static_cast<std::uint32_t>(c.channels); });
        col("/collectives/busbw_Bps", [](const R& c) { return c.busbw_Bps; });
        col("/collectives/binding_tier", [](const R& c) { return static_cast<std::uint8_t>(c.binding_tier); });
        col("/collectives/binding_utilisation", [](const R& c) { return c.binding_utilisation; });
        col("/collectives/src_rank", [](const R& c) { return c.src_rank; });
        col("/collectives/dst_rank", [](const R& c) { return c.dst_rank; });
      }
    }

    // Per rank of every job.
    {
      std::vector<std::uint32_t> job, rank;
      std::vector<double> compute, exposed, bubble, wait, end, caused;
      for (std::size_t j = 0; j < rep.jobs.size(); ++j)
        for (std::size_t r = 0; r < rep.jobs[j].ranks.size(); ++r) {
          const auto& t = rep.jobs[j].ranks[r];
          job.push_back(static_cast<std::uint32_t>(j));
          rank.push_back(static_cast<std::uint32_t>(r));
          compute.push_back(t.compute_s);
          exposed.push_back(t.exposed_comm_s);
          bubble.push_back(t.bubble_s);
          wait.push_back(t.wait_s);
          end.push_back(t.end_s);
          caused.push_back(t.caused_wait_s);
        }
      w.group("/ranks");
      w.column("/ranks/job", job);
      w.column("/ranks/rank", rank);
      w.column("/ranks/compute_s", compute);
      w.column("/ranks/exposed_comm_s", exposed);
      w.column("/ranks/bubble_s", bubble);
      w.column("/ranks/wait_s", wait);
      w.column("/ranks/end_s", end);
      w.column("/ranks/caused_wait_s", caused);
    }

    // Tiers over the step, and over time.
    {
      std::vector<std::string> name;
      std::vector<std::uint8_t> code;
      std::vector<std::uint64_t> links;
      std::vector<double> bytes, cap, util;
      for (const auto& t : sum.tiers) {
        name.push_back(models::to_string(t.tier));
        code.push_back(static_cast<std::uint8_t>(t.tier));
        links.push_back(t.links);
        bytes.push_back(t.bytes);
        cap.push_back(t.capacity_Bps);
        util.push_back(t.utilisation);
      }
      w.group("/tiers");
      w.strings("/tiers/name", name);
      w.column("/tiers/tier", code);
      w.column("/tiers/links", links);
      w.column("/tiers/bytes", bytes);
      w.column("/tiers/capacity_Bps", cap);
      w.column("/tiers/utilisation", util);
      w.group("/series");
      std::vector<double> t0;
      for (std::size_t i = 0; i < rep.tiers.bytes.size(); ++i) t0.push_back(static_cast<double>(i) * rep.tiers.bin_s);
      w.column("/series/time_s", t0);
      for (const auto& t : sum.tiers) {
        std::vector<double> u;
        for (const auto& bin : rep.tiers.bytes)
          u.push_back(t.capacity_Bps > 0 ? bin[static_cast<int>(t.tier)] / (t.capacity_Bps * rep.tiers.bin_s) : 0);
        w.column(("/series/" + std::string(models::to_string(t.tier))).c_str(), u);
      }
    }

    // The busiest links.
    {
      std::vector<std::string> name;
      std::vector<std::uint8_t> tier;
      std::vector<double> bytes, util;
      for (const auto& l : sum.busiest) {
        name.push_back(l.name);
        tier.push_back(static_cast<std::uint8_t>(l.tier));
        bytes.push_back(l.bytes);
        util.push_back(l.utilisation);
      }
      w.group("/links");
      w.strings("/links/name", name);
      w.column("/links/tier", tier);
      w.column("/links/bytes", bytes);
      w.column("/links/utilisation", util);
    }
  });
}

}  // namespace collemu::analysis
