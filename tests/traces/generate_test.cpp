// The LLM step generator against its formulas (docs/trace-generators.md) and published model sizes.
#include <gtest/gtest.h>

#include <cmath>

#include "common/error.hpp"
#include "traces/generate.hpp"
#include "traces/info.hpp"

namespace collemu::traces {
namespace {

using common::CollKind;

TEST(GenerateLlm, DefaultsAreLlama3_405B) {
  // "The Llama 3 Herd of Models": 405B parameters (126 layers, width 16,384, FFN 53,248, 128 heads, 8 KV heads,
  // vocabulary 128,256). Our count: 126 x (2h^2 + 2h x 8/128 h + 3 h ffn) + 2 V h = 405.8e9.
  const LlmSpec s;
  const auto f = llm_figures(s);
  EXPECT_NEAR(f.params, 405e9, 0.005 * 405e9);
  // Training FLOPs per token, PaLM's 6N + 12 l h s with N = the matmul parameters (all but the input embedding).
  const double h = 16384, l = 126, V = 128256;
  const double n = l * (2 * h * h + 2 * h * (h / 128 * 8) + 3 * h * 53248) + V * h;
  EXPECT_DOUBLE_EQ(f.flops_per_token, 6 * n + 12 * l * h * 8192);
  // Per rank: 8 microbatches x 8,192 tokens over tp x pp = 128 ranks of a pipeline, at 989 TFLOPS x 40%.
  EXPECT_NEAR(f.step_compute_s, f.flops_per_token * 8 * 8192 / 128 / (989e12 * 0.4), 1e-9);
  EXPECT_NEAR(f.params_per_rank, f.params / 128, 1);
}

TEST(GenerateLlm, ASmallStepHasTheOpsItsShapesImply) {
  // tp 2 x pp 2 x dp 2, 4 layers (2 per stage), 3 microbatches, sequence parallel: per layer and pass two TP blocks,
  // each an all-gather + compute + reduce-scatter of the sequence shard (seq x hidden / tp elements).
  LlmSpec s;
  s.gpus = 8, s.tp = 2, s.pp = 2, s.dp = 2, s.layers = 4, s.hidden = 64, s.ffn = 256, s.heads = 4, s.kv_heads = 2;
  s.vocab = 1000, s.seq = 16, s.microbatches = 3;
  const Trace t = generate_llm(s);
  check_consistency(t);
  EXPECT_EQ(t.world_size, 8u);
  EXPECT_EQ(t.programs.size(), 2u);  // one per stage
  EXPECT_EQ(t.comms.size(), 4u + 4u + 4u);  // TP groups, DP groups, PP groups
  const auto info = summarize(t);
  // AllGathers: 8 ranks x (2 layers x 2 blocks x 2 passes x 3 microbatches + 1 for the DP shard) = 8 x 25.
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::AllGather)].ops, 8u * 25);
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::ReduceScatter)].ops, 8u * 25);
  // Sends: stage 0 forward (3) and stage 1 backward (3), on each of the 4 (tp, dp) pipelines.
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::Send)].ops, 4u * 6);
  const Op* ag = nullptr;
  for (const auto& o : t.program(0).ops)
    if (o.kind == OpKind::Collective && o.coll == CollKind::AllGather) {
      ag = &o;
      break;
    }
  ASSERT_NE(ag, nullptr);
  EXPECT_EQ(ag->count, 16u * 64 / 2);
  EXPECT_DOUBLE_EQ(ag->bytes(), 16 * 64 / 2 * 2.0);  // bf16
  // Compute adds up to the step's compute per rank (averaged over the stages; the head is on the last).
  double total = 0;
  for (std::uint32_t r = 0; r < 8; ++r) total += info.per_rank[r].compute_s;
  EXPECT_NEAR(total / 8, llm_figures(s).step_compute_s, 1e-9 * total);
}

