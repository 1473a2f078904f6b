// A tiny "training job" for the capture test: one rank of a 2-rank communicator (argv[1] = rank) calling NCCL as a
// job would, linked against the stand-in NCCL. Prints how many calls reached that library.
#include <nccl.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" int fake_nccl_calls();

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const int rank = std::atoi(argv[1]), n = 2;
  ncclUniqueId id;
  std::memset(&id, 7, sizeof id);  // what ncclGetUniqueId on rank 0 would hand to every rank
  ncclComm_t comm = nullptr, solo = nullptr;
  char buf[64];
  if (ncclCommInitRank(&comm, n, id, rank) != ncclSuccess) return 1;
  ncclAllReduce(buf, buf, 1024, ncclFloat32, ncclSum, comm, nullptr);
  ncclBroadcast(buf, buf, 512, ncclBfloat16, 0, comm, nullptr);
  ncclAllGather(buf, buf, 256, ncclFloat16, comm, nullptr);
  ncclReduceScatter(buf, buf, 128, ncclFloat32, ncclSum, comm, nullptr);
  ncclGroupStart();
  ncclSend(buf, 64, ncclInt8, (rank + 1) % n, comm, nullptr);
  ncclRecv(buf, 64, ncclInt8, (rank + n - 1) % n, comm, nullptr);
  ncclGroupEnd();
  ncclAlltoAll(buf, buf, 32, ncclFloat32, comm, nullptr);
  ncclCommSplit(comm, rank, 0, &solo, nullptr);  // one communicator per rank
  ncclAllReduce(buf, buf, 8, ncclFloat32, ncclSum, solo, nullptr);
  ncclCommDestroy(solo);
  ncclCommDestroy(comm);
  std::printf("%d\n", fake_nccl_calls());
  return 0;
}
