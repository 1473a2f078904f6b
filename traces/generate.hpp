// Trace generators: one training step of a 3D-parallel LLM (tensor, pipeline, data parallel), optionally with
// mixture-of-experts layers, derived from the model's shapes. Formulas and sources in docs/trace-generators.md.
#pragma once

#include <cstdint>
#include <string>

#include "traces/trace.hpp"

namespace collemu::traces {

struct LlmSpec {
  // Parallelism: gpus = tp x cp x pp x dp. Ranks as Megatron-LM orders them: TP fastest (a TP group inside an NVLink
  // domain), then CP, then DP, then PP.
  std::uint32_t gpus = 32768, tp = 8, pp = 16, dp = 256;
  // Context parallelism (Megatron-LM's --context-parallel-size, ring attention as Transformer Engine runs it): the
  // sequence is split over `cp` ranks; each layer's attention takes cp steps, each computing on one chunk of keys
  // and values while the next chunk comes from the previous rank of the ring (forward: K and V; backward: K, V and
  // their gradients). Gradients are reduced over DP x CP. Needs seq a multiple of 2 x cp x tp and a dense model.
  std::uint32_t cp = 1;
  // Model (defaults: Llama 3 405B, "The Llama 3 Herd of Models", Table 3).
  std::uint32_t layers = 126, hidden = 16384, ffn = 53248, heads = 128, kv_heads = 8;
  std::uint32_t vocab = 128256, seq = 8192;
  // Batch: microbatches per pipeline per step, sequences per microbatch.
  std::uint32_t microbatches = 8, microbatch_size = 1;
  // Interleaved 1F1B (Megatron-LM's --num-layers-per-virtual-pipeline-stage; Narayanan et al. 2021, sec. 2.2.2): each
  // rank holds `vpp` model chunks of layers / (pp x vpp) layers, chunk c of stage s being virtual stage c x pp + s;
  // the bubble shrinks by vpp. 1: plain 1F1B. Above 1 it needs pp >= 2, layers a multiple of pp x vpp and microbatches
  // a multiple of pp (as Megatron-LM).
  std::uint32_t vpp = 1;
  // Compute: the GPU's dense BF16 peak (H100 SXM: 989 TFLOPS) and the model FLOPs utilisation (Llama 3 405B:
  // 38-43%).
  double gpu_tflops = 989, mfu = 0.40;
  bool sequence_parallel = true;  // TP as all-gather + reduce-scatter (Korthikanti et al.), else all-reduce
  // Gradients: all-reduce; ZeRO (reduce-scatter + all-gather of the updated shards); or FSDP (ZeRO-3: parameters
  // sharded over DP, each layer's all-gathered before its forward and again before its backward, its gradients
  // reduce-scattered after its backward, in every microbatch). FSDP needs a dense model.
  enum class DpMode { AllReduce, Zero, Fsdp } dp_mode = DpMode::Zero;
  // Data-parallel overlap, as Megatron-LM's --overlap-grad-reduce: the gradients are reduced in buckets of about
  // `dp_bucket_params` parameters (0: Megatron Core's default, max(40M, 1M x dp): DistributedDataParallelConfig.
  // bucket_size), each launched when the backward of its layers in the last microbatch is done, on the DP stream
  // (one after the other) beside the compute; ZeRO's parameter all-gathers follow when every reduce-scatter is done.
  // Off: one reduction of all gradients after the step's last op.
  // FSDP with overlap (PyTorch FSDP's FULL_SHARD, forward and BACKWARD_PRE prefetch): layer l + 1's all-gather is
  // issued when layer l starts (one layer ahead) on an all-gather stream, the reduce-scatters go on a stream of their
  // own; without overlap, every gather and reduce-scatter waits on the compute stream.
  bool dp_overlap = true;
  std::uint64_t dp_bucket_params = 0;
  // MoE (0 experts: dense). Every `moe_every`-th layer's MLP is a mixture of `experts` experts, each token routed to
  // `topk` of them, over expert-parallel groups of `ep` consecutive DP ranks.
  std::uint32_t experts = 0, topk = 2, ep = 1, moe_every = 1, expert_ffn = 0;
};

// Derived figures (for reports and tests).
struct LlmFigures {
  double params = 0;                  // total parameters
  double params_per_rank = 0;         // stored (and gradient elements) per rank: all / (tp x pp), experts / ep
  double flops_per_token = 0;         // training (forward + backward), PaLM's 6N + 12 l h s (dense N)
  double step_compute_s = 0;          // per rank, at gpu_tflops x mfu
  double tp_bytes_per_layer_pass = 0; // one layer's TP traffic per rank for one microbatch pass (fwd or bwd)
};

// Throws common::InputError naming the option for inconsistent specs (tp x pp x dp != gpus, fewer layers than
// stages, heads not a multiple of tp, ep not dividing dp, a zero size, mfu outside (0, 1]).
LlmFigures llm_figures(const LlmSpec& s);
Trace generate_llm(const LlmSpec& s);

}  // namespace collemu::traces
