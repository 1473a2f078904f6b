#include "traces/hdf5_trace.hpp"

#include <cmath>

#include <hdf5.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <algorithm>
#include <cstdio>
#include <type_traits>
#include <vector>

#include "common/error.hpp"
#include "common/text.hpp"
#include "traces/hdf5_io.hpp"

namespace collemu::traces {

using common::InputError;

namespace {

// The longest column a reader accepts (2^31 entries): a corrupt size must not exhaust memory.
constexpr hsize_t kMaxElements = hsize_t{1} << 31;

using h5::Id;
using h5::native;
using h5::Quiet;
using h5::Writer;

class Reader {
 public:
  Reader(hid_t file, std::string path) : file_(file), path_(std::move(path)) {}

  template <class T>
  std::vector<T> column(const char* name) {
    Id ds(H5Dopen2(file_, name, H5P_DEFAULT), H5Dclose);
    if (ds < 0) throw InputError(path_, std::string("missing dataset ") + name + " (not a collemu trace, or damaged)");
    Id space(H5Dget_space(ds), H5Sclose);
    if (H5Sget_simple_extent_ndims(space) != 1) throw InputError(path_, std::string(name) + ": expected a 1-D dataset");
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space, &n, nullptr);
    if (n > kMaxElements)
      throw InputError(path_, std::string(name) + ": " + std::to_string(n) + " entries; at most " +
                                  std::to_string(kMaxElements) + " expected (corrupt?)");
    std::vector<T> v(n);
    if (n && H5Dread(ds, native<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
      throw InputError(path_, std::string(name) + ": cannot read (corrupt data, or a type that does not convert)");
    return v;
  }

  std::vector<std::string> strings(const char* name, bool optional = false) {
    if (optional && H5Lexists(file_, name, H5P_DEFAULT) <= 0) return {};
    Id ds(H5Dopen2(file_, name, H5P_DEFAULT), H5Dclose);
    if (ds < 0) throw InputError(path_, std::string("missing dataset ") + name);
    Id space(H5Dget_space(ds), H5Sclose);
    if (H5Sget_simple_extent_ndims(space) != 1) throw InputError(path_, std::string(name) + ": expected a 1-D dataset");
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space, &n, nullptr);
    if (n > kMaxElements) throw InputError(path_, std::string(name) + ": too many entries (corrupt?)");
    Id stored(H5Dget_type(ds), H5Tclose);
    if (H5Tget_class(stored) != H5T_STRING) throw InputError(path_, std::string(name) + ": expected strings");
    if (H5Tis_variable_str(stored) <= 0) {  // version 2: fixed-length strings
      const std::size_t width = H5Tget_size(stored);
      if (width == 0 || width > h5::kMaxFixedString)
        throw InputError(path_, std::string(name) + ": strings of " + std::to_string(width) + " bytes; at most " +
                                    std::to_string(h5::kMaxFixedString) + " expected (corrupt?)");
      if (static_cast<double>(n) * width > 4e9)
        throw InputError(path_, std::string(name) + ": more than 4 GB of strings (corrupt?)");
      Id type(Writer::fixed_string(width), H5Tclose);
      std::vector<char> buf(n * width);
      if (n && H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
        throw InputError(path_, std::string(name) + ": cannot read strings (corrupt data?)");
      std::vector<std::string> out;
      for (hsize_t i = 0; i < n; ++i) {
        const char* b = buf.data() + i * width;
        out.emplace_back(b, std::find(b, b + width, '\0'));
      }
      return out;
    }
    Id type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    std::vector<char*> p(n, nullptr);
    if (n && H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()) < 0)
      throw InputError(path_, std::string(name) + ": cannot read strings");
    std::vector<std::string> out;
    for (char* s : p) out.emplace_back(s ? s : "");
    if (n) H5Dvlen_reclaim(type, space, H5P_DEFAULT, p.data());
    return out;
  }

  std::uint64_t attr_u64(const char* name) {
    Id a(H5Aopen(file_, name, H5P_DEFAULT), H5Aclose);
    if (a < 0) throw InputError(path_, std::string("missing attribute ") + name + " (not a collemu trace?)");
    scalar(a, name);
    std::uint64_t v = 0;
    if (H5Aread(a, H5T_NATIVE_UINT64, &v) < 0) throw InputError(path_, std::string("attribute ") + name + ": not a number");
    return v;
  }

