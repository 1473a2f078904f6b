// libcollemu_nccl_capture.so: records what a job asks of NCCL, for `collemu trace convert`.
//
//   LD_PRELOAD=libcollemu_nccl_capture.so COLLEMU_CAPTURE_DIR=/tmp/cap python train.py
//   collemu trace convert /tmp/cap/*.log -o job.h5
//
// It interposes the NCCL API (communicator creation and splitting, the collectives, send/receive, group start/end),
// forwards every call to the next library that defines it (the real NCCL, found with dlsym(RTLD_NEXT)) and returns
// its result unchanged. Each process writes one file, COLLEMU_CAPTURE_DIR/collemu-capture.<host>.<pid>.log, in the
// format of NCCL's own INFO logs (NCCL_DEBUG_SUBSYS=INIT,COLL) so that the NCCL log reader reads it, with two
// additions: a `collemu_t_ns=<wall clock ns>` before each record, and a commId on every communicator (a hash of the
// ncclUniqueId, or of the parent's and the split colour), which ties the same communicator together across
// processes.
#include <dlfcn.h>
#include <nccl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

namespace {

struct CommInfo {
  std::uint64_t id = 0;
  int rank = 0, nranks = 0, dev = 0;  // nranks 0: not known yet (a non-blocking init still in progress)
  std::uint64_t op_count = 0;
  bool announced = false;             // its Init line is written
};

std::mutex g_mu;
FILE* g_out = nullptr;
std::unordered_map<ncclComm_t, CommInfo> g_comms;
char g_host[256] = "host";

std::uint64_t fnv1a(const void* data, std::size_t n, std::uint64_t h = 1469598103934665603ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

void flush_at_exit() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_out) fflush(g_out);
}

// The process's file, opened on first use. Returns nullptr (and says why once) when it cannot be written: the job
// must run on even if the capture cannot.
FILE* out() {
  if (g_out) return g_out;
  static bool failed = false;
  if (failed) return nullptr;
  gethostname(g_host, sizeof g_host - 1);
  const char* dir = std::getenv("COLLEMU_CAPTURE_DIR");
  std::string path = std::string(dir && *dir ? dir : ".") + "/collemu-capture." + g_host + "." +
                     std::to_string(getpid()) + ".log";
  g_out = std::fopen(path.c_str(), "w");
  if (!g_out) {
    failed = true;
    std::fprintf(stderr, "collemu capture: cannot write %s: %s; not capturing\n", path.c_str(), std::strerror(errno));
    return nullptr;
  }
  static char buffer[1 << 20];
  setvbuf(g_out, buffer, _IOFBF, sizeof buffer);
  std::fprintf(g_out, "# collemu NCCL capture, format 1 (NCCL INFO lines; `collemu trace convert` reads them)\n");
  std::atexit(flush_at_exit);
  return g_out;
}

template <class F>
F real(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (!p) {
    std::fprintf(stderr, "collemu capture: no %s after the capture library (is NCCL loaded?)\n", name);
    std::abort();
  }
  return reinterpret_cast<F>(p);
}
#define REAL(fn) static const auto real_##fn = real<decltype(&fn)>(#fn)

void prefix(FILE* f, int dev) {
  std::fprintf(f, "collemu_t_ns=%llu %s:%d:%ld [%d] NCCL INFO ", static_cast<unsigned long long>(now_ns()), g_host,
               static_cast<int>(getpid()), static_cast<long>(syscall(SYS_gettid)), dev);
}

// Writes the communicator's Init line once its size is known (caller holds g_mu).
void announce(ncclComm_t comm, CommInfo& c, FILE* f) {
  if (c.announced) return;
  if (c.nranks <= 0) {  // a non-blocking init or split: ask NCCL now
    REAL(ncclCommCount);
    REAL(ncclCommUserRank);
    int n = 0, r = 0;
    if (real_ncclCommCount(comm, &n) != ncclSuccess || real_ncclCommUserRank(comm, &r) != ncclSuccess || n <= 0) return;
    c.nranks = n;
    c.rank = r;
  }
  prefix(f, c.dev);
  std::fprintf(f, "comm %p rank %d nranks %d cudaDev %d commId 0x%016llx - Init COMPLETE\n", static_cast<void*>(comm),
               c.rank, c.nranks, c.dev, static_cast<unsigned long long>(c.id));
  c.announced = true;
}

