// The native trace format: one HDF5 file, schema in docs/trace-format.md (version 2). Columns, not records: each op
// field is its own dataset, so h5py and pandas read them as arrays. Programs shared by symmetric ranks are stored
// once, so a 32,768-rank trace of a 3D-parallel step stays small.
//
// This part of traces/ links HDF5; the core library (collemu_traces) does not: it is its own target,
// collemu_traces_hdf5, which the CLI links.
#pragma once

#include <string>

#include "traces/trace.hpp"

namespace collemu::traces {

inline constexpr int kTraceFormatVersion = 3;  // written; versions 1 (no checksums) and 2 are still read

// Writes atomically: a temporary file beside `path`, renamed over it when complete. Throws common::InputError when
// the file cannot be written.
void write_hdf5_trace(const Trace& t, const std::string& path);

// Throws common::InputError naming the file, and the dataset and index where it applies, for a file that is not a
// collemu trace, has another version, lacks a dataset, or holds values out of range (a corrupt or hand-edited file).
// A file without checksums (version 1) is read in a child process (fork), so that libhdf5 crashing on its damage ends
// in that error too; version 2 is read here, its damage found by libhdf5's checksums. Damage to a version-1 file's
// data cannot be found: reading one adds a warning to `report` that says so.
Trace read_hdf5_trace(const std::string& path, ReadReport* report = nullptr);

// Whether the file starts with HDF5's signature.
bool looks_like_hdf5(const std::string& head);

}  // namespace collemu::traces
