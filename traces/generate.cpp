#include "traces/generate.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"

namespace collemu::traces {

using common::CollKind;
using common::DataType;
using common::InputError;

namespace {

struct Shape {
  double attn_params = 0;      // per layer
  double dense_mlp_params = 0; // per dense layer
  double expert_params = 0;    // per expert (per MoE layer)
  std::uint32_t moe_layers = 0, dense_layers = 0;
};

Shape shape_of(const LlmSpec& s) {
  Shape sh;
  const double h = s.hidden, kv_dim = static_cast<double>(s.hidden) / s.heads * s.kv_heads;
  sh.attn_params = 2 * h * h + 2 * h * kv_dim;  // Q and O: h x h; K and V: h x (kv_heads x head_dim)
  sh.dense_mlp_params = 3 * h * s.ffn;          // SwiGLU: gate, up, down
  sh.expert_params = 3 * h * (s.expert_ffn ? s.expert_ffn : s.ffn);
  sh.moe_layers = s.experts ? s.layers / s.moe_every : 0;
  sh.dense_layers = s.layers - sh.moe_layers;
  return sh;
}

// `field` names the LlmSpec field (and its value) that is wrong.
void require(bool ok, const std::string& field, const std::string& what) {
  if (!ok) throw InputError(field, what);
}

}  // namespace

LlmFigures llm_figures(const LlmSpec& s) {
  for (auto [v, name] : {std::pair{s.gpus, "gpus"}, {s.tp, "tp"}, {s.pp, "pp"}, {s.dp, "dp"},
                         {s.layers, "layers"}, {s.hidden, "hidden"}, {s.ffn, "ffn"}, {s.heads, "heads"},
                         {s.kv_heads, "kv_heads"}, {s.vocab, "vocab"}, {s.seq, "seq"},
                         {s.microbatches, "microbatches"}, {s.microbatch_size, "microbatch_size"},
                         {s.ep, "ep"}, {s.moe_every, "moe_every"}})
    require(v > 0, name, "must be at least 1");
  require(s.cp >= 1, "cp", "must be at least 1");
  // Readers refuse traces of more ranks than kMaxRanks; a generator that wrote one would spend minutes and gigabytes
  // on a file nothing reads.
  require(s.gpus <= kMaxRanks, "gpus " + std::to_string(s.gpus),
          "expected at most " + std::to_string(kMaxRanks) + " ranks (the most a trace may have)");
  require(std::uint64_t{s.tp} * s.cp * s.pp * s.dp == s.gpus, "gpus " + std::to_string(s.gpus),
          std::string(s.cp > 1 ? "expected tp x cp x pp x dp = " : "expected tp x pp x dp = ") +
              std::to_string(std::uint64_t{s.tp} * s.cp * s.pp * s.dp));
  if (s.cp > 1) {
    require(s.seq % (2 * s.cp * s.tp) == 0, "seq " + std::to_string(s.seq),
            "expected a multiple of 2 x cp x tp = " + std::to_string(2 * s.cp * s.tp) +
                " (two chunks per CP rank, as Megatron-LM's load balancing, sharded over TP)");
    require(s.experts == 0, "cp " + std::to_string(s.cp),
            "context parallelism with experts is not modelled; expected cp 1 with experts");
  }
  require(s.vpp >= 1, "vpp", "must be at least 1");
  if (s.vpp > 1) {
    require(s.pp >= 2, "vpp " + std::to_string(s.vpp), "interleaving needs at least 2 pipeline stages");
    require(s.layers % (s.pp * s.vpp) == 0, "layers " + std::to_string(s.layers),
            "expected a multiple of pp x vpp = " + std::to_string(s.pp * s.vpp) + " (layers per model chunk)");
    require(s.microbatches % s.pp == 0, "microbatches " + std::to_string(s.microbatches),
            "expected a multiple of pp (" + std::to_string(s.pp) + ") with an interleaved schedule");
  }
  require(s.layers >= s.pp, "layers " + std::to_string(s.layers),
          "expected at least one layer per pipeline stage (pp " + std::to_string(s.pp) + ")");
  require(s.heads % s.tp == 0, "heads " + std::to_string(s.heads), "expected a multiple of tp (heads per TP rank)");
  require(s.hidden % s.heads == 0, "hidden " + std::to_string(s.hidden), "expected a multiple of heads");
  require(s.kv_heads <= s.heads && s.heads % s.kv_heads == 0, "kv_heads " + std::to_string(s.kv_heads),
          "expected a divisor of heads");
  require(s.seq % s.tp == 0, "seq " + std::to_string(s.seq),
          "expected a multiple of tp (sequence parallelism shards the sequence)");
  require(s.mfu > 0 && s.mfu <= 1, "mfu " + std::to_string(s.mfu), "expected a utilisation in (0, 1]");
  require(s.gpu_tflops > 0 && std::isfinite(s.gpu_tflops), "gpu_tflops", "expected a positive number");
  if (s.experts)
    require(s.dp_mode != LlmSpec::DpMode::Fsdp, "dp_mode fsdp",
            "FSDP of expert layers is not modelled; expected allreduce or zero with experts");
  if (s.experts) {
    require(s.dp % s.ep == 0, "ep " + std::to_string(s.ep), "expected a divisor of dp " + std::to_string(s.dp));
    require(s.experts % s.ep == 0, "experts " + std::to_string(s.experts), "expected a multiple of ep");
    require(s.topk >= 1 && s.topk <= s.experts, "topk " + std::to_string(s.topk), "expected 1..experts");
  }
  const Shape sh = shape_of(s);
  const double h = s.hidden, V = s.vocab;
  LlmFigures f;
  const double dense_part = s.layers * sh.attn_params + sh.dense_layers * sh.dense_mlp_params + 2 * V * h;
  const double expert_part = sh.moe_layers * (s.experts * sh.expert_params + h * s.experts);
  f.params = dense_part + expert_part;
  f.params_per_rank = dense_part / (static_cast<double>(s.tp) * s.pp) + expert_part / (static_cast<double>(s.tp) * s.pp * s.ep);
  // PaLM (Chowdhery et al. 2022, App. B): 6N + 12 l h s per token, N the parameters a token's matmuls use: every
  // layer's attention, the dense MLPs, top-k experts of the MoE layers, and the output head (V x h; the input
  // embedding is a lookup).
  const double active = s.layers * sh.attn_params + sh.dense_layers * sh.dense_mlp_params +
                        sh.moe_layers * s.topk * sh.expert_params + V * h;
  f.flops_per_token = 6 * active + 12.0 * s.layers * h * s.seq;
  const double tokens_per_rank =
      static_cast<double>(s.microbatches) * s.microbatch_size * s.seq / (static_cast<double>(s.tp) * s.pp * s.cp);
  f.step_compute_s = f.flops_per_token * tokens_per_rank / (s.gpu_tflops * 1e12 * s.mfu);
  const double act_bytes = static_cast<double>(s.microbatch_size) * s.seq / s.cp * h * 2;  // bf16, the rank's tokens
  f.tp_bytes_per_layer_pass = s.tp == 1 ? 0 : (s.sequence_parallel ? 4 : 2) * act_bytes;
  return f;
}

Trace generate_llm(const LlmSpec& s) {
  const LlmFigures fig = llm_figures(s);
  const Shape sh = shape_of(s);
  const double h = s.hidden;
  const double flops_rate = s.gpu_tflops * 1e12 * s.mfu;
  // One microbatch's tokens on a rank (its CP share of the sequence), and their activations in elements.
  const double tokens_mb = static_cast<double>(s.microbatch_size) * s.seq / s.cp;
  const std::uint64_t act = std::uint64_t{s.microbatch_size} * (s.seq / s.cp) * s.hidden;
  const std::uint64_t act_shard = act / s.tp;
  const std::uint32_t cp = s.cp, dpc = s.dp * s.cp;  // gradients are reduced over DP x CP
  // Ring attention: a rank's keys and values for its tokens (its heads: kv_heads / tp of them), bf16 elements.
  const std::uint64_t kv = 2 * std::uint64_t{s.microbatch_size} * (s.seq / cp) *
                           (std::uint64_t{s.hidden} / s.heads * s.kv_heads) / std::max(1u, std::min(s.tp, s.kv_heads));
  // Layers per stage: floor(layers / pp), the remainder to the middle stages first (Llama 3 405B: 126 layers on 16
  // stages, "one Transformer layer less in the first and the last stages": 7, 8 x 14, 7).
  std::vector<std::uint32_t> stage_layers(s.pp, s.layers / s.pp), stage_first(s.pp, 0);
  {
    std::uint32_t extra = s.layers % s.pp;
    for (std::uint32_t i = 1; i + 1 < s.pp && extra; ++i, --extra) ++stage_layers[i];
    if (extra) ++stage_layers[0], --extra;
    if (extra) ++stage_layers[s.pp - 1], --extra;
    for (std::uint32_t i = 1; i < s.pp; ++i) stage_first[i] = stage_first[i - 1] + stage_layers[i - 1];
  }
  const bool moe = s.experts > 0;
  const std::uint32_t v = s.vpp;
  // Model chunk c of stage s: its first layer and layer count (v = 1: the stage's layers).
  auto chunk_first = [&](std::uint32_t stage, std::uint32_t c) {
    return v == 1 ? stage_first[stage] : (c * s.pp + stage) * (s.layers / (s.pp * v));
  };
  auto chunk_layers = [&](std::uint32_t stage) { return v == 1 ? stage_layers[stage] : s.layers / (s.pp * v); };
  using Slot = std::uint32_t;
  constexpr Slot kTp = 0, kDp = 1, kPp = 2, kEp = 3;
  // Interleaving: activations from the last stage's chunk c to the first stage's chunk c + 1 (and gradients back) on
  // a communicator of those two ranks, so that each direction of a pair of ranks carries one ordered stream.
  const Slot kWrap = moe ? 4 : 3;
  const Slot kCp = kWrap + (v > 1 ? 1 : 0);

  Trace t;
  t.source = moe ? "collemu trace gen moe" : "collemu trace gen llm";
  t.world_size = s.gpus;
  auto rank_of = [&](std::uint32_t tp_i, std::uint32_t dp_i, std::uint32_t pp_i, std::uint32_t cp_i = 0) {
    return tp_i + s.tp * (cp_i + cp * (dp_i + s.dp * pp_i));
  };
  // Communicators and each rank's slots.
  t.comm_of_slot.assign(s.gpus, std::vector<std::uint32_t>(kCp + (cp > 1 ? 1 : 0), 0));
  auto add_comm = [&](std::string name, std::vector<std::uint32_t> ranks, Slot slot) {
    const auto c = static_cast<std::uint32_t>(t.comms.size());
    for (std::uint32_t r : ranks) t.comm_of_slot[r][slot] = c;
    const auto n = static_cast<std::uint32_t>(ranks.size());
    t.comms.push_back({std::move(name), std::move(ranks), n});
  };
  // Names of groups that differ by their CP index carry it (none without CP).
  auto cp_name = [&](std::uint32_t cp_i) { return cp > 1 ? " cp" + std::to_string(cp_i) : std::string(); };
  for (std::uint32_t pp_i = 0; pp_i < s.pp; ++pp_i)
    for (std::uint32_t dp_i = 0; dp_i < s.dp; ++dp_i)
      for (std::uint32_t cp_i = 0; cp_i < cp; ++cp_i) {
        std::vector<std::uint32_t> r;
        for (std::uint32_t tp_i = 0; tp_i < s.tp; ++tp_i) r.push_back(rank_of(tp_i, dp_i, pp_i, cp_i));
        add_comm("tp pp" + std::to_string(pp_i) + " dp" + std::to_string(dp_i) + cp_name(cp_i), std::move(r), kTp);
      }
  for (std::uint32_t pp_i = 0; pp_i < s.pp; ++pp_i)
    for (std::uint32_t tp_i = 0; tp_i < s.tp; ++tp_i) {
      std::vector<std::uint32_t> r;  // DP x CP: the gradients' group
      for (std::uint32_t dp_i = 0; dp_i < s.dp; ++dp_i)
        for (std::uint32_t cp_i = 0; cp_i < cp; ++cp_i) r.push_back(rank_of(tp_i, dp_i, pp_i, cp_i));
      add_comm("dp pp" + std::to_string(pp_i) + " tp" + std::to_string(tp_i), std::move(r), kDp);
      if (moe)
        for (std::uint32_t g = 0; g < s.dp / s.ep; ++g) {
          std::vector<std::uint32_t> e;
          for (std::uint32_t k = 0; k < s.ep; ++k) e.push_back(rank_of(tp_i, g * s.ep + k, pp_i));
          add_comm("ep pp" + std::to_string(pp_i) + " tp" + std::to_string(tp_i) + " g" + std::to_string(g),
                   std::move(e), kEp);
        }
      if (cp > 1)
        for (std::uint32_t dp_i = 0; dp_i < s.dp; ++dp_i) {
          std::vector<std::uint32_t> c;
          for (std::uint32_t cp_i = 0; cp_i < cp; ++cp_i) c.push_back(rank_of(tp_i, dp_i, pp_i, cp_i));
          add_comm("cp pp" + std::to_string(pp_i) + " tp" + std::to_string(tp_i) + " dp" + std::to_string(dp_i),
                   std::move(c), kCp);
        }
    }
  for (std::uint32_t tp_i = 0; tp_i < s.tp; ++tp_i)
    for (std::uint32_t dp_i = 0; dp_i < s.dp; ++dp_i)
      for (std::uint32_t cp_i = 0; cp_i < cp; ++cp_i) {
        std::vector<std::uint32_t> r;
        for (std::uint32_t pp_i = 0; pp_i < s.pp; ++pp_i) r.push_back(rank_of(tp_i, dp_i, pp_i, cp_i));
        const std::string tail = " tp" + std::to_string(tp_i) + " dp" + std::to_string(dp_i) + cp_name(cp_i);
        add_comm("pp" + tail, std::move(r), kPp);
        if (v > 1)
          add_comm("ppwrap" + tail, {rank_of(tp_i, dp_i, 0, cp_i), rank_of(tp_i, dp_i, s.pp - 1, cp_i)}, kWrap);
      }

  // One program per pipeline stage (every rank of a stage runs the same ops on its own groups). With DP overlap the
  // programs are DAGs of two streams: the main one (compute, TP, PP: each op after the one before) and the DP one
  // (each bucket after the compute it reduces and after the bucket before).
  const bool overlap = s.dp_overlap && dpc > 1;
  // Programs are DAGs where anything overlaps: the DP streams, or ring attention's transfers beside its compute.
  const bool dag = overlap || cp > 1;
  std::int64_t last_main = -1, last_dp = -1;
  std::int64_t* gate_ptr = nullptr;  // FSDP's gather the next main op waits for (set below)
  std::int64_t ring_wait = -1;       // ring attention's receive the next main op waits for
  auto push_main = [&](Program& p, Op o) {
    if (dag && last_main >= 0) o.deps = {static_cast<std::uint32_t>(last_main)};
    if (dag && gate_ptr && *gate_ptr >= 0) {
      o.deps.push_back(static_cast<std::uint32_t>(*gate_ptr));
      *gate_ptr = -1;
    }
    if (dag && ring_wait >= 0) {
      o.deps.push_back(static_cast<std::uint32_t>(ring_wait));
      ring_wait = -1;
    }
    last_main = static_cast<std::int64_t>(p.ops.size());
    p.ops.push_back(std::move(o));
  };
  auto compute = [&](Program& p, double flops) {
    Op o;
    o.kind = OpKind::Compute;
    o.duration_s = flops / flops_rate;
    push_main(p, o);
  };
  auto coll_op = [&](CollKind k, std::uint64_t count, Slot slot) {
    Op o;
    o.kind = OpKind::Collective;
    o.coll = k;
    o.dtype = DataType::Bfloat16;
    o.count = count;
    o.comm_slot = slot;
    return o;
  };
  auto coll = [&](Program& p, CollKind k, std::uint64_t count, Slot slot) { push_main(p, coll_op(k, count, slot)); };
  // A DP bucket on the DP stream, after the main stream's last op.
  auto dp_bucket = [&](Program& p, CollKind k, std::uint64_t count) {
    Op o = coll_op(k, count, kDp);
    if (last_main >= 0) o.deps.push_back(static_cast<std::uint32_t>(last_main));
    if (last_dp >= 0) o.deps.push_back(static_cast<std::uint32_t>(last_dp));
    last_dp = static_cast<std::int64_t>(p.ops.size());
    p.ops.push_back(std::move(o));
  };
  // FSDP: gathers on their own stream (each after the one before and after the main stream's last op: issued one
  // layer ahead), the next main op waits for the gather of its layer (`gate`); reduce-scatters on another stream.
  const bool fsdp = s.dp_mode == LlmSpec::DpMode::Fsdp && dpc > 1;
  std::int64_t last_ag = -1, last_rs = -1, gate = -1;
  gate_ptr = &gate;
  auto side_op = [&](Program& p, CollKind k, std::uint64_t count, std::int64_t& stream) {
    Op o = coll_op(k, count, kDp);
    if (overlap) {
      if (last_main >= 0) o.deps.push_back(static_cast<std::uint32_t>(last_main));
      if (stream >= 0) o.deps.push_back(static_cast<std::uint32_t>(stream));
      stream = static_cast<std::int64_t>(p.ops.size());
      p.ops.push_back(std::move(o));
    } else {
      push_main(p, std::move(o));
    }
    return static_cast<std::int64_t>(p.ops.size() - 1);
  };
  auto p2p = [&](Program& p, OpKind k, std::int32_t peer, Slot slot) {
    Op o;
    o.kind = k;
    o.dtype = DataType::Bfloat16;
    o.count = s.sequence_parallel ? act_shard : act;
    o.comm_slot = slot;
    o.root = peer;
    push_main(p, o);
  };
  // Parameters per rank of one layer, and of the embedding or the head (V x h each, on the first and last stages).
  auto layer_params = [&](std::uint32_t l) {
    const double mlp = moe && (l + 1) % s.moe_every == 0
                           ? (static_cast<double>(s.experts) * sh.expert_params / s.ep + h * s.experts)
                           : sh.dense_mlp_params;
    return (sh.attn_params + mlp) / s.tp;
  };
  const double table_params = static_cast<double>(s.vocab) * h / s.tp;
  const double bucket_params =
      s.dp_bucket_params ? static_cast<double>(s.dp_bucket_params) : std::max(40e6, 1e6 * dpc);
  // TP around a block: SP gathers the sequence shards before it and reduce-scatters after; otherwise one all-reduce.
  auto tp_block = [&](Program& p, double flops) {
    if (s.tp > 1 && s.sequence_parallel) coll(p, CollKind::AllGather, act_shard, kTp);
    compute(p, flops);
    if (s.tp > 1) {
      if (s.sequence_parallel) coll(p, CollKind::ReduceScatter, act_shard, kTp);
      else coll(p, CollKind::AllReduce, act, kTp);
    }
  };
  // Attention. With CP, as a ring (Transformer Engine's context parallelism over P2P): cp steps, step k computing on
  // the chunk of keys and values received at step k - 1 while step k's chunk moves on: each step but the last sends
  // to the next rank of the CP group and receives from the previous one; the send (forwarding what came) waits for
  // the receive before it, the receive is posted beside the compute. `count`: elements one step moves.
  std::uint32_t cp_i = 0;  // the CP index of the program being written
  auto attention = [&](Program& p, double flops, std::uint64_t count) {
    if (cp == 1) return tp_block(p, flops);
    if (s.tp > 1 && s.sequence_parallel) coll(p, CollKind::AllGather, act_shard, kTp);
    const auto next = static_cast<std::int32_t>((cp_i + 1) % cp), prev = static_cast<std::int32_t>((cp_i + cp - 1) % cp);
    for (std::uint32_t k = 0; k < cp; ++k) {
      std::int64_t recv = -1;
      if (k + 1 < cp) {
        Op snd;
        snd.kind = OpKind::Send;
        snd.dtype = DataType::Bfloat16;
        snd.count = count;
        snd.comm_slot = kCp;
        snd.root = next;
        push_main(p, snd);
        Op rcv = snd;
        rcv.kind = OpKind::Recv;
        rcv.root = prev;
        rcv.deps = {static_cast<std::uint32_t>(last_main)};
        recv = static_cast<std::int64_t>(p.ops.size());
        p.ops.push_back(std::move(rcv));
      }
      compute(p, flops / cp);
      ring_wait = recv;
    }
    if (s.tp > 1) {
      if (s.sequence_parallel) coll(p, CollKind::ReduceScatter, act_shard, kTp);
      else coll(p, CollKind::AllReduce, act, kTp);
    }
  };
  // Per layer and microbatch, forward FLOPs per rank (backward: twice): attention 2 x params + 4 h s per token,
  // MLP 2 x params (top-k experts for MoE), over the TP ranks.
  const double attn_fwd = (2 * sh.attn_params + 4 * h * s.seq) * tokens_mb / s.tp;
  const double dense_fwd = 2 * sh.dense_mlp_params * tokens_mb / s.tp;
  const double moe_fwd = 2 * s.topk * sh.expert_params * tokens_mb / s.tp;
  const double head_fwd = 2.0 * s.vocab * h * tokens_mb / s.tp;
  // MoE dispatch/combine: each rank's tokens (its sequence shard) x top-k, hidden-wide, over its EP group.
  const std::uint64_t a2a = (s.sequence_parallel ? act_shard : act) * s.topk;
  auto is_moe_layer = [&](std::uint32_t layer) { return moe && (layer + 1) % s.moe_every == 0; };

  t.programs.resize(std::size_t{s.pp} * cp);
  for (std::uint32_t prog = 0; prog < s.pp * cp; ++prog) {
    const std::uint32_t stage = prog / cp;
    cp_i = prog % cp;
    Program& p = t.programs[prog];
    p.dag = dag;
    last_main = last_dp = last_ag = last_rs = gate = ring_wait = -1;
    const bool first_stage = stage == 0, last_stage = stage + 1 == s.pp;
    std::vector<std::uint32_t> backwards(v, 0);  // per chunk
    std::vector<std::uint64_t> buckets;  // parameters of each bucket launched (ZeRO gathers them at the end)
    double pending = 0;                  // parameters whose gradients are ready but not yet in a bucket
    auto launch = [&] {
      if (pending <= 0) return;
      const auto params = static_cast<std::uint64_t>(std::ceil(pending));
      pending = 0;
      buckets.push_back(params);
      if (s.dp_mode == LlmSpec::DpMode::AllReduce) dp_bucket(p, CollKind::AllReduce, params);
      else dp_bucket(p, CollKind::ReduceScatter, (params + dpc - 1) / dpc);
    };
    auto ready = [&](double params, bool last) {  // gradients done in the last microbatch's backward
      if (!overlap || !last || fsdp) return;
      pending += params;
      if (pending >= bucket_params) launch();
    };
    // Chunk c's forward: its input from the stage before (the first stage's chunk c > 0: from the last stage's chunk
    // c - 1), its layers, its output to the stage after (the last stage's chunk c < v - 1: to the first stage's
    // chunk c + 1; the last chunk of all computes the head). The wrap-around peers are ranks 0 and 1 of kWrap.
    // FSDP, per pass (one chunk's forward or backward of one microbatch) over its items in order (layers, and the
    // head on the last chunk of all): before item i its gather is waited for by the item's first op; with overlap the
    // gather of item i + 1 is issued when item i starts (the first item's just before it).
    std::vector<double> items;  // the pass's parameters per item (per rank before sharding)
    std::int64_t prefetched = -1;
    auto shard = [&](double params) { return static_cast<std::uint64_t>(std::ceil(params / dpc)); };
    auto gather_for = [&](std::size_t i) {
      if (!fsdp) return;
      if (!overlap) {
        side_op(p, CollKind::AllGather, shard(items[i]), last_ag);
        return;
      }
      if (i == 0) prefetched = side_op(p, CollKind::AllGather, shard(items[0]), last_ag);
      gate = prefetched;
      if (i + 1 < items.size()) prefetched = side_op(p, CollKind::AllGather, shard(items[i + 1]), last_ag);
    };
    auto reduce_for = [&](std::size_t i) {
      if (fsdp) side_op(p, CollKind::ReduceScatter, shard(items[i]), last_rs);
    };
    // Chunk c's forward: its input from the stage before (the first stage's chunk c > 0: from the last stage's chunk
    // c - 1), its layers, its output to the stage after (the last stage's chunk c < v - 1: to the first stage's
    // chunk c + 1; the last chunk of all computes the head). The wrap-around peers are ranks 0 and 1 of kWrap.
    auto forward = [&](std::uint32_t c) {
      if (!first_stage) p2p(p, OpKind::Recv, static_cast<std::int32_t>(stage - 1), kPp);
      else if (c > 0) p2p(p, OpKind::Recv, 1, kWrap);
      const std::uint32_t first_layer = chunk_first(stage, c), n = chunk_layers(stage);
      const bool head = last_stage && c + 1 == v;
      items.clear();
      for (std::uint32_t l = first_layer; l < first_layer + n; ++l) items.push_back(layer_params(l));
      if (first_stage && c == 0) items[0] += table_params;  // the embedding, gathered with the first layer
      if (head) items.push_back(table_params);
      for (std::uint32_t l = first_layer; l < first_layer + n; ++l) {
        gather_for(l - first_layer);
        attention(p, attn_fwd, kv);
        if (is_moe_layer(l)) {
          coll(p, CollKind::AllToAll, a2a, kEp);
          compute(p, moe_fwd);
          coll(p, CollKind::AllToAll, a2a, kEp);
        } else {
          tp_block(p, dense_fwd);
        }
      }
      if (!last_stage) {
        p2p(p, OpKind::Send, static_cast<std::int32_t>(stage + 1), kPp);
      } else if (c + 1 < v) {
        p2p(p, OpKind::Send, 0, kWrap);
      } else {
        gather_for(n);
        compute(p, head_fwd);
      }
    };
    auto backward = [&](std::uint32_t c) {
      const bool last = ++backwards[c] == s.microbatches;
      const std::uint32_t first_layer = chunk_first(stage, c), n = chunk_layers(stage);
      const bool head = last_stage && c + 1 == v;
      items.clear();
      if (head) items.push_back(table_params);
      for (std::uint32_t l = first_layer + n; l-- > first_layer;) items.push_back(layer_params(l));
      if (first_stage && c == 0) items.back() += table_params;
      std::size_t item = 0;
      if (!last_stage) {
        p2p(p, OpKind::Recv, static_cast<std::int32_t>(stage + 1), kPp);
      } else if (c + 1 < v) {
        p2p(p, OpKind::Recv, 0, kWrap);
      } else {
        gather_for(item);
        compute(p, 2 * head_fwd);
        reduce_for(item++);
        ready(table_params, last);
      }
      for (std::uint32_t l = first_layer + n; l-- > first_layer;) {
        gather_for(item);
        if (is_moe_layer(l)) {
          coll(p, CollKind::AllToAll, a2a, kEp);
          compute(p, 2 * moe_fwd);
          coll(p, CollKind::AllToAll, a2a, kEp);
        } else {
          tp_block(p, 2 * dense_fwd);
        }
        attention(p, 2 * attn_fwd, 2 * kv);  // keys, values and their gradients
        reduce_for(item++);
        ready(layer_params(l), last);
      }
      if (first_stage && c == 0) ready(table_params, last);
      if (last && overlap && c == 0) launch();  // the step's last backward of this rank: what is left goes
      if (!first_stage) p2p(p, OpKind::Send, static_cast<std::int32_t>(stage - 1), kPp);
      else if (c > 0) p2p(p, OpKind::Send, 1, kWrap);
    };
    // 1F1B (PipeDream-Flush, as Megatron-LM): warm-up forwards, then one forward and one backward each, then the
    // remaining backwards. Interleaved (Megatron-LM's forward_backward_pipelining_with_interleaving): m x v virtual
    // microbatches, (pp - stage - 1) x 2 + (v - 1) x pp of them forward first; virtual microbatch k runs chunk
    // (k mod pp v) / pp forward and v - 1 minus that backward. v = 1 is plain 1F1B.
    const std::uint32_t total = s.microbatches * v;
    const std::uint32_t warmup =
        v == 1 ? std::min(s.pp - stage - 1, s.microbatches) : std::min((s.pp - stage - 1) * 2 + (v - 1) * s.pp, total);
    auto fwd_chunk = [&](std::uint32_t k) { return (k % (s.pp * v)) / s.pp; };
    auto bwd_chunk = [&](std::uint32_t k) { return v - 1 - (k % (s.pp * v)) / s.pp; };
    for (std::uint32_t k = 0; k < warmup; ++k) forward(fwd_chunk(k));
    for (std::uint32_t k = 0; k < total - warmup; ++k) {
      forward(fwd_chunk(warmup + k));
      backward(bwd_chunk(k));
    }
    for (std::uint32_t k = total - warmup; k < total; ++k) backward(bwd_chunk(k));
    // Data parallel with overlap: ZeRO's parameter all-gathers, after every reduce-scatter (the optimizer step).
    if (overlap && s.dp_mode == LlmSpec::DpMode::Zero)
      for (std::size_t b = 0; b < buckets.size(); ++b) {
        Op o = coll_op(CollKind::AllGather, (buckets[b] + dpc - 1) / dpc, kDp);
        o.deps = {static_cast<std::uint32_t>(last_dp)};
        if (b == 0 && last_main >= 0) o.deps.push_back(static_cast<std::uint32_t>(last_main));
        last_dp = static_cast<std::int64_t>(p.ops.size());
        p.ops.push_back(std::move(o));
      }
    // Data parallel without overlap: the gradients of this rank's parameters (bf16), after everything.
    if (dpc > 1 && !overlap && !fsdp) {
      const auto grads = static_cast<std::uint64_t>(std::ceil(fig.params_per_rank));
      if (s.dp_mode == LlmSpec::DpMode::AllReduce) {
        coll(p, CollKind::AllReduce, grads, kDp);
      } else {
        const std::uint64_t shard = (grads + dpc - 1) / dpc;
        coll(p, CollKind::ReduceScatter, shard, kDp);
        coll(p, CollKind::AllGather, shard, kDp);
      }
    }
  }
  t.program_of_rank.resize(s.gpus);
  // Program: the stage's, and with CP one per CP index of the stage (its ring peers differ).
  for (std::uint32_t r = 0; r < s.gpus; ++r) t.program_of_rank[r] = r / (s.tp * cp * s.dp) * cp + (r / s.tp) % cp;
  return t;
}

}  // namespace collemu::traces
