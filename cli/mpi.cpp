#include "cli/mpi.hpp"

#include <cstdlib>

#ifdef COLLEMU_HAVE_MPI
#include <mpi.h>
#endif

namespace collemu::cli {

#ifdef COLLEMU_HAVE_MPI
namespace {
// Set by Open MPI's mpirun, by PMI-1/2 (MPICH, srun --mpi=pmi2) and by PMIx (srun --mpi=pmix, Open MPI 4+).
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(v)) return true;
  return false;
}
}  // namespace
#endif

Mpi& Mpi::get() {
  static Mpi m;
  return m;
}

Mpi::Mpi() {
#ifdef COLLEMU_HAVE_MPI
  if (!launched_by_mpi()) return;
  MPI_Init(nullptr, nullptr);
  active_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Win win;
  MPI_Win_allocate(rank_ == 0 ? sizeof(std::int64_t) : 0, sizeof(std::int64_t), MPI_INFO_NULL, MPI_COMM_WORLD,
                   &counter_, &win);
  if (rank_ == 0) *counter_ = 0;
  window_ = new MPI_Win(win);
  MPI_Barrier(MPI_COMM_WORLD);  // the counter is 0 before anyone takes from it
#endif
}

Mpi::~Mpi() {
#ifdef COLLEMU_HAVE_MPI
  if (!active_) return;
  auto* w = static_cast<MPI_Win*>(window_);
  MPI_Win_free(w);
  delete w;
  MPI_Finalize();
#endif
}

void Mpi::broadcast(std::string& text) {
#ifdef COLLEMU_HAVE_MPI
  if (!active_) return;
  std::uint64_t n = text.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  text.resize(n);
  if (n) MPI_Bcast(text.data(), static_cast<int>(n), MPI_CHAR, 0, MPI_COMM_WORLD);
#else
  (void)text;
#endif
}

std::uint64_t Mpi::next_job() {
#ifdef COLLEMU_HAVE_MPI
  if (active_) {
    const std::int64_t one = 1;
    std::int64_t got = 0;
    auto* w = static_cast<MPI_Win*>(window_);
    MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, *w);
    MPI_Fetch_and_op(&one, &got, MPI_INT64_T, 0, 0, MPI_SUM, *w);
    MPI_Win_unlock(0, *w);
    return static_cast<std::uint64_t>(got);
  }
#endif
  static std::uint64_t next = 0;
  return next++;
}

std::vector<std::string> Mpi::gather(const std::string& text) {
#ifdef COLLEMU_HAVE_MPI
  if (active_) {
    const int n = static_cast<int>(text.size());
    std::vector<int> sizes(rank_ == 0 ? size_ : 0), offsets(rank_ == 0 ? size_ : 0);
    MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
    std::string all;
    if (rank_ == 0) {
      int total = 0;
      for (int r = 0; r < size_; ++r) offsets[r] = total, total += sizes[r];
      all.resize(static_cast<std::size_t>(total));
    }
    MPI_Gatherv(text.data(), n, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD);
    std::vector<std::string> out;
    for (int r = 0; rank_ == 0 && r < size_; ++r) out.push_back(all.substr(offsets[r], sizes[r]));
    return out;
  }
#endif
  return {text};
}

void Mpi::finish_quietly(int code) {
#ifdef COLLEMU_HAVE_MPI
  if (active_) {
    auto* w = static_cast<MPI_Win*>(window_);
    MPI_Win_free(w);
    delete w;
    MPI_Finalize();
    active_ = false;
  }
#endif
  std::exit(code);
}

void Mpi::abort(int code) {
#ifdef COLLEMU_HAVE_MPI
  if (active_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

}  // namespace collemu::cli
