// The LLM step generator against its formulas (docs/trace-generators.md) and published model sizes.
#include <gtest/gtest.h>

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
}

}  // namespace
}  // namespace collemu::traces