  std::string attr_str(const char* name) {
    Id a(H5Aopen(file_, name, H5P_DEFAULT), H5Aclose);
    if (a < 0) throw InputError(path_, std::string("missing attribute ") + name + " (not a collemu trace?)");
    scalar(a, name);
    Id stored(H5Aget_type(a), H5Tclose);
    if (H5Tget_class(stored) != H5T_STRING)
      throw InputError(path_, std::string("attribute ") + name + ": expected a string");
    if (H5Tis_variable_str(stored) <= 0) {  // version 2: a fixed-length string
      const std::size_t width = H5Tget_size(stored);
      if (width == 0 || width > h5::kMaxFixedString)
        throw InputError(path_, std::string("attribute ") + name + ": a string of " + std::to_string(width) +
                                    " bytes (corrupt?)");
      Id type(Writer::fixed_string(width), H5Tclose);
      std::vector<char> buf(width);
      if (H5Aread(a, type, buf.data()) < 0) throw InputError(path_, std::string("attribute ") + name + ": not a string");
      return std::string(buf.data(), std::find(buf.data(), buf.data() + width, '\0'));
    }
    Id type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    char* p = nullptr;
    if (H5Aread(a, type, &p) < 0) throw InputError(path_, std::string("attribute ") + name + ": not a string");
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }

