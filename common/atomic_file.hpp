// Writing a file atomically (DESIGN.md §7): the bytes go to a temporary file beside `path`, renamed over it once
// complete, so that a reader (or a kill -9) never sees half a file. Standard library (and POSIX getpid) only.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace collemu::common {

// Throws InputError naming `path` when it cannot be written; no temporary file is left behind.
inline void write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw InputError(path, "cannot create the file (" + tmp + ")");
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f.flush()) {
      f.close();
      std::remove(tmp.c_str());
      throw InputError(path, "cannot write the file");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(path, "cannot rename " + tmp + " over it");
  }
}

}  // namespace collemu::common
