// How much memory this process may use, and a check that refuses a request that would need more before any of it is
// allocated (a bare std::bad_alloc after minutes of work tells a user nothing).
#pragma once

#include <cstdint>
#include <string>

namespace collemu::common {

// The smaller of the machine's physical memory (/proc/meminfo MemTotal) and the process's cgroup limit (cgroup v2
// memory.max of its own cgroup, or v1 memory.limit_in_bytes): what a Slurm job's --mem sets. COLLEMU_MEMORY_LIMIT
// (bytes, or with a unit: 8GB, 512MiB) lowers it further, to try a large request's refusal on a small machine. 0 when
// nothing can be read (no limit is then applied).
std::uint64_t available_memory_bytes();

// Throws InputError at `where` when `need_bytes` (an estimate: a lower bound of what `what` allocates) is more than
// available_memory_bytes(): "WHERE: WHAT needs about 27.0 GB; this process may use 23.4 GB (...)".
void check_memory(double need_bytes, const std::string& where, const std::string& what);

// "27.0 GB", "512 MB": bytes for messages (decimal units).
std::string format_bytes(double bytes);

}  // namespace collemu::common
