#include "common/collective.hpp"

#include <cctype>
#include <string>

namespace collemu::common {

namespace {
std::string canon(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '_' && c != '-' && c != ' ') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}
}  // namespace

const char* to_string(CollKind k) {
  switch (k) {
    case CollKind::AllReduce: return "allreduce";
    case CollKind::AllGather: return "allgather";
    case CollKind::ReduceScatter: return "reducescatter";
    case CollKind::Broadcast: return "broadcast";
    case CollKind::Reduce: return "reduce";
    case CollKind::AllToAll: return "alltoall";
    case CollKind::Send: return "send";
    case CollKind::Recv: return "recv";
    case CollKind::Barrier: return "barrier";
    case CollKind::SendRecv: return "sendrecv";
  }
  return "?";
}

std::optional<CollKind> parse_coll_kind(std::string_view text) {
  std::string c = canon(text);
  // PyTorch's internal names: "_allgather_base", "_reduce_scatter_base", "allgather_into_tensor_coalesced", ...
  for (std::string_view suffix : {"base", "intotensorcoalesced", "coalesced", "intotensor"})
    if (c.size() > suffix.size() && c.ends_with(suffix)) c.resize(c.size() - suffix.size());
  if (c == "allreduce") return CollKind::AllReduce;
  if (c == "allgather") return CollKind::AllGather;
  if (c == "reducescatter" || c == "reducescattertensor") return CollKind::ReduceScatter;
  if (c == "broadcast" || c == "bcast") return CollKind::Broadcast;
  if (c == "reduce") return CollKind::Reduce;
  if (c == "alltoall" || c == "alltoallv" || c == "alltoallsingle" || c == "alltoallbase") return CollKind::AllToAll;
  if (c == "send") return CollKind::Send;
  if (c == "recv") return CollKind::Recv;
  if (c == "barrier") return CollKind::Barrier;
  return std::nullopt;
}

const char* to_string(DataType t) {
  switch (t) {
    case DataType::Int8: return "int8";
    case DataType::Uint8: return "uint8";
    case DataType::Int32: return "int32";
    case DataType::Uint32: return "uint32";
    case DataType::Int64: return "int64";
    case DataType::Uint64: return "uint64";
    case DataType::Float16: return "float16";
    case DataType::Float32: return "float32";
    case DataType::Float64: return "float64";
    case DataType::Bfloat16: return "bfloat16";
    case DataType::Float8e4m3: return "float8e4m3";
    case DataType::Float8e5m2: return "float8e5m2";
  }
  return "?";
}

int size_bytes(DataType t) {
  switch (t) {
    case DataType::Int8:
    case DataType::Uint8:
    case DataType::Float8e4m3:
    case DataType::Float8e5m2: return 1;
    case DataType::Float16:
    case DataType::Bfloat16: return 2;
    case DataType::Int32:
    case DataType::Uint32:
    case DataType::Float32: return 4;
    case DataType::Int64:
    case DataType::Uint64:
    case DataType::Float64: return 8;
  }
  return 0;
}

std::optional<DataType> data_type_from_nccl(long long v) {
  if (v < 0 || v >= kNumDataTypes) return std::nullopt;
  return static_cast<DataType>(v);
}

std::optional<DataType> parse_data_type(std::string_view text) {
  std::string c = canon(text);
  if (c.starts_with("c10::")) c = c.substr(5);
  if (c.starts_with("torch.")) c = c.substr(6);
  if (c == "int8" || c == "char" || c == "signedchar") return DataType::Int8;
  if (c == "uint8" || c == "byte" || c == "unsignedchar" || c == "bool") return DataType::Uint8;
  if (c == "int32" || c == "int") return DataType::Int32;
  if (c == "uint32") return DataType::Uint32;
  if (c == "int64" || c == "long" || c == "longint") return DataType::Int64;
  if (c == "uint64") return DataType::Uint64;
  if (c == "float16" || c == "half") return DataType::Float16;
  if (c == "float32" || c == "float") return DataType::Float32;
  if (c == "float64" || c == "double") return DataType::Float64;
  if (c == "bfloat16" || c == "bf16") return DataType::Bfloat16;
  if (c == "float8e4m3" || c == "float8e4m3fn" || c == "fp8e4m3" || c == "f8e4m3") return DataType::Float8e4m3;
  if (c == "float8e5m2" || c == "fp8e5m2" || c == "f8e5m2") return DataType::Float8e5m2;  // f8*: nccl-tests' -d
  return std::nullopt;
}

}  // namespace collemu::common
