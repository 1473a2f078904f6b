#include "cli/sweep_command.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "analysis/sweep.hpp"
#include "cli/options.hpp"
#include "cli/mpi.hpp"
#include "cli/scenario.hpp"
#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "common/units.hpp"
#include "models/config.hpp"
#include "models/placement.hpp"

namespace collemu::cli {

namespace {

struct SweepOptions {
  RunOptions base;
  std::vector<std::string> params;
  std::string points_file;
  int seeds = 1;
  std::string out, csv;
  long long task = -1;  // run only this point (all its seeds) and keep its rows (a Slurm array task)
  bool task_given = false;
  bool merge = false;   // run nothing: write OUT from the finished points (every one must be there)
  bool count = false;   // print the number of points and stop
};

// What a parameter changes in a scenario.
enum class Kind { Fabric, Placement, ComputeScale, Qps, Fail, Gen };

struct Param {
  std::string key;
  Kind kind = Kind::Fabric;
};

// What `key` is, as the next of `params`; refused when it is already among them, or also fixed by a --set.
Param classify(const std::string& key, const std::vector<Param>& params, const RunOptions& base,
               const std::string& where) {
  for (const Param& q : params)
    if (q.key == key) throw common::InputError(where, "the key " + key + " is given twice");
  Param p{key};
  if (key == "placement") p.kind = Kind::Placement;
  else if (key == "compute_scale") p.kind = Kind::ComputeScale;
  else if (key == "qps") p.kind = Kind::Qps;
  else if (key == "fail") p.kind = Kind::Fail;
  else if (key.rfind("gen.", 0) == 0) {
    p.kind = Kind::Gen;
    if (!base.traces.empty())
      throw common::InputError(where, "a generator option needs the embedded default job (no --trace)");
  }
  if (p.kind == Kind::Fabric)
    for (const auto& s : base.sets)
      if (s.substr(0, s.find('=')) == key)
        throw common::InputError(where, "key " + key + " is also given as --set " + s +
                                            "; a swept key takes its values from the sweep only");
  return p;
}

// Checks one value of a parameter now, so that a typo fails before the first point runs. `probe` is the base
// fabric's config (fabric keys are checked by setting them on a copy).
void check_value(const Param& p, const std::string& value, const models::FabricConfig& probe,
                 const RunOptions& base, const std::string& where) {
  from_option("--param", where, [&] {
    switch (p.kind) {
      case Kind::Fabric: {
        models::FabricConfig c = probe;
        c.set_assignment(p.key + "=" + value);
        break;
      }
      case Kind::Placement: models::parse_placement_spec(value); break;
      case Kind::ComputeScale: {
        const auto v = parse_number(value);
        if (!v || !(*v > 0)) throw common::InputError(value, "expected a compute factor > 0, e.g. 0.8");
        break;
      }
      case Kind::Qps: common::parse_count(value); break;
      case Kind::Fail:
        if (value != "none") {
          models::Fabric f = build_fabric_from_options(base.topo, base.sets, base.fails, base.set_files);
          f.fail(value);
        }
        break;
      case Kind::Gen: {
        traces::LlmSpec s = default_spec();
        apply_gen_option(s, p.key.substr(4) + "=" + value);
        break;
      }
    }
  });
}

void apply(const Param& p, const std::string& value, RunOptions& o) {
  switch (p.kind) {
    case Kind::Fabric: o.sets.push_back(p.key + "=" + value); break;
    case Kind::Placement: o.placement = value; break;
    case Kind::ComputeScale: o.compute_scale = *parse_number(value); break;
    case Kind::Qps: o.qps = static_cast<int>(common::parse_count(value)); break;
    case Kind::Fail:
      if (value != "none") o.fails.push_back(value);
      break;
    case Kind::Gen: o.gen.push_back(p.key.substr(4) + "=" + value); break;
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (;;) {
    const auto next = s.find(sep, pos);
    out.push_back(s.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) return out;
    pos = next + 1;
  }
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// FNV-1a over a file's bytes: what identifies a trace file or an overlay in the sweep's identity.
std::string file_digest(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw common::InputError(path, "cannot read the file");
  std::uint64_t h = 0xcbf29ce484222325ull, n = 0;
  char buf[1 << 16];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    for (std::streamsize i = 0; i < f.gcount(); ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 0x100000001b3ull;
    n += static_cast<std::uint64_t>(f.gcount());
  }
  char out[48];
  std::snprintf(out, sizeof out, "%llu:%016llx", static_cast<unsigned long long>(n), static_cast<unsigned long long>(h));
  return out;
}

const char* kValueNames[] = {"step_time_s", "compute_s",      "exposed_comm_s", "bubble_s",
                             "wait_s",      "mean_exposed_comm_s", "bag_bytes", "bag_utilisation"};
// After those: every tier's utilisation over the step (0 where the fabric has no such tier), "utilisation.<tier>".
std::vector<std::string> value_names() {
  std::vector<std::string> out(std::begin(kValueNames), std::end(kValueNames));
  for (int t = 0; t < models::kNumLinkTiers; ++t)
    out.push_back(std::string("utilisation.") + models::to_string(static_cast<models::LinkTier>(t)));
  return out;
}

// Checks that OUT.parts/ was made by this sweep (its identity file), or makes it.
void prepare_parts(const SweepOptions& so, const std::string& parts, const std::string& manifest,
                   const nlohmann::json& id, const std::string& identity) {
  if (std::filesystem::exists(manifest)) {
    std::ifstream f(manifest);
    std::stringstream ss;
    ss << f.rdbuf();
    if (trim(ss.str()) != identity) {
      std::string what = "it was made by another sweep";
      try {
        const nlohmann::json other = nlohmann::json::parse(ss.str());
        std::string differs;
        for (const auto& [k, v] : id.items())
          if (differs.empty() && (!other.contains(k) || other[k] != v)) differs = k;
        for (const auto& [k, v] : other.items())  // a key only the other has (an option it was given)
          if (differs.empty() && !id.contains(k)) differs = k;
        if (!differs.empty()) what += " (its " + differs + " differ)";
      } catch (const nlohmann::json::exception&) {
        what += " (its identity file cannot be read)";
      }
      throw common::InputError(so.out, what + "; give another --out, or remove " + parts + " to start over");
    }
  } else {
    std::error_code ec;
    std::filesystem::create_directories(parts, ec);
    if (ec) throw common::InputError(parts, "cannot create the directory: " + ec.message());
    common::write_file_atomically(manifest, identity + "\n");
  }

}

void sweep(const SweepOptions& so) {
  if (so.out.empty() && !so.count) throw common::InputError("--out", "expected the sweep's .h5 file");
  check_output_file("--out", so.out);
  check_output_file("--csv", so.csv);
  if (so.seeds < 1) throw common::InputError("--seeds " + std::to_string(so.seeds), "expected at least 1 seed");
  if (!so.base.jobs.empty()) throw common::InputError("--job", "a sweep varies one job; --job is not supported here");
  const models::FabricConfig probe = from_option("--topo", so.base.topo,
                                                 [&] { return models::FabricConfig::from_preset_or_file(so.base.topo); });

  // The points: the Cartesian grid of every --param (the last varying fastest), or the rows of --points.
  std::vector<Param> params;
  std::vector<std::vector<std::string>> points;
  if (!so.points_file.empty() && !so.params.empty())
    throw common::InputError("--points " + so.points_file, "give either --points or --param, not both");
  if (!so.points_file.empty()) {
    std::ifstream f(so.points_file);
    if (!f) throw common::InputError(so.points_file, "cannot read the points file");
    std::string line;
    std::size_t lineno = 0;
    while (std::getline(f, line)) {
      ++lineno;
      line = trim(line);
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string> cells = split(line, ',');
      for (auto& c : cells) c = trim(c);
      const std::string where = so.points_file + ":" + std::to_string(lineno);
      if (params.empty()) {
        for (const auto& k : cells) {
          if (k.empty()) throw common::InputError(where, "an empty parameter name in the header");
          params.push_back(classify(k, params, so.base, where));
        }
        continue;
      }
      if (cells.size() != params.size())
        throw common::InputError(where, std::to_string(cells.size()) + " values; expected " +
                                            std::to_string(params.size()) + ", one per header column");
      for (std::size_t k = 0; k < cells.size(); ++k)
        check_value(params[k], cells[k], probe, so.base, where + ": " + params[k].key + "=" + cells[k]);
      points.push_back(std::move(cells));
    }
  } else {
    std::vector<std::vector<std::string>> values;
    for (const auto& text : so.params) {
      const auto eq = text.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
        throw common::InputError("--param " + text, "expected KEY=V1,V2,... e.g. bag.oversubscription=1:1,7:1");
      const std::string key = text.substr(0, eq);
      params.push_back(classify(key, params, so.base, "--param " + text));
      values.push_back(split(text.substr(eq + 1), ','));
      for (auto& v : values.back()) {
        v = trim(v);
        if (v.empty()) throw common::InputError("--param " + text, "an empty value");
        check_value(params.back(), v, probe, so.base, key + "=" + v);
      }
    }
    if (!params.empty()) {
      std::vector<std::size_t> at(params.size(), 0);
      for (;;) {
        std::vector<std::string> p;
        for (std::size_t k = 0; k < params.size(); ++k) p.push_back(values[k][at[k]]);
        points.push_back(std::move(p));
        std::size_t k = params.size();
        while (k > 0 && ++at[k - 1] == values[k - 1].size()) at[--k] = 0;
        if (k == 0) break;
      }
    }
  }
  if (points.empty())
    throw common::InputError(so.points_file.empty() ? "--param" : so.points_file,
                             "no points to run: give --param KEY=V1,V2,... or a --points file with rows");
  if (so.seeds > 1) {
    for (const Param& p : params)
      if (p.key == "routing.hash_seed")
        throw common::InputError("--seeds " + std::to_string(so.seeds),
                                 "--seeds sets routing.hash_seed itself; do not also give it as a parameter");
    for (const auto& s : so.base.sets)
      if (s.rfind("routing.hash_seed=", 0) == 0)
        throw common::InputError("--seeds " + std::to_string(so.seeds),
                                 "--seeds sets routing.hash_seed itself; do not also give it as --set " + s);
  }

  if (so.count) {
    std::printf("%zu\n", points.size());
    return;
  }

  // What made this sweep: a rerun resumes only into the same.
  nlohmann::json id;
  id["format"] = "collemu-sweep";
  id["version"] = analysis::kSweepFormatVersion;
  id["model"] = emulator::kModelVersion;  // the same scenario gives other numbers under another model
  id["topo"] = so.base.topo;
  if (std::filesystem::is_regular_file(so.base.topo)) id["topo_file"] = file_digest(so.base.topo);
  id["sets"] = so.base.sets;
  id["fails"] = so.base.fails;
  id["fail_at"] = so.base.fail_at;
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : so.base.set_files) files.push_back({f, file_digest(f)});
  id["set_files"] = files;
  nlohmann::json traces = nlohmann::json::array();
  for (const auto& f : so.base.traces) traces.push_back({f, file_digest(f)});
  id["traces"] = traces;
  id["format_option"] = so.base.format;
  id["placement"] = so.base.placement;
  id["compute_scale"] = so.base.compute_scale;
  id["slow_ranks"] = so.base.slow_ranks;
  id["sm_contention"] = so.base.sm_contention;
  id["qps"] = so.base.qps;
  if (so.base.pxn_disable) id["pxn_disable"] = true;
  if (!so.base.nccl_version.empty()) id["nccl_version"] = so.base.nccl_version;  // only when given: sweeps begun before the option resume as they were
  if (so.base.net_channels_per_peer != 0) id["net_channels_per_peer"] = so.base.net_channels_per_peer;  // likewise
  if (so.base.min_channels != -1) id["min_channels"] = so.base.min_channels;
  if (so.base.max_channels != -1) id["max_channels"] = so.base.max_channels;
  id["granularity"] = so.base.granularity;
  id["solver"] = so.base.solver;
  // Only when not 0: sweeps begun before the option (exact) resume only exact.
  if (so.base.finish_tolerance != 0) id["finish_tolerance"] = so.base.finish_tolerance;
  nlohmann::json keys = nlohmann::json::array();
  for (const Param& p : params) keys.push_back(p.key);
  id["params"] = keys;
  id["points"] = points;
  id["seeds"] = so.seeds;
  const std::string identity = id.dump();

  // Finished points live in OUT.parts/, one file each (written atomically): a killed sweep loses the points it was
  // running and nothing else, and a rerun skips what is there. Under MPI, rank 0 checks or makes the directory and
  // tells the others.
  const std::string parts = so.out + ".parts";
  const std::string manifest = parts + "/identity.json";
  Mpi& mpi = Mpi::get();
  std::string setup_error;
  if (mpi.rank() == 0) {
    try {
      prepare_parts(so, parts, manifest, id, identity);
    } catch (const common::UserError& e) {
      setup_error = e.what();
      if (mpi.size() == 1) throw;
    }
  }
  mpi.broadcast(setup_error);
  if (!setup_error.empty()) {
    if (mpi.rank() == 0) throw common::UserError(setup_error);
    mpi.finish_quietly(2);
  }
  analysis::SweepTable table;
  table.identity = identity;
  for (const Param& p : params) table.param_keys.push_back(p.key);
  table.value_names = value_names();
  const bool tty = !so.base.quiet && isatty(2) && mpi.rank() == 0;
  const std::size_t seeds = static_cast<std::size_t>(so.seeds), total = points.size() * seeds;
  std::size_t done = 0, ran = 0;
  const auto wall0 = std::chrono::steady_clock::now();
  // One job: point i with seed s (job = i x seeds + s - 1): its finished row, or run now and kept.
  auto job_row = [&](std::size_t job) {
    const std::size_t i = job / seeds;
    const int seed = static_cast<int>(job % seeds) + 1;
    char name[64];
    std::snprintf(name, sizeof name, "/p%06zu-s%03d.json", i, seed);
    const std::string part = parts + name;
    nlohmann::json row;
    if (std::filesystem::exists(part)) {
      std::ifstream f(part);
      try {
        row = nlohmann::json::parse(f);
      } catch (const nlohmann::json::exception& e) {
        throw common::InputError(part, std::string("a finished point that cannot be read (") + e.what() +
                                           "); remove it to run that point again");
      }
      if (row.value("point", ~std::size_t{0}) != i || row.value("seed", -1) != seed ||
          row.value("params", std::vector<std::string>{}) != points[i])
        throw common::InputError(part, "does not belong to this point; remove it to run the point again");
    } else {
      RunOptions o = so.base;
      o.quiet = true;
      o.json = false;
      o.out.clear();
      o.timeline.clear();
      for (std::size_t k = 0; k < params.size(); ++k) apply(params[k], points[i][k], o);
      if (so.seeds > 1) o.sets.push_back("routing.hash_seed=" + std::to_string(seed));
      RunResult r;
      try {
        run_scenario(o, r);
      } catch (const common::UserError& e) {
        std::string at = "point " + std::to_string(i);
        for (std::size_t k = 0; k < params.size(); ++k) at += " " + params[k].key + "=" + points[i][k];
        throw common::InputError(at, e.what());
      }
      const emulator::JobReport& j = r.rep.jobs.front();
      double bag_util = 0, best = -1;
      std::string tier = "none";
      std::vector<double> per_tier(models::kNumLinkTiers, 0.0);
      for (const auto& t : r.sum.tiers) {
        if (t.tier == models::LinkTier::Bag) bag_util = t.utilisation;
        if (t.utilisation > best) best = t.utilisation, tier = models::to_string(t.tier);
        per_tier[static_cast<int>(t.tier)] = t.utilisation;
      }
      std::vector<double> values = {j.step_time_s,         j.critical.compute_s, j.critical.exposed_comm_s,
                                    j.critical.bubble_s,   j.critical.wait_s,    j.mean.exposed_comm_s,
                                    r.sum.bag_bytes,       bag_util};
      values.insert(values.end(), per_tier.begin(), per_tier.end());
      row = {{"point", i},
             {"seed", seed},
             {"params", points[i]},
             {"values", values},
             {"binding_tier", tier},
             {"wall_s", r.wall_s},
             {"mpi_rank", mpi.rank()}};
      common::write_file_atomically(part, row.dump() + "\n");
      ++ran;
    }
    ++done;
    if (tty) {
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
      const double eta = ran ? el / ran * static_cast<double>(total - done) * (mpi.size() > 1 ? 0 : 1) : 0;
      std::fprintf(stderr, "\r[%zu/%zu] point %zu seed %d: step %s   ETA %.0f s   ", done, total, i, seed,
                   seconds(row["values"][0].get<double>()).c_str(), eta);
      std::fflush(stderr);
    }
    return row;
  };
  // Serially every job in order; under MPI every rank takes the next job from a shared counter (long points do not
  // hold up the others), and rank 0 gathers the rows.
  std::vector<nlohmann::json> rows(total);
  if (so.task_given) {
    // One array task: its point's seeds, kept in OUT.parts/; the merge writes OUT.
    if (so.task < 0 || static_cast<std::size_t>(so.task) >= points.size())
      throw common::InputError("--task " + std::to_string(so.task),
                               "the sweep has points 0 to " + std::to_string(points.size() - 1));
    const auto i = static_cast<std::size_t>(so.task);
    for (std::size_t s = 0; s < seeds; ++s) job_row(i * seeds + s);
    std::printf("point %lld: %zu seed(s) done in %s\n", so.task, seeds, parts.c_str());
    return;
  }
  if (so.merge) {
    std::string missing;
    std::size_t count = 0;
    for (std::size_t job = 0; job < total; ++job) {
      char name[64];
      std::snprintf(name, sizeof name, "/p%06zu-s%03zu.json", job / seeds, job % seeds + 1);
      if (!std::filesystem::exists(parts + name)) {
        if (++count <= 8) missing += (missing.empty() ? "" : ", ") + std::to_string(job / seeds);
      }
    }
    if (count)
      throw common::InputError(so.out, std::to_string(count) + " point run(s) not finished (points " + missing +
                                           (count > 8 ? ", ..." : "") + "); run them (--task K) before --merge");
  }
  if (mpi.size() == 1) {
    for (std::size_t job = 0; job < total; ++job) rows[job] = job_row(job);
  } else {
    nlohmann::json mine = nlohmann::json::array();
    try {
      for (std::uint64_t job = mpi.next_job(); job < total; job = mpi.next_job()) mine.push_back(job_row(job));
    } catch (const common::UserError& e) {
      std::fprintf(stderr, "collemu: error: %s\n", collemu::common::message_for_user(e.what()).c_str());
      mpi.abort(2);
    }
    // Each rank's rows and how many of them it ran (the others it found finished in OUT.parts/).
    const std::vector<std::string> all = mpi.gather(nlohmann::json{{"rows", mine}, {"ran", ran}}.dump());
    if (mpi.rank() != 0) mpi.finish_quietly(0);
    std::size_t got = 0;
    ran = 0;
    for (const std::string& text : all) {
      const nlohmann::json part = nlohmann::json::parse(text);
      ran += part.at("ran").get<std::size_t>();
      for (const auto& row : part.at("rows")) {
        const std::size_t job = row.at("point").get<std::size_t>() * seeds + row.at("seed").get<std::size_t>() - 1;
        rows[job] = row;
        ++got;
      }
    }
    COLLEMU_ASSERT(got == total, "a job of the sweep was lost between the ranks");
    done = total;
  }
  if (tty) std::fprintf(stderr, "\r%100s\r", "");
  for (const nlohmann::json& row : rows) {
    analysis::SweepRow out;
    out.point = row.at("point").get<std::uint64_t>();
    out.seed = row.at("seed").get<std::uint64_t>();
    out.params = row.at("params").get<std::vector<std::string>>();
    out.values = row.at("values").get<std::vector<double>>();
    out.binding_tier = row.at("binding_tier").get<std::string>();
    if (out.values.size() != table.value_names.size())
      throw common::InputError(parts, "a finished point of point " + std::to_string(out.point) +
                                          " has other values than this version writes; remove it to run it again");
    table.rows.push_back(std::move(out));
  }

  const std::string csv = so.csv.empty() ? std::filesystem::path(so.out).replace_extension(".csv").string() : so.csv;
  analysis::write_sweep_h5(so.out, table);
  analysis::write_sweep_csv(csv, table);

  // The table: per point, the mean over seeds of the step time (with its min and max), the exposed communication
  // and the BAG's bytes and utilisation; the binding tier is the first seed's (a tier has no mean; the CSV has each).
  std::printf("%-6s", "point");
  for (const auto& k : table.param_keys) std::printf(" %-20s", k.c_str());
  std::printf(" %-12s%s %-12s %-12s %-10s %s\n", "step", so.seeds > 1 ? " (min..max over seeds)   " : "",
              "exposed comm", "bag bytes", "bag util", so.seeds > 1 ? "binding tier (seed 1)" : "binding tier");
  for (std::size_t i = 0; i < points.size(); ++i) {
    double lo = INFINITY, hi = -INFINITY;
    std::vector<double> mean(table.value_names.size(), 0.0);
    const analysis::SweepRow& first = table.rows[i * static_cast<std::size_t>(so.seeds)];
    for (int s = 0; s < so.seeds; ++s) {
      const auto& values = table.rows[i * static_cast<std::size_t>(so.seeds) + static_cast<std::size_t>(s)].values;
      lo = std::min(lo, values[0]), hi = std::max(hi, values[0]);
      for (std::size_t k = 0; k < mean.size(); ++k) mean[k] += values[k] / so.seeds;
    }
    std::printf("%-6zu", i);
    for (const auto& v : points[i]) std::printf(" %-20s", v.c_str());
    std::printf(" %-12s", seconds(mean[0]).c_str());
    if (so.seeds > 1) std::printf(" (%s..%s)   ", seconds(lo).c_str(), seconds(hi).c_str());
    std::printf(" %-12s %-12s %-10.3f %s\n", seconds(mean[2]).c_str(), bytes_text(mean[6]).c_str(), mean[7],
                first.binding_tier.c_str());
  }
  if (mpi.size() > 1)
    std::printf("\n%zu points x %d seed(s) over %d MPI ranks: %zu run now, %zu resumed; wrote %s and %s\n",
                points.size(), so.seeds, mpi.size(), ran, total - ran, so.out.c_str(), csv.c_str());
  else
    std::printf("\n%zu points x %d seed(s): %zu run now, %zu resumed; wrote %s and %s\n", points.size(), so.seeds,
                ran, done - ran, so.out.c_str(), csv.c_str());
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto o = std::make_shared<SweepOptions>();
  CLI::App* cmd = app.add_subcommand(
      "sweep",
      "Run one scenario (as `collemu run`) over a grid of parameters and write one row per point: the step time, its "
      "breakdown, the bytes over the BAG, its utilisation and the binding tier (HDF5 and CSV). Finished points are "
      "kept as they finish; a rerun resumes. docs/sweep.md");
  add_scenario_options(cmd, o->base);
  cmd->add_option("--param", o->params,
                  "KEY=V1,V2,...: a fabric key (bag.oversubscription=1:1,7:1; fabric.kind=dsf,nsf,mixed), placement, "
                  "compute_scale, qps, fail (a switch or cable, or none), or gen.KEY for the embedded default's "
                  "generator (gen.dp=2048,4096); the grid is every combination (repeatable)");
  cmd->add_option("--points", o->points_file,
                  "a CSV file of points instead: a header of parameter keys, then one row of values per point")
      ->check(CLI::ExistingFile);
  cmd->add_option("--seeds", o->seeds, "run every point with routing.hash_seed 1..N; the table gives mean, min, max")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "the sweep's .h5 file (finished points are kept in OUT.parts/); not needed with --count");
  cmd->add_option("--csv", o->csv, "the CSV file (default: --out with .csv)");
  CLI::Option* task = cmd->add_option("--task", o->task,
                  "run only point K (with its seeds) and keep it in OUT.parts/, writing no OUT: one Slurm array task "
                  "($SLURM_ARRAY_TASK_ID); --merge writes OUT when all are done");
  cmd->add_flag("-q,--quiet", o->base.quiet, "no progress line (as run -q)");
  cmd->add_flag("--count", o->count, "print the number of points and stop (the size of a Slurm array)");
  cmd->add_flag("--merge", o->merge, "run nothing: write OUT and the CSV from the finished points (all of them)");
  cmd->callback([o, task] {
    o->task_given = task->count() > 0;
    sweep(*o);
  });
}

}  // namespace collemu::cli