 private:
  // Attributes are read into one value: they must hold exactly one.
  void scalar(hid_t attr, const char* name) {
    Id space(H5Aget_space(attr), H5Sclose);
    if (H5Sget_simple_extent_npoints(space) != 1)
      throw InputError(path_, std::string("attribute ") + name + ": expected a single value");
  }
  hid_t file_;
  std::string path_;
};

// A CSR offsets column: size n + 1, starts at 0, never decreases, ends at `total`.
void check_offsets(const std::string& path, const char* name, const std::vector<std::uint64_t>& b, std::size_t n,
                   std::size_t total) {
  if (b.size() != n + 1) throw InputError(path, std::string(name) + ": " + std::to_string(b.size()) + " entries; expected " + std::to_string(n + 1));
  if (b.front() != 0) throw InputError(path, std::string(name) + "[0]: expected 0");
  for (std::size_t i = 0; i < n; ++i)
    if (b[i + 1] < b[i]) throw InputError(path, std::string(name) + "[" + std::to_string(i + 1) + "]: decreases");
  if (b.back() != total)
    throw InputError(path, std::string(name) + ": ends at " + std::to_string(b.back()) + "; expected " + std::to_string(total));
}

}  // namespace

bool looks_like_hdf5(const std::string& head) { return head.rfind("\x89HDF\r\n\x1a\n", 0) == 0; }

void write_hdf5_trace(const Trace& t, const std::string& path) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    Quiet quiet;
    // Version 2: checksummed (hdf5_io.hpp), so that a damaged trace is refused, never read into a crash.
    Id fapl(h5::checksummed_fapl(), H5Pclose);
    Id file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose);
    if (file < 0) throw InputError(path, "cannot create the file (" + tmp + ")");
    Writer w(file, path, /*checksummed=*/true);
    w.attr_str("format", "collemu-trace");
    w.attr_u64("version", kTraceFormatVersion);
    w.attr_u64("world_size", t.world_size);
    w.attr_str("source", t.source);

    w.group("/comms");
    std::vector<std::string> names;
    std::vector<std::uint32_t> declared, members;
    std::vector<std::uint64_t> begin{0};
    for (const auto& c : t.comms) {
      names.push_back(c.name);
      declared.push_back(c.declared_size);
      members.insert(members.end(), c.ranks.begin(), c.ranks.end());
      begin.push_back(members.size());
    }
    w.strings("/comms/name", names);
    w.column("/comms/declared_size", declared);
    w.column("/comms/rank_begin", begin);
    w.column("/comms/ranks", members);

    w.group("/programs");
    w.group("/ops");
    std::vector<std::uint64_t> op_begin{0}, dep_begin{0}, count, seq;
    std::vector<std::uint8_t> kind, coll, dtype, dag;
    std::vector<std::uint32_t> slot, deps;
    std::vector<std::int32_t> root;
    std::vector<double> duration, start;
    for (const auto& p : t.programs) {
      for (const Op& o : p.ops) {
        kind.push_back(static_cast<std::uint8_t>(o.kind));
        coll.push_back(static_cast<std::uint8_t>(o.coll));
        dtype.push_back(static_cast<std::uint8_t>(o.dtype));
        slot.push_back(o.comm_slot);
        count.push_back(o.count);
        root.push_back(o.root);
        seq.push_back(o.seq);
        duration.push_back(o.duration_s);
        start.push_back(o.start_s);
        deps.insert(deps.end(), o.deps.begin(), o.deps.end());
        dep_begin.push_back(deps.size());
      }
      op_begin.push_back(kind.size());
      dag.push_back(p.dag ? 1 : 0);
    }
    w.column("/programs/op_begin", op_begin);
    w.column("/programs/dag", dag);
    w.column("/ops/kind", kind);
    w.column("/ops/coll", coll);
    w.column("/ops/dtype", dtype);
    w.column("/ops/comm_slot", slot);
    w.column("/ops/count", count);
    w.column("/ops/root", root);
    w.column("/ops/seq", seq);
    w.column("/ops/duration_s", duration);
    w.column("/ops/start_s", start);
    w.column("/ops/dep_begin", dep_begin);
    w.column("/ops/deps", deps);

    w.group("/ranks");
    std::vector<std::uint64_t> slot_begin{0};
    std::vector<std::uint32_t> slot_comm;
    for (std::uint32_t r = 0; r < t.world_size; ++r) {
      slot_comm.insert(slot_comm.end(), t.comm_of_slot[r].begin(), t.comm_of_slot[r].end());
      slot_begin.push_back(slot_comm.size());
    }
    w.column("/ranks/program", t.program_of_rank);
    w.column("/ranks/slot_begin", slot_begin);
    w.column("/ranks/slot_comm", slot_comm);
    if (!t.rank_names.empty()) w.strings("/ranks/name", t.rank_names);
    if (t.has_measured()) {  // version 3: measured times per rank, beside the shared programs
      w.group("/measured");
      std::vector<std::uint64_t> mbegin{0};
      std::vector<double> mstart, mduration;
      for (std::uint32_t r = 0; r < t.world_size; ++r) {
        for (const OpTime& m : t.measured[r]) {
          mstart.push_back(m.start_s);
          mduration.push_back(m.duration_s);
        }
        mbegin.push_back(mstart.size());
      }
      w.column("/measured/op_begin", mbegin);
      w.column("/measured/start_s", mstart);
      w.column("/measured/duration_s", mduration);
    }
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) throw InputError(path, "cannot flush the file");
  } catch (...) {
    std::remove(tmp.c_str());  // no partial file left behind
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(path, "cannot rename " + tmp + " over it");
  }
}

