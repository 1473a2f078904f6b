// The sweep's use of MPI (Open MPI): which rank this process is, a shared counter that hands out the next point, and
// gathering text on rank 0. MPI is initialised only when the process was started by an MPI launcher (mpirun, srun
// with PMI/PMIx): a plain run is one rank and never touches MPI. Built without MPI (COLLEMU_HAVE_MPI undefined)
// every process is rank 0 of 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace collemu::cli {

class Mpi {
 public:
  static Mpi& get();
  int rank() const { return rank_; }
  int size() const { return size_; }
  // Rank 0's `text` on every rank.
  void broadcast(std::string& text);
  // The next job index of a counter shared by all ranks (0, 1, 2, ... across ranks, each index once).
  std::uint64_t next_job();
  // Every rank's `text`, in rank order, on rank 0 (empty elsewhere).
  std::vector<std::string> gather(const std::string& text);
  // Ends this process with `code` after MPI's finalisation (all ranks must call it, or abort).
  [[noreturn]] void finish_quietly(int code);
  // Ends every rank (a point failed on one of them; it printed why).
  [[noreturn]] void abort(int code);
  ~Mpi();

 private:
  Mpi();
  int rank_ = 0, size_ = 1;
  bool active_ = false;
  void* window_ = nullptr;  // MPI_Win of the counter, when active
  std::int64_t* counter_ = nullptr;
};

}  // namespace collemu::cli