void record_comm(ncclComm_t comm, std::uint64_t id, int rank, int nranks) {
  if (!comm) return;
  int dev = 0;
  REAL(ncclCommCuDevice);
  if (real_ncclCommCuDevice(comm, &dev) != ncclSuccess) dev = 0;
  std::lock_guard<std::mutex> lock(g_mu);
  CommInfo& c = g_comms[comm];
  c = CommInfo{id, rank, nranks, dev, 0, false};
  if (FILE* f = out()) announce(comm, c, f);
}

// One COLL record; `peer_or_root` is the root of rooted collectives and the peer of send/receive, as NCCL logs it.
void record_op(const char* name, const void* sendbuff, const void* recvbuff, std::size_t count, ncclDataType_t dt,
               int op, int peer_or_root, ncclComm_t comm, cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(g_mu);
  FILE* f = out();
  if (!f) return;
  auto it = g_comms.find(comm);
  if (it == g_comms.end()) {  // created by a call the capture does not see: known to this process only
    it = g_comms.emplace(comm, CommInfo{}).first;
    it->second.id = fnv1a(&comm, sizeof comm, static_cast<std::uint64_t>(getpid()));
  }
  CommInfo& c = it->second;
  announce(comm, c, f);
  prefix(f, c.dev);
  std::fprintf(f, "%s: opCount %llx sendbuff %p recvbuff %p count %zu datatype %d op %d root %d comm %p [nranks=%d] "
               "stream %p\n", name, static_cast<unsigned long long>(c.op_count++), sendbuff, recvbuff, count,
               static_cast<int>(dt), op, peer_or_root, static_cast<void*>(comm), c.nranks,
               static_cast<void*>(stream));
}

void record_note(const char* what) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (FILE* f = out()) std::fprintf(f, "# %s\n", what);
}

}  // namespace

extern "C" {

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  REAL(ncclCommInitRank);
  const ncclResult_t r = real_ncclCommInitRank(comm, nranks, id, rank);
  if (r == ncclSuccess || r == ncclInProgress) record_comm(*comm, fnv1a(&id, sizeof id), rank, nranks);
  return r;
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t* config) {
  REAL(ncclCommInitRankConfig);
  const ncclResult_t r = real_ncclCommInitRankConfig(comm, nranks, id, rank, config);
  if (r == ncclSuccess || r == ncclInProgress) record_comm(*comm, fnv1a(&id, sizeof id), rank, nranks);
  return r;
}

ncclResult_t ncclCommInitRankScalable(ncclComm_t* comm, int nranks, int rank, int nId, ncclUniqueId* ids,
                                      ncclConfig_t* config) {
  REAL(ncclCommInitRankScalable);
  const ncclResult_t r = real_ncclCommInitRankScalable(comm, nranks, rank, nId, ids, config);
  if ((r == ncclSuccess || r == ncclInProgress) && nId > 0)
    record_comm(*comm, fnv1a(ids, sizeof(ncclUniqueId) * static_cast<std::size_t>(nId)), rank, nranks);
  return r;
}

ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist) {
  REAL(ncclCommInitAll);
  const ncclResult_t r = real_ncclCommInitAll(comms, ndev, devlist);
  if (r == ncclSuccess) {
    // One process holds every rank: the communicator's identity is this process and its first comm.
    const std::uint64_t id = fnv1a(&comms[0], sizeof comms[0], fnv1a(g_host, sizeof g_host) ^ static_cast<std::uint64_t>(getpid()));
    for (int i = 0; i < ndev; ++i) record_comm(comms[i], id, i, ndev);
  }
  return r;
}

ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t* newcomm, ncclConfig_t* config) {
  REAL(ncclCommSplit);
  REAL(ncclCommCount);
  REAL(ncclCommUserRank);
  const ncclResult_t r = real_ncclCommSplit(comm, color, key, newcomm, config);
  if ((r == ncclSuccess || r == ncclInProgress) && newcomm && *newcomm) {
    std::uint64_t parent = 0;
    {
      std::lock_guard<std::mutex> lock(g_mu);
      auto it = g_comms.find(comm);
      if (it != g_comms.end()) parent = it->second.id;
    }
    int n = 0, rank = 0;  // 0 while a non-blocking split is in progress: asked again at the first operation
    if (real_ncclCommCount(*newcomm, &n) != ncclSuccess) n = 0;
    if (real_ncclCommUserRank(*newcomm, &rank) != ncclSuccess) rank = 0;
    record_comm(*newcomm, fnv1a(&color, sizeof color, parent ^ 0x5bd1e995ULL), rank, n);
  }
  return r;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  REAL(ncclCommDestroy);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_comms.erase(comm);
    if (g_out) fflush(g_out);
  }
  return real_ncclCommDestroy(comm);
}

