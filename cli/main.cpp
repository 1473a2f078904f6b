// collemu: a GPU-cluster collective traffic emulator. This file only wires the subcommands together.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "cli/bench_command.hpp"
#include "cli/calibrate_command.hpp"
#include "cli/coll_command.hpp"
#include "cli/run_command.hpp"
#include "cli/sweep_command.hpp"
#include "cli/topo_command.hpp"
#include "cli/trace_command.hpp"
#include "cli/validate_command.hpp"
#include "common/error.hpp"
#include "common/memory.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "collemu: predicts collective and training-step times on AI backend fabrics (DSF/NSF planes, BAG "
      "super-spine) from NCCL traces, with max-min fair flow rates."};
  app.set_version_flag("--version", "collemu 0.1.0");
  app.require_subcommand(1);
  // CLI11's own parse errors quote the offending argument too: shortened the same way as ours.
  app.failure_message([](const CLI::App* a, const CLI::Error& e) {
    return collemu::common::message_for_user(CLI::FailureMessage::simple(a, e));
  });
  collemu::cli::add_run_command(app);
  collemu::cli::add_sweep_command(app);
  collemu::cli::add_topo_command(app);
  collemu::cli::add_bench_command(app);
  collemu::cli::add_coll_command(app);
  collemu::cli::add_trace_command(app);
  collemu::cli::add_calibrate_command(app);
  collemu::cli::add_validate_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const collemu::common::UserError& e) {  // bad input of any layer: a config, an option, a trace
    std::fprintf(stderr, "collemu: error: %s\n", collemu::common::message_for_user(e.what()).c_str());
    // Straight out: a damaged HDF5 file can leave libhdf5 unable to close it, and its exit handler would then print
    // its own noise after our message ("infinite loop closing library"). Nothing is left to write by now.
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(2);
  } catch (const collemu::common::InternalError& e) {
    std::fprintf(stderr, "collemu: %s\nplease report this as a bug\n", e.what());
    return 70;
  } catch (const std::bad_alloc&) {  // an estimate missed: say so plainly
    std::fprintf(stderr, "collemu: error: out of memory: the request needs more than this process may use (%s: the "
                         "smaller of physical memory and its cgroup limit); ask for less or a larger machine\n",
                 collemu::common::format_bytes(static_cast<double>(collemu::common::available_memory_bytes())).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "collemu: error: %s\n", collemu::common::message_for_user(e.what()).c_str());
    return 1;
  }
  return 0;
}
