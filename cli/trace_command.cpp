#include "cli/trace_command.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/options.hpp"
#include "common/error.hpp"
#include "traces/chakra.hpp"
#include "traces/generate.hpp"
#include "traces/hdf5_trace.hpp"
#include "traces/info.hpp"
#include "traces/read_trace.hpp"

namespace collemu::cli {

namespace {

struct InfoOptions {
  std::vector<std::string> files;
  std::string format = "auto";
  bool json = false;
  bool no_check = false;
  bool allow_partial = false;
};

traces::Trace load(const InfoOptions& o, std::vector<std::string>& warnings) {
  traces::ReadReport report;
  // An unknown format name is the --format option's fault; everything else names its file.
  bool known = o.format == "auto";
  for (const auto& f : traces::trace_formats()) known = known || o.format == f.name;
  if (!known)
    throw common::InputError("--format " + o.format, "unknown trace format; expected " + traces::trace_format_names());
  try {
    traces::Trace t = traces::read_trace(o.files, o.format, &report, o.allow_partial);
    warnings = report.warnings;
    return t;
  } catch (const traces::PartialTraceError& e) {
    throw common::InputError(e.where(), e.detail() + "; --allow-partial reads part of a job on purpose");
  }
}

void info(const InfoOptions& o) {
  std::vector<std::string> warnings;
  const traces::Trace t = load(o, warnings);
  if (!o.no_check) traces::check_consistency(t);
  const auto s = traces::summarize(t);
  if (o.json) {
    nlohmann::json j;
    j["source"] = t.source;
    j["ranks"] = s.ranks;
    j["programs"] = s.programs;
    j["ops"] = s.ops;
    nlohmann::json comms = nlohmann::json::array();
    for (const auto& c : t.comms)
      comms.push_back({{"name", c.name}, {"size", c.declared_size}, {"ranks", c.ranks}});
    j["communicators"] = comms;
    nlohmann::json kinds = nlohmann::json::object();
    for (int k = 0; k < common::kNumCollKinds; ++k)
      if (s.by_coll[k].ops)
        kinds[common::to_string(static_cast<common::CollKind>(k))] = {{"ops", s.by_coll[k].ops},
                                                                       {"bytes", s.by_coll[k].bytes}};
    if (s.compute.ops) kinds["compute"] = {{"ops", s.compute.ops}, {"seconds", s.compute_s}};
    j["by_kind"] = kinds;
    nlohmann::json ranks = nlohmann::json::array();
    for (std::uint32_t r = 0; r < s.ranks; ++r)
      ranks.push_back({{"rank", r},
                       {"name", r < t.rank_names.size() ? t.rank_names[r] : ""},
                       {"ops", s.per_rank[r].ops},
                       {"comm_bytes", s.per_rank[r].comm_bytes},
                       {"compute_s", s.per_rank[r].compute_s}});
    j["per_rank"] = ranks;
    j["warnings"] = warnings;
    // Names from any file: bytes that are not UTF-8 are shown replaced, never thrown.
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  std::printf("trace %s: %u ranks, %zu distinct programs, %zu ops\n", t.source.c_str(), s.ranks, s.programs, s.ops);
  std::printf("\ncommunicators %zu:\n", t.comms.size());
  for (std::size_t ci = 0; ci < t.comms.size(); ++ci) {
    if (ci == 16) {
      std::printf("  ... (%zu more; --json lists them all)\n", t.comms.size() - 16);
      break;
    }
    const auto& c = t.comms[ci];
    std::string members;
    for (std::size_t i = 0; i < c.ranks.size() && i < 16; ++i) members += (i ? "," : "") + std::to_string(c.ranks[i]);
    if (c.ranks.size() > 16) members += ",...";
    std::printf("  %-28s size %u, ranks in the trace %zu: %s\n", c.name.c_str(), c.declared_size, c.ranks.size(),
                members.c_str());
  }
  std::printf("\n%-14s %12s %18s\n", "kind", "ops", "bytes");
  for (int k = 0; k < common::kNumCollKinds; ++k)
    if (s.by_coll[k].ops)
      std::printf("%-14s %12llu %18.0f\n", common::to_string(static_cast<common::CollKind>(k)),
                  static_cast<unsigned long long>(s.by_coll[k].ops), s.by_coll[k].bytes);
  if (s.compute.ops)
    std::printf("%-14s %12llu %15.6f s\n", "compute", static_cast<unsigned long long>(s.compute.ops), s.compute_s);
  std::printf("\n%-6s %-28s %10s %18s %12s\n", "rank", "from", "ops", "comm bytes", "compute s");
  for (std::uint32_t r = 0; r < s.ranks && r < 64; ++r)
    std::printf("%-6u %-28s %10llu %18.0f %12.6f\n", r, r < t.rank_names.size() ? t.rank_names[r].c_str() : "",
                static_cast<unsigned long long>(s.per_rank[r].ops), s.per_rank[r].comm_bytes, s.per_rank[r].compute_s);
  if (s.ranks > 64) std::printf("... (%u ranks; --json lists them all)\n", s.ranks);
  for (const auto& w : warnings) std::fprintf(stderr, "collemu: warning: %s\n", common::message_for_user(w).c_str());
}

struct ConvertOptions {
  InfoOptions in;
  std::string out;
  std::string to = "collemu";
};

void convert(const ConvertOptions& o) {
  std::vector<std::string> warnings;
  traces::Trace t = load(o.in, warnings);
  for (const auto& w : warnings) std::fprintf(stderr, "collemu: warning: %s\n", common::message_for_user(w).c_str());
  if (!o.in.no_check) traces::check_consistency(t);
  traces::share_identical_programs(t);
  if (o.to == "chakra") {
    const auto files = traces::write_chakra(t, o.out);
    std::printf("wrote %zu Chakra ET files and comm_groups.json (ASTRA-sim's --comm-group-configuration) in %s: %u "
                "ranks, %zu communicators\n", files.size() - 1, o.out.c_str(), t.world_size, t.comms.size());
    return;
  }
  if (o.to != "collemu") throw common::InputError("--to " + o.to, "expected collemu (one .h5) or chakra (a directory of .et files)");
  check_output_file("-o", o.out);
  traces::write_hdf5_trace(t, o.out);
  std::printf("wrote %s: %u ranks, %zu programs, %zu communicators\n", o.out.c_str(), t.world_size, t.programs.size(),
              t.comms.size());
}

struct GenOptions {
  traces::LlmSpec spec;
  std::string dp_mode = "zero";
  std::string out;
  bool no_sequence_parallel = false;
  bool no_dp_overlap = false;
};

void gen(GenOptions o, bool moe) {
  check_output_file("-o", o.out);
  if (o.dp_mode == "allreduce") o.spec.dp_mode = traces::LlmSpec::DpMode::AllReduce;
  else if (o.dp_mode == "zero") o.spec.dp_mode = traces::LlmSpec::DpMode::Zero;
  else if (o.dp_mode == "fsdp") o.spec.dp_mode = traces::LlmSpec::DpMode::Fsdp;
  else throw common::InputError("--dp-mode " + o.dp_mode, "expected allreduce, zero or fsdp");
  o.spec.sequence_parallel = !o.no_sequence_parallel;
  o.spec.dp_overlap = !o.no_dp_overlap;
  if (!moe) o.spec.experts = 0;
  if (moe && o.spec.experts == 0)
    throw common::InputError("--experts 0", "expected at least 1 expert (`trace gen llm` writes a dense step)");
  // The generator names the LlmSpec field that is wrong ("kv_heads 5: ..."); the option is --kv-heads.
  auto as_options = [](const common::InputError& e) {
    std::string where = e.where();
    const std::size_t end = std::min(where.find(' '), where.size());
    for (std::size_t i = 0; i < end; ++i)
      if (where[i] == '_') where[i] = '-';
    return common::InputError(where.empty() ? "" : "--" + where, e.detail());
  };
  traces::LlmFigures fig;
  traces::Trace t;
  try {
    fig = traces::llm_figures(o.spec);
    t = traces::generate_llm(o.spec);
  } catch (const common::InputError& e) {
    throw as_options(e);
  }
  traces::check_consistency(t);
  traces::write_hdf5_trace(t, o.out);
  std::size_t ops = 0;
  for (const auto& p : t.programs) ops += p.ops.size();
  const std::string cp = o.spec.cp > 1 ? " x cp " + std::to_string(o.spec.cp) : "";
  std::printf("wrote %s: %u ranks (tp %u%s x pp %u x dp %u), %zu programs, %zu ops in them, %zu communicators\n",
              o.out.c_str(), t.world_size, o.spec.tp, cp.c_str(), o.spec.pp, o.spec.dp, t.programs.size(), ops,
              t.comms.size());
  std::printf("model: %.1fB parameters, %.3g training FLOPs per token; per rank: %.3gB parameters, %.3f s of compute "
              "per step at %.0f TFLOPS x %.0f%% MFU\n",
              fig.params / 1e9, fig.flops_per_token, fig.params_per_rank / 1e9, fig.step_compute_s,
              o.spec.gpu_tflops, o.spec.mfu * 100);
}

void add_gen_options(CLI::App* cmd, GenOptions& o, bool moe) {
  auto& s = o.spec;
  cmd->add_option("-o,--output", o.out, "the .h5 trace to write (atomically)")->required();
  cmd->add_option("--gpus", s.gpus, "ranks: tp x cp x pp x dp")->capture_default_str();
  cmd->add_option("--tp", s.tp, "tensor parallel size (inside an NVLink domain)")->capture_default_str();
  cmd->add_option("--pp", s.pp, "pipeline stages")->capture_default_str();
  cmd->add_option("--dp", s.dp, "data parallel size")->capture_default_str();
  cmd->add_option("--cp", s.cp,
                  "context parallel size: the sequence split over this many ranks, attention as a ring of K/V "
                  "transfers beside its compute (gpus = tp x cp x pp x dp)")
      ->capture_default_str();
  cmd->add_option("--layers", s.layers, "transformer layers (Llama 3 405B: 126)")->capture_default_str();
  cmd->add_option("--hidden", s.hidden, "model width")->capture_default_str();
  cmd->add_option("--ffn", s.ffn, "MLP width (SwiGLU)")->capture_default_str();
  cmd->add_option("--heads", s.heads, "attention heads")->capture_default_str();
  cmd->add_option("--kv-heads", s.kv_heads, "key/value heads (GQA)")->capture_default_str();
  cmd->add_option("--vocab", s.vocab, "vocabulary")->capture_default_str();
  cmd->add_option("--seq", s.seq, "sequence length, tokens")->capture_default_str();
  cmd->add_option("--microbatches", s.microbatches, "microbatches per pipeline per step")->capture_default_str();
  cmd->add_option("--microbatch-size", s.microbatch_size, "sequences per microbatch")->capture_default_str();
  cmd->add_option("--vpp", s.vpp,
                  "model chunks per pipeline rank: interleaved 1F1B (Megatron-LM's virtual stages); 1: plain 1F1B")
      ->capture_default_str();
  cmd->add_option("--gpu-tflops", s.gpu_tflops, "dense BF16 peak per GPU (H100 SXM: 989)")->capture_default_str();
  cmd->add_option("--mfu", s.mfu, "model FLOPs utilisation in (0, 1] (Llama 3 405B: 0.38-0.43)")->capture_default_str();
  cmd->add_option("--dp-mode", o.dp_mode, "gradients: allreduce; zero (reduce-scatter + all-gather); or fsdp (ZeRO-3: each layer's parameters "
                  "all-gathered one layer ahead before its forward and backward, its gradients reduce-scattered)")
      ->capture_default_str();
  cmd->add_flag("--no-sequence-parallel", o.no_sequence_parallel, "TP with all-reduces instead of all-gather + reduce-scatter");
  cmd->add_flag("--no-dp-overlap", o.no_dp_overlap,
                "reduce the gradients once after the step instead of in buckets overlapping the last backward");
  cmd->add_option("--dp-bucket-params", s.dp_bucket_params,
                  "parameters per gradient bucket (0: Megatron Core's max(40M, 1M x dp))")->capture_default_str();
  if (moe) {
    cmd->add_option("--experts", s.experts, "experts per MoE layer")->capture_default_str();
    cmd->add_option("--topk", s.topk, "experts per token")->capture_default_str();
    cmd->add_option("--ep", s.ep, "expert parallel size (consecutive DP ranks)")->capture_default_str();
    cmd->add_option("--moe-every", s.moe_every, "every n-th layer is MoE")->capture_default_str();
    cmd->add_option("--expert-ffn", s.expert_ffn, "an expert's MLP width (0: --ffn)")->capture_default_str();
  }
}

// The formats, from the library's table.
std::string format_help() {
  std::string out = "auto (from the contents)";
  for (const auto& f : traces::trace_formats()) out += std::string(", ") + f.name + " (" + f.description + ")";
  return out;
}

}  // namespace

void add_trace_command(CLI::App& app) {
  CLI::App* trace = app.add_subcommand("trace", "Read traces of what each rank did (NCCL COLL logs, ...)");
  trace->require_subcommand(1);
  auto o = std::make_shared<InfoOptions>();
  CLI::App* cmd = trace->add_subcommand(
      "info", "Ranks, communicators, op counts and bytes by kind, per-rank totals; checks that the ranks of every "
              "communicator agree (a mismatch would hang the real job)");
  cmd->add_option("files", o->files, "trace files, in any format of --format")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--format", o->format, format_help());
  cmd->add_flag("--no-check", o->no_check, "do not check that the ranks of each communicator agree");
  cmd->add_flag("--allow-partial", o->allow_partial,
                "read a job whose ranks are not all in the files given (a warning names the missing ranks)");
  cmd->add_flag("--json", o->json, "one JSON object");
  cmd->callback([o] { info(*o); });

  auto c = std::make_shared<ConvertOptions>();
  CLI::App* conv = trace->add_subcommand(
      "convert", "Read traces (any format `trace info` reads) and write collemu's HDF5 trace (docs/trace-format.md)");
  conv->add_option("files", c->in.files, "input trace files")->required()->check(CLI::ExistingFile);
  conv->add_option("-o,--output", c->out, "the .h5 file to write (atomically), or the directory for --to chakra")->required();
  conv->add_option("--to", c->to, "output format: collemu (docs/trace-format.md) or chakra (one <DIR>/trace.<rank>.et "
                                  "per rank, for ASTRA-sim)")->capture_default_str();
  conv->add_option("--format", c->in.format, format_help());
  conv->add_flag("--no-check", c->in.no_check, "convert even when the ranks of a communicator disagree");
  conv->add_flag("--allow-partial", c->in.allow_partial,
                 "convert a job whose ranks are not all in the files given (a warning names the missing ranks)");
  conv->callback([c] { convert(*c); });

  CLI::App* g = trace->add_subcommand("gen", "Generate a trace of one training step from a model's shapes "
                                             "(formulas and sources: docs/trace-generators.md)");
  g->require_subcommand(1);
  auto llm = std::make_shared<GenOptions>();
  CLI::App* l = g->add_subcommand("llm", "a 3D-parallel (TP, PP, DP) dense LLM step; defaults: Llama 3 405B on "
                                         "32,768 GPUs");
  add_gen_options(l, *llm, false);
  l->callback([llm] { gen(*llm, false); });
  auto moe = std::make_shared<GenOptions>();
  moe->spec.experts = 16;
  moe->spec.topk = 2;
  moe->spec.ep = 8;
  CLI::App* m = g->add_subcommand("moe", "the same with mixture-of-experts layers and expert-parallel all-to-all");
  add_gen_options(m, *moe, true);
  m->callback([moe] { gen(*moe, true); });
}

}  // namespace collemu::cli
