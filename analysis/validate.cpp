#include "analysis/validate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "common/error.hpp"
#include "traces/hdf5_io.hpp"

namespace collemu::analysis {

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

PairStats stats(std::string label, const std::vector<std::pair<double, double>>& mp) {
  std::vector<double> m, p, e;
  for (const auto& [meas, pred] : mp) {
    m.push_back(meas);
    p.push_back(pred);
    e.push_back(meas / pred - 1);  // pred > 0: a paired op takes time in the replay
  }
  PairStats s;
  static_cast<ErrorStats&>(s) = summarize_errors(e);
  s.label = std::move(label);
  s.median_measured_s = median(m);
  s.median_predicted_s = median(p);
  return s;
}

}  // namespace

ErrorStats summarize_errors(const std::vector<double>& errors) {
  ErrorStats s;
  s.n = static_cast<int>(errors.size());
  if (errors.empty()) return s;
  std::vector<double> a;
  for (double x : errors) {
    a.push_back(std::abs(x));
    s.mean_signed += x / static_cast<double>(errors.size());
  }
  s.median_signed = median(errors);
  s.median_abs = median(a);
  std::sort(a.begin(), a.end());
  s.p90_abs = a[static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(a.size()))) - 1];
  s.max_abs = a.back();
  return s;
}

std::string size_bucket(double bytes) {
  if (bytes < 1) return "0B";
  const int k = static_cast<int>(std::floor(std::log2(bytes) / 2));
  auto text = [](int log2) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    return std::to_string(1LL << (log2 % 10)) + units[std::min(log2 / 10, 6)];
  };
  return text(2 * k) + "-" + text(2 * k + 2);
}

std::vector<std::uint32_t> measured_ranks(const traces::Trace& t) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t r = 0; r < t.measured.size(); ++r)
    if (!t.measured[r].empty()) out.push_back(r);
  return out;
}

Validation compare_measured(const traces::Trace& t, const emulator::ReplayReport& report) {
  // The replay's ops of each recorded rank, by op index.
  std::map<std::pair<std::uint32_t, std::uint32_t>, const emulator::RankOp*> ran;
  for (const emulator::RankOp& o : report.rank_ops)
    if (o.job == 0) ran[{o.rank, o.op}] = &o;
  Validation v;
  for (std::uint32_t r : measured_ranks(t)) {
    const auto& ops = t.program(r).ops;
    double m_first = std::numeric_limits<double>::infinity(), m_last = -m_first;
    double p_first = m_first, p_last = -m_first;
    std::uint32_t spanned = 0;
    for (std::uint32_t i = 0; i < ops.size(); ++i) {
      const traces::OpTime& m = t.measured[r][i];
      const auto it = ran.find({r, i});
      if (!m.observed() || it == ran.end()) continue;
      const emulator::RankOp& p = *it->second;
      // A send is done for its rank's program when posted (NCCL's grouped isend, docs/replay.md): the replay has no
      // time of its own for it, so it is not paired (its receive is) and ends no span.
      const bool send = ops[i].kind == traces::OpKind::Send;
      if (ops[i].kind != traces::OpKind::Compute && !send && m.duration_s > 0)
        v.ops.push_back({r, i, ops[i].kind, ops[i].coll, ops[i].bytes(), m.duration_s, p.end_s - p.start_s});
      if (m.start_s >= 0) {
        // The same extent on both sides: an op whose duration was observed counts to its end, one whose start alone
        // was (a Flight Recorder entry not completed at dump time, a send) to its start.
        const bool ends = m.duration_s > 0 && !send;
        m_first = std::min(m_first, m.start_s);
        m_last = std::max(m_last, m.start_s + (ends ? m.duration_s : 0.0));
        p_first = std::min(p_first, p.start_s);
        p_last = std::max(p_last, ends ? p.end_s : p.start_s);
        ++spanned;
      }
    }
    if (spanned >= 2) v.spans.push_back({r, spanned, m_last - m_first, p_last - p_first});
  }
  if (v.ops.empty())
    throw common::InputError(t.source, "no measured time of a collective or receive (the trace holds "
                             "what ranks did, not how long it took there: a Kineto trace's NCCL kernels, a Flight "
                             "Recorder dump with durations, Chakra nodes with durations have them)");
  struct Group {
    std::vector<std::pair<double, double>> pairs;
    double smallest = 1e300;  // the bucket's order among the kind's
  };
  std::map<std::pair<int, std::string>, Group> groups;
  std::vector<std::pair<double, double>> all, spans;
  for (const OpPair& p : v.ops) {
    const bool p2p = p.kind != traces::OpKind::Collective;
    const std::string kind = p2p ? traces::to_string(p.kind) : common::to_string(p.coll);
    Group& g = groups[{p2p ? 100 + static_cast<int>(p.kind) : static_cast<int>(p.coll), kind + " " + size_bucket(p.bytes)}];
    g.pairs.emplace_back(p.measured_s, p.predicted_s);
    g.smallest = std::min(g.smallest, p.bytes);
    all.emplace_back(p.measured_s, p.predicted_s);
  }
  std::vector<std::pair<std::pair<int, double>, PairStats>> rows;
  for (const auto& [key, g] : groups) rows.push_back({{key.first, g.smallest}, stats(key.second, g.pairs)});
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [k, s] : rows) v.groups.push_back(std::move(s));
  v.groups.push_back(stats("all", all));
  for (const SpanPair& s : v.spans) spans.emplace_back(s.measured_s, s.predicted_s);
  if (!spans.empty()) v.groups.push_back(stats("span", spans));
  return v;
}