ncclResult_t ncclAllReduce(const void* s, void* r, size_t count, ncclDataType_t dt, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t stream) {
  REAL(ncclAllReduce);
  record_op("AllReduce", s, r, count, dt, static_cast<int>(op), 0, comm, stream);
  return real_ncclAllReduce(s, r, count, dt, op, comm, stream);
}

ncclResult_t ncclBroadcast(const void* s, void* r, size_t count, ncclDataType_t dt, int root, ncclComm_t comm,
                           cudaStream_t stream) {
  REAL(ncclBroadcast);
  record_op("Broadcast", s, r, count, dt, 0, root, comm, stream);
  return real_ncclBroadcast(s, r, count, dt, root, comm, stream);
}

ncclResult_t ncclReduce(const void* s, void* r, size_t count, ncclDataType_t dt, ncclRedOp_t op, int root,
                        ncclComm_t comm, cudaStream_t stream) {
  REAL(ncclReduce);
  record_op("Reduce", s, r, count, dt, static_cast<int>(op), root, comm, stream);
  return real_ncclReduce(s, r, count, dt, op, root, comm, stream);
}

ncclResult_t ncclAllGather(const void* s, void* r, size_t sendcount, ncclDataType_t dt, ncclComm_t comm,
                           cudaStream_t stream) {
  REAL(ncclAllGather);
  record_op("AllGather", s, r, sendcount, dt, 0, 0, comm, stream);
  return real_ncclAllGather(s, r, sendcount, dt, comm, stream);
}

ncclResult_t ncclReduceScatter(const void* s, void* r, size_t recvcount, ncclDataType_t dt, ncclRedOp_t op,
                               ncclComm_t comm, cudaStream_t stream) {
  REAL(ncclReduceScatter);
  record_op("ReduceScatter", s, r, recvcount, dt, static_cast<int>(op), 0, comm, stream);
  return real_ncclReduceScatter(s, r, recvcount, dt, op, comm, stream);
}

ncclResult_t ncclAlltoAll(const void* s, void* r, size_t count, ncclDataType_t dt, ncclComm_t comm,
                          cudaStream_t stream) {
  REAL(ncclAlltoAll);
  record_op("AllToAll", s, r, count, dt, 0, 0, comm, stream);
  return real_ncclAlltoAll(s, r, count, dt, comm, stream);
}

ncclResult_t ncclSend(const void* s, size_t count, ncclDataType_t dt, int peer, ncclComm_t comm, cudaStream_t stream) {
  REAL(ncclSend);
  record_op("Send", s, nullptr, count, dt, 0, peer, comm, stream);
  return real_ncclSend(s, count, dt, peer, comm, stream);
}

ncclResult_t ncclRecv(void* r, size_t count, ncclDataType_t dt, int peer, ncclComm_t comm, cudaStream_t stream) {
  REAL(ncclRecv);
  record_op("Recv", nullptr, r, count, dt, 0, peer, comm, stream);
  return real_ncclRecv(r, count, dt, peer, comm, stream);
}

ncclResult_t ncclGroupStart() {
  REAL(ncclGroupStart);
  record_note("GroupStart");
  return real_ncclGroupStart();
}

ncclResult_t ncclGroupEnd() {
  REAL(ncclGroupEnd);
  record_note("GroupEnd");
  return real_ncclGroupEnd();
}

}  // extern "C"
