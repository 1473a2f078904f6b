// collemu: a GPU-cluster collective traffic emulator. This file only wires the subcommands together.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

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
  collemu::cli::add_run_command(app);
  collemu::cli::add_sweep_command(app);
  collemu::cli::add_topo_command(app);
  collemu::cli::add_bench_command(app);
  collemu::cli::add_coll_command(app);
  collemu::cli::add_trace_command(app);
  collemu::cli::add_calibrate_command(app);
  collemu::cli::add_validate_command(app);
  try {
    // An unknown first word is a misspelt command: say which (CLI11 would only say that one is required).
    if (argc > 1 && argv[1][0] != '-') {
      bool known = false;
      for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
        known = known || sub->check_name(argv[1]);
      if (!known)
        throw collemu::common::UserError(std::string("unknown command '") + argv[1] +
                                         "': expected run, sweep, topo, coll, trace, calibrate, validate or bench "
                                         "('collemu --help' says what each does)");
    }
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // A malformed command line is bad input like any other: our one-line format and exit status 2 (docs/errors.md),
    // naming the command whose --help lists the options.
    std::string where = "collemu";
    for (const CLI::App* sub = &app; sub != nullptr;) {
      const auto parsed = sub->get_subcommands();
      sub = parsed.empty() ? nullptr : parsed.front();
      if (sub != nullptr) where += " " + sub->get_name();
    }
    std::fprintf(stderr, "collemu: error: %s ('%s --help' lists the options)\n",
                 collemu::common::message_for_user(e.what()).c_str(), where.c_str());
    return 2;
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