// DP overlap (the default): the gradients of the last microbatch's backward in buckets of about dp_bucket_params,
// each on the DP stream after the compute that finished its layers and after the bucket before; ZeRO's all-gathers of
// the same buckets' shards after the last reduce-scatter. The buckets add up to the stage's parameters per rank.
TEST(GenerateLlm, DataParallelBucketsOverlapTheLastBackward) {
  LlmSpec s;
  s.gpus = 8, s.tp = 2, s.pp = 2, s.dp = 2, s.layers = 8, s.hidden = 64, s.ffn = 256, s.heads = 4, s.kv_heads = 2;
  s.vocab = 1000, s.seq = 16, s.microbatches = 3;
  // A layer per rank: attention 2h^2 + 2h (h/heads x kv_heads) = 10,240, MLP 3 h ffn = 49,152, over tp 2: 29,696.
  const double layer = (2.0 * 64 * 64 + 2.0 * 64 * 32 + 3.0 * 64 * 256) / 2, table = 1000.0 * 64 / 2;
  s.dp_bucket_params = static_cast<std::uint64_t>(2 * layer);  // two layers a bucket
  for (auto mode : {LlmSpec::DpMode::AllReduce, LlmSpec::DpMode::Zero}) {
    s.dp_mode = mode;
    const Trace t = generate_llm(s);
    check_consistency(t);
    for (std::uint32_t stage = 0; stage < 2; ++stage) {
      const Program& p = t.programs[stage];
      EXPECT_TRUE(p.dag);
      const CollKind reduce = mode == LlmSpec::DpMode::AllReduce ? CollKind::AllReduce : CollKind::ReduceScatter;
      double params = 0;
      std::vector<std::uint32_t> reduces, gathers;
      for (std::uint32_t i = 0; i < p.ops.size(); ++i) {
        const Op& o = p.ops[i];
        if (o.kind != OpKind::Collective || o.comm_slot != 1) continue;  // slot 1: DP
        if (o.coll == reduce) {
          reduces.push_back(i);
          params += mode == LlmSpec::DpMode::Zero ? 2.0 * o.count : o.count;
        }
        if (o.coll == CollKind::AllGather) gathers.push_back(i);
      }
      // 4 layers a stage and a table (the head on the last, the embedding on the first); a bucket is launched as soon
      // as it holds 2 layers' worth. Stage 1: the head (32,000) and layer 7 (61,696 >= 59,392), layers 6 and 5, layer
      // 4 (the rest). Stage 0: layers 3 and 2, layers 1 and 0, the embedding.
      EXPECT_EQ(reduces.size(), 3u) << "stage " << stage;
      EXPECT_NEAR(params, 4 * layer + table, 2.0 * reduces.size()) << "stage " << stage;
      EXPECT_EQ(gathers.size(), mode == LlmSpec::DpMode::Zero ? reduces.size() : 0u);
      for (std::size_t b = 0; b < reduces.size(); ++b) {
        const Op& o = p.ops[reduces[b]];
        ASSERT_FALSE(o.deps.empty());
        EXPECT_EQ(p.ops[o.deps[0]].kind, OpKind::Collective);  // after its layers' last op (a TP reduce-scatter)
        if (b > 0) {
          EXPECT_EQ(o.deps.back(), reduces[b - 1]);  // the DP stream, in order
        }
        // Nothing on the main stream waits for it: the next op depends on the op before the bucket.
        if (reduces[b] + 1 < p.ops.size() && p.ops[reduces[b] + 1].comm_slot != 1) {
          EXPECT_NE(p.ops[reduces[b] + 1].deps, std::vector<std::uint32_t>{reduces[b]});
        }
      }
      if (!gathers.empty()) {
        EXPECT_EQ(p.ops[gathers.front()].deps.front(), reduces.back());
      }
    }
  }
  // Without overlap: one reduction after everything, as before.
  s.dp_overlap = false;
  s.dp_mode = LlmSpec::DpMode::AllReduce;
  const Trace t = generate_llm(s);
  EXPECT_FALSE(t.programs[0].dag);
  EXPECT_EQ(t.programs[0].ops.back().coll, CollKind::AllReduce);
}

TEST(GenerateLlm, MoeAddsExpertParallelAllToAll) {
  LlmSpec s;
  s.gpus = 16, s.tp = 2, s.pp = 2, s.dp = 4, s.layers = 4, s.hidden = 64, s.ffn = 256, s.heads = 4, s.kv_heads = 4;
  s.vocab = 1000, s.seq = 16, s.microbatches = 2, s.experts = 8, s.topk = 2, s.ep = 2;
  const Trace t = generate_llm(s);
  check_consistency(t);
  const auto info = summarize(t);
  // Each rank holds its stage's 2 MoE layers: 2 all-to-alls per layer and pass, 2 passes, 2 microbatches: 16.
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::AllToAll)].ops, 16u * 16);
  // Each carries the rank's tokens (its sequence shard) x top-k, hidden-wide: 16/2 x 2 x 64 elements.
  for (const auto& o : t.program(0).ops)
    if (o.kind == OpKind::Collective && o.coll == CollKind::AllToAll) {
      EXPECT_EQ(o.count, 8u * 2 * 64);
    }
}

