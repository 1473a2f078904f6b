#include "tests/fuzz/fuzz_readers.hpp"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>

#include "common/error.hpp"
#include "models/builder.hpp"
#include "models/config.hpp"
#include "traces/chakra.hpp"
#include "traces/flight_recorder.hpp"
#include "traces/hdf5_trace.hpp"
#include "traces/kineto.hpp"
#include "traces/nccl_log.hpp"

namespace collemu::fuzz {

const std::vector<std::string>& reader_names() {
  static const std::vector<std::string> names = {"nccl_log", "kineto", "chakra", "flight_recorder", "h5", "config"};
  return names;
}

bool read_bytes(const std::string& reader, const std::uint8_t* data, std::size_t size) {
  // One file per process and reader; the Chakra reader wants a ".<rank>.et" name.
  const std::string path = "/tmp/collemu-fuzz-" + std::to_string(getpid()) + "-" + reader +
                           (reader == "config" ? ".yaml" : reader == "h5" ? ".h5" : ".0.et");
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write " + path);
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  bool accepted = true;
  try {
    traces::Trace t;
    if (reader == "config") {
      // A fabric config file: parsed, every key read, and built when it is small (a fuzzed size must not make the run
      // a benchmark of the builder).
      const auto c = models::FabricConfig::from_file(path);
      for (const auto& k : models::config_keys()) (void)c.text(k.name);
      if (double(c.count("regions")) * double(c.count("region.buildings")) * double(c.count("building.gpus")) <= 4096)
        models::build_fabric(c);
      std::remove(path.c_str());
      return true;
    }
    if (reader == "nccl_log") t = traces::read_nccl_logs({path});
    else if (reader == "kineto") t = traces::read_kineto({path});
    else if (reader == "chakra") t = traces::read_chakra({path});
    else if (reader == "flight_recorder") t = traces::read_flight_recorder({path});
    else if (reader == "h5") t = traces::read_hdf5_trace(path);
    else throw std::invalid_argument("no reader " + reader);
    traces::check_consistency(t);
  } catch (const common::InputError&) {
    accepted = false;
  }
  std::remove(path.c_str());
  return accepted;
}

}  // namespace collemu::fuzz
