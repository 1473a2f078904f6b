// timeline.json: a replayed step in the Chrome / Perfetto trace-event format (the "JSON Array/Object Format" of the
// Trace Event Format document; ui.perfetto.dev and chrome://tracing open it). One process per job with two tracks per
// recorded rank (its compute, and its communication: collectives from arrival to end, receives from post to end),
// complete ("X") events in microseconds, and a process of counter ("C") tracks with each tier's utilisation over
// time. Written atomically (temp + rename).
#pragma once

#include <string>
#include <vector>

#include "analysis/summary.hpp"
#include "emulator/replay.hpp"

namespace collemu::analysis {

// `jobs` names the communicators; only the ranks the replay recorded (ReplayOptions::record_ranks for job 0,
// record_job_ranks for the others) have tracks. otherData gives every job's step and, as step_time_s, the last end.
// Throws common::InputError naming the file when it cannot be written.
void write_timeline(const std::string& path, const emulator::ReplayReport& report, const StepSummary& summary,
                    const std::vector<emulator::Job>& jobs);

}  // namespace collemu::analysis