TEST(GenerateLlm, InconsistentSpecsNameTheField) {
  // In the library's terms (the LlmSpec field and its value); `collemu trace gen` names the option (--kv-heads).
  auto error_of = [](LlmSpec s) {
    try {
      llm_figures(s);
    } catch (const common::InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  LlmSpec s;
  s.dp = 100;
  EXPECT_NE(error_of(s).find("gpus 32768: expected tp x pp x dp = 12800"), std::string::npos) << error_of(s);
  s = LlmSpec{};
  s.heads = 100;
  EXPECT_NE(error_of(s).find("heads 100"), std::string::npos);
  s = LlmSpec{};
  s.mfu = 1.5;
  EXPECT_NE(error_of(s).find("mfu 1.5"), std::string::npos) << error_of(s);
  s = LlmSpec{};
  s.experts = 16, s.ep = 3;
  EXPECT_NE(error_of(s).find("ep 3: expected a divisor of dp"), std::string::npos) << error_of(s);
  // Interleaving: chunks of whole layers, microbatches a multiple of pp, at least 2 stages (Megatron-LM's checks).
  s = LlmSpec{};
  s.vpp = 4;  // 126 layers on 16 x 4 chunks
  EXPECT_NE(error_of(s).find("layers 126: expected a multiple of pp x vpp = 64"), std::string::npos) << error_of(s);
  s.layers = 128, s.microbatches = 12;
  EXPECT_NE(error_of(s).find("microbatches 12: expected a multiple of pp (16)"), std::string::npos) << error_of(s);
  s = LlmSpec{};
  s.gpus = 8, s.tp = 8, s.pp = 1, s.dp = 1, s.vpp = 2;
  EXPECT_NE(error_of(s).find("vpp 2: interleaving needs at least 2 pipeline stages"), std::string::npos)
      << error_of(s);
}

TEST(GenerateLlm, FsdpGathersEveryLayerInEveryPassAndReduceScattersItsGradients) {
  // pp 2 (3 layers each), dp 4, 2 microbatches. Per microbatch and stage: a gather per layer in the forward and again
  // in the backward, one reduce-scatter per layer after its backward; the last stage's head is one item more (its
  // gather in both passes, its reduce-scatter), the first stage's embedding rides with its first layer. No buckets,
  // no gather after the step. Each gather's count is the item's parameters over dp; the layer's first op waits for it.
  LlmSpec s;
  s.gpus = 8, s.tp = 1, s.pp = 2, s.dp = 4, s.layers = 6, s.microbatches = 2;
  s.hidden = 1024, s.ffn = 4096, s.heads = 8, s.kv_heads = 8, s.vocab = 1000, s.seq = 128;
  s.dp_mode = LlmSpec::DpMode::Fsdp;
  const Trace t = generate_llm(s);
  const double layer = (2.0 * 1024 * 1024 + 2.0 * 1024 * 1024) + 3.0 * 1024 * 4096;  // attention + SwiGLU MLP
  const double table = 1000.0 * 1024;
  for (std::uint32_t stage = 0; stage < 2; ++stage) {
    const Program& p = t.program(stage * 4);
    ASSERT_TRUE(p.dag);
    std::size_t ag = 0, rs = 0;
    std::vector<std::uint64_t> ag_counts;
    for (std::size_t i = 0; i < p.ops.size(); ++i) {
      const Op& o = p.ops[i];
      if (o.kind != OpKind::Collective) continue;
      EXPECT_EQ(o.comm_slot, 1u);  // the DP communicator
      if (o.coll == CollKind::AllGather) ++ag, ag_counts.push_back(o.count);
      if (o.coll == CollKind::ReduceScatter) ++rs;
      // Some main-stream op waits for each gather.
      if (o.coll == CollKind::AllGather) {
        bool waited = false;
        for (const Op& q : p.ops)
          for (std::uint32_t d : q.deps) waited = waited || (d == i && q.kind == OpKind::Compute);
        EXPECT_TRUE(waited) << "stage " << stage << " op " << i;
      }
    }
    const std::size_t items = 3 + (stage == 1 ? 1 : 0);
    EXPECT_EQ(ag, 2 * 2 * items) << "stage " << stage;
    EXPECT_EQ(rs, 2 * items) << "stage " << stage;
    const auto shard = [](double params) { return static_cast<std::uint64_t>(std::ceil(params / 4)); };
    EXPECT_EQ(ag_counts.front(), shard(layer + (stage == 0 ? table : 0))) << "stage " << stage;
    if (stage == 1) {
      EXPECT_EQ(ag_counts[3], shard(table)) << "the head's gather";
    }
  }
  s.experts = 8;
  EXPECT_THROW(llm_figures(s), common::InputError);
}

TEST(GenerateLlm, ContextParallelGroupsAndChecks) {
  // tp 2 x cp 4 x pp 2 x dp 2 = 32 ranks, Megatron-LM's order (TP fastest, then CP, DP, PP): CP groups of 4 ranks
  // 2 apart, gradients over DP x CP (8 ranks), one program per (stage, CP index).
  LlmSpec s;
  s.gpus = 32, s.tp = 2, s.cp = 4, s.pp = 2, s.dp = 2, s.layers = 4, s.microbatches = 2;
  s.hidden = 1024, s.ffn = 4096, s.heads = 8, s.kv_heads = 8, s.vocab = 1000, s.seq = 1024;
  const Trace t = generate_llm(s);
  EXPECT_EQ(t.programs.size(), 8u);
  EXPECT_EQ(t.program_of_rank[0], 0u);
  EXPECT_EQ(t.program_of_rank[2], 1u);   // cp index 1 of stage 0
  EXPECT_EQ(t.program_of_rank[16], 4u);  // stage 1, cp index 0
  std::size_t cp_groups = 0;
  for (const auto& c : t.comms) {
    if (c.name.rfind("cp ", 0) == 0) {
      ++cp_groups;
      ASSERT_EQ(c.ranks.size(), 4u);
      EXPECT_EQ(c.ranks[1] - c.ranks[0], 2u);
    }
    if (c.name.rfind("dp ", 0) == 0) EXPECT_EQ(c.ranks.size(), 8u) << c.name;
  }
  EXPECT_EQ(cp_groups, 2u * 2 * 2);  // per stage, TP index and DP index
  auto error_of = [](LlmSpec x) {
    try {
      llm_figures(x);
    } catch (const common::InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  s.gpus = 16;
  EXPECT_NE(error_of(s).find("expected tp x cp x pp x dp = 32"), std::string::npos) << error_of(s);
  s.gpus = 32, s.seq = 1000;
  EXPECT_NE(error_of(s).find("seq 1000: expected a multiple of 2 x cp x tp = 16"), std::string::npos) << error_of(s);
  s.seq = 1024, s.experts = 8;
  EXPECT_NE(error_of(s).find("context parallelism with experts"), std::string::npos) << error_of(s);
}

TEST(GenerateLlm, InterleavedStagesHoldTheirChunksAndWrapAround) {
  // pp 2, vpp 2, 8 layers: chunk c of stage s is virtual stage 2c + s, 2 layers each. Per microbatch and stage:
  // forward of each chunk 2 layers x 2 blocks, backward the same: 16 compute ops for 4 layers, as without
  // interleaving. The first stage's chunk 1 receives from the last stage (its chunk 0) over the two-rank wrap-around
  // communicator, and sends its gradients back there; the last stage sends its chunk 0's output there.
  LlmSpec s;
  s.gpus = 2, s.tp = 1, s.pp = 2, s.dp = 1, s.vpp = 2, s.layers = 8, s.microbatches = 4;
  const Trace t = generate_llm(s);
  ASSERT_EQ(t.programs.size(), 2u);
  std::size_t wrap = 0;
  for (std::uint32_t c = 0; c < t.comms.size(); ++c)
    if (t.comms[c].name.rfind("ppwrap", 0) == 0) {
      ++wrap;
      EXPECT_EQ(t.comms[c].ranks, (std::vector<std::uint32_t>{0, 1}));
    }
  EXPECT_EQ(wrap, 1u);
  for (std::uint32_t stage = 0; stage < 2; ++stage) {
    std::size_t compute = 0, wrap_send = 0, wrap_recv = 0, pp_send = 0, pp_recv = 0;
    for (const Op& o : t.program(stage).ops) {
      compute += o.kind == OpKind::Compute;
      const bool on_wrap = (o.kind == OpKind::Send || o.kind == OpKind::Recv) &&
                           t.comms[t.comm_of_slot[stage][o.comm_slot]].name.rfind("ppwrap", 0) == 0;
      if (o.kind == OpKind::Send) ++(on_wrap ? wrap_send : pp_send);
      if (o.kind == OpKind::Recv) ++(on_wrap ? wrap_recv : pp_recv);
    }
    // 4 microbatches x 4 layers x 2 blocks x (fwd + bwd), plus the head's forward and backward on the last stage.
    EXPECT_EQ(compute, 4u * 4 * 2 * 2 + (stage == 1 ? 8u : 0u)) << "stage " << stage;
    // Stage 0: chunk 1's forward input and chunk 1's gradient output wrap (4 each); chunk 0 and 1 talk to stage 1
    // over pp: forward outputs of both chunks (8) and gradient inputs of both (8). Stage 1 mirrors it.
    EXPECT_EQ(wrap_send, 4u) << "stage " << stage;
    EXPECT_EQ(wrap_recv, 4u) << "stage " << stage;
    EXPECT_EQ(pp_send, 8u) << "stage " << stage;
    EXPECT_EQ(pp_recv, 8u) << "stage " << stage;
  }
}

}  // namespace
}  // namespace collemu::traces