namespace {

// The file's format version, after checking that it is a collemu trace; the file stays open in `file`.
std::uint64_t open_trace(const std::string& path, Id& file) {
  if (H5Fis_hdf5(path.c_str()) <= 0) throw InputError(path, "not an HDF5 file");
  file.reset(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (file < 0) throw InputError(path, "cannot open the HDF5 file (truncated or corrupt?)");
  Reader r(file, path);
  if (r.attr_str("format") != "collemu-trace") throw InputError(path, "attribute format: expected 'collemu-trace'");
  const std::uint64_t version = r.attr_u64("version");
  if (version < 1 || version > kTraceFormatVersion)
    throw InputError(path, "trace format version " + std::to_string(version) + "; this collemu reads versions 1 to " +
                               std::to_string(kTraceFormatVersion));
  return version;
}

Trace read_contents(hid_t file, const std::string& path, std::uint64_t version);

void limit_child_heap_now(std::uintmax_t file_bytes) {
  std::ifstream status("/proc/self/status");
  double data_kB = 0;
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmData:", 0) == 0) data_kB = std::strtod(line.c_str() + 7, nullptr);
  const double limit = data_kB * 1024 + 2e9 + 200.0 * static_cast<double>(file_bytes);
  rlimit r{};
  if (::getrlimit(RLIMIT_DATA, &r) == 0 && (r.rlim_cur == RLIM_INFINITY || static_cast<double>(r.rlim_cur) > limit)) {
    r.rlim_cur = static_cast<rlim_t>(limit);
    ::setrlimit(RLIMIT_DATA, &r);
  }
}

// Names are text: a damaged version-1 file's global heap may hold any bytes, which no check of version 1 finds (version
// 2 has checksums; names that other readers took from file paths are kept as they are).
void check_text(const Trace& t, const std::string& path) {
  auto bad = [&](const std::string& what) { return InputError(path, what + ": not UTF-8 text (damaged?)"); };
  if (!common::is_utf8(t.source)) throw bad("attribute source");
  for (std::size_t c = 0; c < t.comms.size(); ++c)
    if (!common::is_utf8(t.comms[c].name)) throw bad("/comms/name[" + std::to_string(c) + "]");
  for (std::size_t r = 0; r < t.rank_names.size(); ++r)
    if (!common::is_utf8(t.rank_names[r])) throw bad("/ranks/name[" + std::to_string(r) + "]");
}

// The child's heap is bounded (RLIMIT_DATA: what it has plus 2 GB plus 200 bytes per byte of the file): a damaged
// version-1 length made libhdf5 allocate and fill 4 GB for one string dataset (found by fuzzing). Not under
// AddressSanitizer, whose shadow memory such a limit would break.
#if defined(__SANITIZE_ADDRESS__)  // GCC's
#define COLLEMU_UNDER_ASAN 1
#elif defined(__has_feature)  // clang's
#if __has_feature(address_sanitizer)
#define COLLEMU_UNDER_ASAN 1
#endif
#endif
#ifdef COLLEMU_UNDER_ASAN
constexpr bool kUnderAsan = true;
#else
constexpr bool kUnderAsan = false;
#endif
void limit_child_heap(std::uintmax_t file_bytes) {
  if (!kUnderAsan) limit_child_heap_now(file_bytes);
}

// Version 1 carries no checksums: libhdf5 trusts its object headers and its global heap (the variable-length
// strings), and about 1% of single-byte changes of a small version-1 trace crashed it (issue 13). So a version-1 file
// is read in a child process, which writes what it read as version 2 into a private temporary folder; this process
// then reads that file with every check of version 2. A child that dies, or does not finish within 10 s plus 1 s per
// MB of the file (some damage loops libhdf5), has met a damaged file: refused, with the way out. The child runs only
// libhdf5 and this reader (glibc's malloc is safe after fork; no other thread's lock is needed), dies with its parent
// (PR_SET_PDEATHSIG), and is always reaped.
Trace read_version1_isolated(const std::string& path) {
  std::string dir = (std::filesystem::temp_directory_path() / "collemu-v1-XXXXXX").string();
  if (!::mkdtemp(dir.data())) throw InputError(path, "cannot read a version-1 trace: no temporary folder");
  const std::string tmp = dir + "/trace.h5";
  std::error_code size_error;
  const std::uintmax_t file_bytes = std::filesystem::file_size(path, size_error);
  int pipe_fd[2] = {-1, -1};
  pid_t child = -1;
  bool reaped = false;
  struct Cleanup {  // on every way out: no fd, no child, no temporary file left
    const std::string& dir;
    int* fds;
    pid_t& child;
    bool& reaped;
    ~Cleanup() {
      for (int i = 0; i < 2; ++i)
        if (fds[i] >= 0) ::close(fds[i]);
      if (child > 0 && !reaped) {
        ::kill(child, SIGKILL);
        while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{dir, pipe_fd, child, reaped};
  if (::pipe(pipe_fd) != 0) throw InputError(path, "cannot read a version-1 trace: pipe() failed");
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  child = ::fork();
  if (child < 0) throw InputError(path, "cannot read a version-1 trace: fork() failed");
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(4);  // the parent is already gone
    ::close(pipe_fd[0]);
    int rc = 0;
    std::string message;
    try {
      limit_child_heap(size_error ? 0 : file_bytes);
      Quiet quiet;
      Id file(-1, H5Fclose);
      const std::uint64_t version = open_trace(path, file);
      Trace t = read_contents(file, path, version);
      file.reset();
      check_text(t, path);
      try {
        write_hdf5_trace(t, tmp);
      } catch (const InputError& e) {  // e.g. a name longer than version 2's 65,535 bytes: the user's file, named
        throw InputError(path, "cannot be rewritten as version " + std::to_string(kTraceFormatVersion) + ": " +
                                   e.detail());
      }
    } catch (const InputError& e) {
      message = e.where() + '\0' + e.detail();  // the parent throws it again, place and message apart
      rc = 2;
    } catch (const std::exception& e) {
      message = path + ": " + e.what();
      rc = 3;
    }
    for (std::size_t done = 0; done < message.size();) {
      const ssize_t n = ::write(pipe_fd[1], message.data() + done, message.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(rc);  // no exit handlers: they belong to the parent
  }
  ::close(pipe_fd[1]);
  pipe_fd[1] = -1;
  const double limit_s = 10.0 + (size_error ? 0.0 : static_cast<double>(file_bytes) / 1e6);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_s);
  std::string message;
  char buf[4096];
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{pipe_fd[0], POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;  // cannot wait on the pipe: the child's status decides
    if (ready == 0) continue;
    const ssize_t n = ::read(pipe_fd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end: it is exiting
    message.append(buf, static_cast<std::size_t>(n));
  }
  if (timed_out) ::kill(child, SIGKILL);
  int status = 0;
  pid_t waited;
  while ((waited = ::waitpid(child, &status, 0)) < 0 && errno == EINTR) {
  }
  reaped = true;
  const std::string recover =
      " (version 1 has no checksums, so damage shows only so). Regenerate the trace, or convert an intact copy to "
      "version " + std::to_string(kTraceFormatVersion);
  if (timed_out) {
    char limit[32];
    std::snprintf(limit, sizeof limit, "%.0f s", limit_s);
    throw InputError(path, std::string("a damaged version-1 trace: libhdf5 did not finish reading it in ") + limit +
                               recover);
  }
  if (waited < 0) throw InputError(path, "cannot read a version-1 trace: the child process that read it was lost");
  if (WIFSIGNALED(status))
    throw InputError(path, std::string("a damaged version-1 trace: libhdf5 died reading it (") +
                               ::strsignal(WTERMSIG(status)) + ")" + recover);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (const auto nul = message.find('\0'); WIFEXITED(status) && WEXITSTATUS(status) == 2 && nul != std::string::npos)
      throw InputError(message.substr(0, nul), message.substr(nul + 1));
    throw InputError(path, "reading a version-1 trace failed: " + (message.empty() ? "no reason given" : message));
  }
  try {
    return read_hdf5_trace(tmp);
  } catch (const InputError& e) {  // not expected: the file was just written; name the user's file
    throw InputError(path, "after rewriting version 1 as version 2: " + e.detail());
  }
}

// The version of the file's superblock: 2 and later carry a checksum, and the 1.10+ format written with them
// checksums the object headers too. 0 when the signature is not at the start (a user block) or cannot be read.
int superblock_version(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[9] = {};
  if (!in.read(head, sizeof head) || !looks_like_hdf5(std::string(head, 8))) return 0;
  return static_cast<unsigned char>(head[8]);
}

}  // namespace

Trace read_hdf5_trace(const std::string& path, ReadReport* report) {
  Quiet quiet;
  if (H5Fis_hdf5(path.c_str()) <= 0) throw InputError(path, "not an HDF5 file");
  auto version1 = [&] {
    Trace t = read_version1_isolated(path);
    if (report)
      report->warnings.push_back(path + ": trace format version 1, which has no checksums: a damaged value in it reads "
                                        "as another trace, undetected; convert it to version " +
                                 std::to_string(kTraceFormatVersion) + " (trace convert) while it is intact");
    return t;
  };
  // Nothing of a file without checksummed metadata is read in this process, not even its version attribute.
  if (superblock_version(path) < 2) return version1();
  Id file(-1, H5Fclose);
  const std::uint64_t version = open_trace(path, file);
  if (version == 1) {
    file.reset();
    return version1();
  }
  return read_contents(file, path, version);
}

namespace {

Trace read_contents(hid_t file, const std::string& path, std::uint64_t version) {
  Reader r(file, path);
  Trace t;
  const std::uint64_t world = r.attr_u64("world_size");
  if (world > kMaxRanks)
    throw InputError(path, "world_size " + std::to_string(world) + ": at most " + std::to_string(kMaxRanks) + " ranks");
  t.world_size = static_cast<std::uint32_t>(world);
  t.source = r.attr_str("source");

  const auto names = r.strings("/comms/name");
  const auto declared = r.column<std::uint32_t>("/comms/declared_size");
  const auto cbegin = r.column<std::uint64_t>("/comms/rank_begin");
  const auto members = r.column<std::uint32_t>("/comms/ranks");
  if (declared.size() != names.size()) throw InputError(path, "/comms/declared_size: one per communicator expected");
  check_offsets(path, "/comms/rank_begin", cbegin, names.size(), members.size());
  for (std::size_t i = 0; i < members.size(); ++i)
    if (members[i] >= t.world_size)
      throw InputError(path, "/comms/ranks[" + std::to_string(i) + "] = " + std::to_string(members[i]) +
                                 ": not below world_size " + std::to_string(t.world_size));
  for (std::size_t c = 0; c < names.size(); ++c)
    t.comms.push_back({names[c], std::vector<std::uint32_t>(members.begin() + static_cast<std::ptrdiff_t>(cbegin[c]),
                                                            members.begin() + static_cast<std::ptrdiff_t>(cbegin[c + 1])),
                       declared[c]});

  const auto op_begin = r.column<std::uint64_t>("/programs/op_begin");
  const auto kind = r.column<std::uint8_t>("/ops/kind");
  const auto coll = r.column<std::uint8_t>("/ops/coll");
  const auto dtype = r.column<std::uint8_t>("/ops/dtype");
  const auto slot = r.column<std::uint32_t>("/ops/comm_slot");
  const auto count = r.column<std::uint64_t>("/ops/count");
  const auto root = r.column<std::int32_t>("/ops/root");
  const auto seq = r.column<std::uint64_t>("/ops/seq");
  const auto duration = r.column<double>("/ops/duration_s");
  const auto start = r.column<double>("/ops/start_s");
  const auto dep_begin = r.column<std::uint64_t>("/ops/dep_begin");
  const auto deps = r.column<std::uint32_t>("/ops/deps");
  const std::size_t n_ops = kind.size();
  for (const auto* col : {&coll, &dtype})
    if (col->size() != n_ops) throw InputError(path, "/ops: columns of different lengths");
  if (slot.size() != n_ops || count.size() != n_ops || root.size() != n_ops || seq.size() != n_ops ||
      duration.size() != n_ops || start.size() != n_ops)
    throw InputError(path, "/ops: columns of different lengths");
  if (op_begin.empty()) throw InputError(path, "/programs/op_begin: empty; expected programs + 1 entries");
  check_offsets(path, "/programs/op_begin", op_begin, op_begin.size() - 1, n_ops);
  check_offsets(path, "/ops/dep_begin", dep_begin, n_ops, deps.size());
  for (std::size_t i = 0; i < n_ops; ++i) {
    auto bad = [&](const char* col, long long v) {
      return InputError(path, std::string("/ops/") + col + "[" + std::to_string(i) + "] = " + std::to_string(v) +
                                  ": out of range");
    };
    if (kind[i] > static_cast<int>(OpKind::Recv)) throw bad("kind", kind[i]);
    if (coll[i] >= common::kNumCollKinds || !common::is_trace_kind(static_cast<common::CollKind>(coll[i])))
      throw bad("coll", coll[i]);
    if (dtype[i] >= common::kNumDataTypes) throw bad("dtype", dtype[i]);
  }
  const std::size_t n_programs = op_begin.size() - 1;
  const auto dag = r.column<std::uint8_t>("/programs/dag");
  if (dag.size() != n_programs) throw InputError(path, "/programs/dag: one per program expected");
  t.programs.resize(n_programs);
  for (std::size_t p = 0; p < n_programs; ++p) {
    t.programs[p].dag = dag[p] != 0;
    auto& ops = t.programs[p].ops;
    ops.reserve(op_begin[p + 1] - op_begin[p]);
    for (std::uint64_t i = op_begin[p]; i < op_begin[p + 1]; ++i) {
      Op o;
      o.kind = static_cast<OpKind>(kind[i]);
      o.coll = static_cast<common::CollKind>(coll[i]);
      o.dtype = static_cast<common::DataType>(dtype[i]);
      o.comm_slot = slot[i];
      o.count = count[i];
      o.root = root[i];
      o.seq = seq[i];
      o.duration_s = duration[i];
      o.start_s = start[i];
      o.deps.assign(deps.begin() + static_cast<std::ptrdiff_t>(dep_begin[i]),
                    deps.begin() + static_cast<std::ptrdiff_t>(dep_begin[i + 1]));
      ops.push_back(std::move(o));
    }
  }

  t.program_of_rank = r.column<std::uint32_t>("/ranks/program");
  const auto sbegin = r.column<std::uint64_t>("/ranks/slot_begin");
  const auto scomm = r.column<std::uint32_t>("/ranks/slot_comm");
  if (t.program_of_rank.size() != t.world_size)
    throw InputError(path, "/ranks/program: " + std::to_string(t.program_of_rank.size()) + " entries; expected world_size " +
                               std::to_string(t.world_size));
  for (std::size_t i = 0; i < t.program_of_rank.size(); ++i)
    if (t.program_of_rank[i] >= n_programs)
      throw InputError(path, "/ranks/program[" + std::to_string(i) + "] = " + std::to_string(t.program_of_rank[i]) +
                                 ": no such program");
  check_offsets(path, "/ranks/slot_begin", sbegin, t.world_size, scomm.size());
  for (std::size_t i = 0; i < scomm.size(); ++i)
    if (scomm[i] >= t.comms.size())
      throw InputError(path, "/ranks/slot_comm[" + std::to_string(i) + "] = " + std::to_string(scomm[i]) + ": no such communicator");
  t.comm_of_slot.resize(t.world_size);
  for (std::uint32_t rk = 0; rk < t.world_size; ++rk)
    t.comm_of_slot[rk].assign(scomm.begin() + static_cast<std::ptrdiff_t>(sbegin[rk]),
                              scomm.begin() + static_cast<std::ptrdiff_t>(sbegin[rk + 1]));
  t.rank_names = r.strings("/ranks/name", /*optional=*/true);
  if (!t.rank_names.empty() && t.rank_names.size() != t.world_size)
    throw InputError(path, "/ranks/name: one per rank expected");
  if (H5Lexists(file, "/measured", H5P_DEFAULT) > 0) {  // version 3
    const auto mbegin = r.column<std::uint64_t>("/measured/op_begin");
    const auto mstart = r.column<double>("/measured/start_s");
    const auto mduration = r.column<double>("/measured/duration_s");
    if (mduration.size() != mstart.size()) throw InputError(path, "/measured: columns of different lengths");
    check_offsets(path, "/measured/op_begin", mbegin, t.world_size, mstart.size());
    t.measured.resize(t.world_size);
    for (std::uint32_t rk = 0; rk < t.world_size; ++rk) {
      const std::uint64_t n = mbegin[rk + 1] - mbegin[rk];
      if (n != 0 && n != t.program(rk).ops.size())
        throw InputError(path, "/measured/op_begin: rank " + std::to_string(rk) + " has " + std::to_string(n) +
                                   " measured times for " + std::to_string(t.program(rk).ops.size()) + " ops");
      for (std::uint64_t i = mbegin[rk]; i < mbegin[rk + 1]; ++i) {
        if (!std::isfinite(mstart[i]) || !std::isfinite(mduration[i]) || mduration[i] < 0 || (mstart[i] < 0 && mstart[i] != -1))
          throw InputError(path, "/measured/ row " + std::to_string(i) + ": start " + std::to_string(mstart[i]) +
                                     " s, duration " + std::to_string(mduration[i]) +
                                     " s; expected finite times, a duration >= 0 and a start >= 0 (or -1: none)");
        t.measured[rk].push_back({mstart[i], mduration[i]});
      }
    }
  } else if (version < 3) {
    separate_measurements(t);  // versions 1 and 2 kept observations in the ops
  }
  return t;
}

}  // namespace

}  // namespace collemu::traces
