#pragma once
// The bounds a scenario and a job must stay within, so that a small file
// cannot ask for unbounded memory or time. Each is checked before anything
// large is allocated or any run starts, and the error names the limit and
// the field. docs/scenario-format.md ("Limits") lists them.

#include <cstdint>

namespace twinsim::scenario::limits {

/// A scenario document (a file, or text given to scenario_from_yaml /
/// scenario_from_json_text) at most this many bytes (16 MiB).
inline constexpr std::uint64_t max_document_bytes = std::uint64_t{16} << 20;
/// RunnerOptions::threads (and `twinsim run --threads`) at most this.
inline constexpr unsigned max_threads = 256;
/// `replications:` (and --replications) at most this.
inline constexpr std::uint64_t max_replications = 1'000'000;
/// Design points of one sweep (a grid's product of list sizes, a list's
/// points, a Latin hypercube's samples) at most this.
inline constexpr std::uint64_t max_sweep_points = 100'000;
/// Runs of one scenario file (design points x replications) at most this.
inline constexpr std::uint64_t max_runs = 10'000'000;
/// Continuous-physics steps of one run (horizon / step) at most this.
inline constexpr double max_steps = 1e9;
/// Samples of one interval series of one run (horizon / interval + 1) at most this.
inline constexpr double max_samples = 1e7;
/// Expected random events of one run (a rate parameter, in 1/s, 1/min, 1/h
/// or 1/d, times the horizon and the number of twins it applies to, summed
/// over the bindings) at most this.
inline constexpr double max_expected_events = 1e9;
/// Entries of a `replay.inputs` list at most this (a `where` entry counts once).
inline constexpr std::uint64_t max_replay_inputs = 100'000;

}  // namespace twinsim::scenario::limits
