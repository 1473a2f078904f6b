// A stand-in NCCL for testing the capture library without a GPU: the same API symbols, doing nothing but counting
// the calls that reach it (so that a test sees the capture forwarded them) and keeping the communicator's size and
// rank. Built as libcollemu_fake_nccl.so; never installed.
#include <nccl.h>

#include <cstdlib>

namespace {
int g_calls = 0;
struct FakeComm {
  int nranks, rank, dev;
};
ncclComm_t make(int nranks, int rank) { return reinterpret_cast<ncclComm_t>(new FakeComm{nranks, rank, rank}); }
FakeComm* fake(ncclComm_t c) { return reinterpret_cast<FakeComm*>(c); }
}  // namespace

extern "C" {
int fake_nccl_calls() { return g_calls; }
ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId, int rank) {
  ++g_calls;
  *comm = make(nranks, rank);
  return ncclSuccess;
}
ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t*) {
  return ncclCommInitRank(comm, nranks, id, rank);
}
ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int*) {
  ++g_calls;
  for (int i = 0; i < ndev; ++i) comms[i] = make(ndev, i);
  return ncclSuccess;
}
ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t* newcomm, ncclConfig_t*) {
  ++g_calls;
  // The test splits 2 ranks into colour groups of one.
  (void)color;
  (void)key;
  *newcomm = make(1, 0);
  fake(*newcomm)->dev = fake(comm)->dev;
  return ncclSuccess;
}
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  ++g_calls;
  delete fake(comm);
  return ncclSuccess;
}
ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  *count = fake(comm)->nranks;
  return ncclSuccess;
}
ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  *rank = fake(comm)->rank;
  return ncclSuccess;
}
ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int* device) {
  *device = fake(comm)->dev;
  return ncclSuccess;
}
#define COUNTED(sig) \
  ncclResult_t sig { \
    ++g_calls;      \
    return ncclSuccess; \
  }
COUNTED(ncclAllReduce(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t))
COUNTED(ncclBroadcast(const void*, void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t))
COUNTED(ncclReduce(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, int, ncclComm_t, cudaStream_t))
COUNTED(ncclAllGather(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t))
COUNTED(ncclReduceScatter(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t))
COUNTED(ncclAlltoAll(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t))
COUNTED(ncclSend(const void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t))
COUNTED(ncclRecv(void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t))
COUNTED(ncclGroupStart())
COUNTED(ncclGroupEnd())
}
