// HDF5 writing helpers shared by the writers of collemu's HDF5 files (the trace format, the replay's results): RAII
// ids, quiet error stacks, native types, and a writer of 1-D columns, strings and scalar attributes that throws
// common::InputError naming the file and the dataset. Include only where HDF5 is linked.
#pragma once

#include <hdf5.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "common/error.hpp"

namespace collemu::traces::h5 {

// RAII for HDF5 ids.
struct Id {
  hid_t id = -1;
  herr_t (*close)(hid_t) = nullptr;
  Id(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() {
    if (id >= 0 && close) close(id);
  }
  // Closes the id held and holds `i` instead.
  void reset(hid_t i = -1) {
    if (id >= 0 && close) close(id);
    id = i;
  }
  operator hid_t() const { return id; }
};

// Silence HDF5's own error stack printing; we report errors ourselves.
struct Quiet {
  H5E_auto2_t fn = nullptr;
  void* data = nullptr;
  Quiet() {
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~Quiet() { H5Eset_auto2(H5E_DEFAULT, fn, data); }
};

template <class T>
hid_t native() {
  if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return H5T_NATIVE_UINT32;
  else if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return H5T_NATIVE_UINT64;
  else return H5T_NATIVE_DOUBLE;
}

// The longest string a checksummed file holds (fixed-length strings: a name, a path), bytes.
inline constexpr std::size_t kMaxFixedString = 65535;

// File access for a checksummed file: the 1.10+ file format, whose superblock, object headers (attributes, types,
// dataset layouts) and chunk indices carry checksums that libhdf5 verifies when it reads them.
inline hid_t checksummed_fapl() {
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST);
  return fapl;
}

class Writer {
 public:
  // `checksummed`: every dataset chunked with a Fletcher32 checksum and every string of fixed length (variable-length
  // strings live in the global heap, which no format version checksums), so that a damaged file is refused by
  // libhdf5's checks instead of read (the trace format, version 2). Create such a file with checksummed_fapl().
  Writer(hid_t file, std::string path, bool checksummed = false)
      : file_(file), path_(std::move(path)), checksummed_(checksummed) {}

  template <class T>
  void column(const char* name, const std::vector<T>& v) {
    const hsize_t n = v.size();
    const hsize_t unlimited = H5S_UNLIMITED;
    Id space(H5Screate_simple(1, &n, checksummed_ ? &unlimited : nullptr), H5Sclose);
    Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (n >= 4096 || checksummed_) {  // chunked, shuffled and deflated: the columns are repetitive
      const hsize_t chunk = std::clamp<hsize_t>(n, 1, 65536);
      H5Pset_chunk(dcpl, 1, &chunk);
      if (n >= 4096) {
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 4);
      }
      if (checksummed_) H5Pset_fletcher32(dcpl);
    }
    Id ds(H5Dcreate2(file_, name, native<T>(), space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
    check(ds, name);
    if (n && H5Dwrite(ds, native<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0) fail(name);
  }

  void strings(const char* name, const std::vector<std::string>& v) {
    const hsize_t n = v.size();
    if (checksummed_) {
      std::size_t width = 1;
      for (const auto& s : v) width = std::max(width, s.size());
      if (width > kMaxFixedString)
        throw common::InputError(path_, std::string(name) + ": a string of " + std::to_string(width) +
                                            " bytes; at most " + std::to_string(kMaxFixedString));
      std::vector<char> buf(n * width, '\0');
      for (std::size_t i = 0; i < v.size(); ++i) std::copy(v[i].begin(), v[i].end(), buf.begin() + i * width);
      const hsize_t unlimited = H5S_UNLIMITED;
      Id space(H5Screate_simple(1, &n, &unlimited), H5Sclose);
      Id type(fixed_string(width), H5Tclose);
      Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
      const hsize_t chunk = std::clamp<hsize_t>(n, 1, std::max<hsize_t>(1, (1u << 20) / width));
      H5Pset_chunk(dcpl, 1, &chunk);
      H5Pset_fletcher32(dcpl);
      Id ds(H5Dcreate2(file_, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
      check(ds, name);
      if (n && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) fail(name);
      return;
    }
    std::vector<const char*> p;
    for (const auto& s : v) p.push_back(s.c_str());
    Id space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    Id type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    Id ds(H5Dcreate2(file_, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    check(ds, name);
    if (n && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()) < 0) fail(name);
  }

  // The column of one field of every row: get(row) for each of `rows`, written as strings or as numbers by its type.
  template <class Rows, class Get>
  void column_of(const char* name, const Rows& rows, Get get) {
    using T = std::decay_t<decltype(get(*std::begin(rows)))>;
    std::vector<T> v;
    v.reserve(std::size(rows));
    for (const auto& r : rows) v.push_back(get(r));
    if constexpr (std::is_same_v<T, std::string>)
      strings(name, v);
    else
      column(name, v);
  }

  // A fixed-length UTF-8 string type of `width` bytes, NUL-padded.
  static hid_t fixed_string(std::size_t width) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, std::max<std::size_t>(width, 1));
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    H5Tset_cset(type, H5T_CSET_UTF8);
    return type;
  }

  void group(const char* name) {
    Id g(H5Gcreate2(file_, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    check(g, name);
  }

  void attr_u64(const char* name, std::uint64_t v) {
    Id space(H5Screate(H5S_SCALAR), H5Sclose);
    Id a(H5Acreate2(file_, name, H5T_NATIVE_UINT64, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    check(a, name);
    if (H5Awrite(a, H5T_NATIVE_UINT64, &v) < 0) fail(name);
  }

  void attr_f64(const char* name, double v) {
    Id space(H5Screate(H5S_SCALAR), H5Sclose);
    Id a(H5Acreate2(file_, name, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    check(a, name);
    if (H5Awrite(a, H5T_NATIVE_DOUBLE, &v) < 0) fail(name);
  }

  void attr_str(const char* name, const std::string& v) {
    Id space(H5Screate(H5S_SCALAR), H5Sclose);
    if (checksummed_) {
      if (v.size() > kMaxFixedString)
        throw common::InputError(path_, std::string("attribute ") + name + ": longer than " +
                                            std::to_string(kMaxFixedString) + " bytes");
      Id type(fixed_string(v.size()), H5Tclose);
      Id a(H5Acreate2(file_, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      check(a, name);
      std::string padded = v.empty() ? std::string(1, '\0') : v;
      if (H5Awrite(a, type, padded.data()) < 0) fail(name);
      return;
    }
    Id type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    Id a(H5Acreate2(file_, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    check(a, name);
    const char* p = v.c_str();
    if (H5Awrite(a, type, &p) < 0) fail(name);
  }

 private:
  void check(hid_t id, const char* name) {
    if (id < 0) fail(name);
  }
  [[noreturn]] void fail(const char* name) { throw common::InputError(path_, std::string("cannot write ") + name); }
  hid_t file_;
  std::string path_;
  bool checksummed_ = false;
};

// Writes an HDF5 file atomically: `body(writer)` fills a temporary file beside `path`, which is renamed over `path`
// when complete; on any error the temporary file is removed and nothing is left at `path` that was not there.
template <class F>
void write_atomically(const std::string& path, F&& body) {
  Quiet quiet;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    Id file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (file < 0) throw common::InputError(path, "cannot create the file (" + tmp + ")");
    Writer w(file, path);
    body(w);
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) throw common::InputError(path, "cannot flush the file");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw common::InputError(path, "cannot rename " + tmp + " over it");
  }
}

}  // namespace collemu::traces::h5
