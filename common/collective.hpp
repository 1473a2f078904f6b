// The collective vocabulary every layer shares: what kind of communication an op is, and its element type. The
// numbering of DataType is NCCL's ncclDataType_t (FABRIC.md), as NCCL's COLL log lines print it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace collemu::common {

// SendRecv is a Send and a Recv issued together (nccl-tests' sendrecv: every rank sends to the next and receives from
// the one before); traces record the two halves as Send and Recv, so it is not a kind a trace holds.
enum class CollKind : std::uint8_t {
  AllReduce, AllGather, ReduceScatter, Broadcast, Reduce, AllToAll, Send, Recv, Barrier, SendRecv
};
inline constexpr int kNumCollKinds = 10;
// The kinds an op of a trace may have (all but SendRecv).
inline constexpr bool is_trace_kind(CollKind k) { return k != CollKind::SendRecv; }
const char* to_string(CollKind k);
// NCCL's and PyTorch's spellings: "AllReduce", "all_reduce", "allreduce", "ReduceScatter", "reduce_scatter",
// "_reduce_scatter_base", "all_to_all", "alltoall", "AllToAll", "Send", "Recv", ... Case and '_' are ignored. Only
// the kinds a trace holds (is_trace_kind).
std::optional<CollKind> parse_coll_kind(std::string_view text);

enum class DataType : std::uint8_t {
  Int8 = 0, Uint8 = 1, Int32 = 2, Uint32 = 3, Int64 = 4, Uint64 = 5, Float16 = 6, Float32 = 7, Float64 = 8,
  Bfloat16 = 9, Float8e4m3 = 10, Float8e5m2 = 11
};
inline constexpr int kNumDataTypes = 12;
const char* to_string(DataType t);
// Bytes per element.
int size_bytes(DataType t);
// NCCL's number (0..11), or nullopt.
std::optional<DataType> data_type_from_nccl(long long value);
// "float", "float32", "bf16", "bfloat16", "Float", "c10::BFloat16", "half", "int8", ... or nullopt.
std::optional<DataType> parse_data_type(std::string_view text);

}  // namespace collemu::common