void write_validation_h5(const std::string& path, const Validation& v, const std::string& trace,
                         const std::string& topo) {
  traces::h5::write_atomically(path, [&](traces::h5::Writer& w) {
    w.attr_str("format", "collemu-validation");
    w.attr_u64("version", 1);
    w.attr_str("trace", trace);
    w.attr_str("topo", topo);
    w.group("/ops");
    w.column_of("/ops/rank", v.ops, [](const OpPair& p) { return p.rank; });
    w.column_of("/ops/op", v.ops, [](const OpPair& p) { return p.op; });
    w.column_of("/ops/kind", v.ops, [](const OpPair& p) {
      return std::string(p.kind == traces::OpKind::Collective ? common::to_string(p.coll) : traces::to_string(p.kind));
    });
    w.column_of("/ops/bytes", v.ops, [](const OpPair& p) { return p.bytes; });
    w.column_of("/ops/measured_s", v.ops, [](const OpPair& p) { return p.measured_s; });
    w.column_of("/ops/predicted_s", v.ops, [](const OpPair& p) { return p.predicted_s; });
    w.group("/spans");
    w.column_of("/spans/rank", v.spans, [](const SpanPair& s) { return s.rank; });
    w.column_of("/spans/ops", v.spans, [](const SpanPair& s) { return s.ops; });
    w.column_of("/spans/measured_s", v.spans, [](const SpanPair& s) { return s.measured_s; });
    w.column_of("/spans/predicted_s", v.spans, [](const SpanPair& s) { return s.predicted_s; });
    w.group("/groups");
    w.column_of("/groups/label", v.groups, [](const PairStats& g) { return g.label; });
    w.column_of("/groups/n", v.groups, [](const PairStats& g) { return static_cast<std::uint32_t>(g.n); });
    w.column_of("/groups/median_measured_s", v.groups, [](const PairStats& g) { return g.median_measured_s; });
    w.column_of("/groups/median_predicted_s", v.groups, [](const PairStats& g) { return g.median_predicted_s; });
    w.column_of("/groups/median_signed", v.groups, [](const PairStats& g) { return g.median_signed; });
    w.column_of("/groups/median_abs", v.groups, [](const PairStats& g) { return g.median_abs; });
    w.column_of("/groups/p90_abs", v.groups, [](const PairStats& g) { return g.p90_abs; });
    w.column_of("/groups/max_abs", v.groups, [](const PairStats& g) { return g.max_abs; });
  });
}

}  // namespace collemu::analysis
