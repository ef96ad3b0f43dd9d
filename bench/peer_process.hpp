#pragma once
// Running a benchmark's peer: a script in another language (Python with NumPy,
// SciPy, SimPy, ...) started as a child process that prints one JSON document.

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace twinsim::bench {

/// `word` quoted for /bin/sh: inside single quotes, each ' written as '\''.
[[nodiscard]] std::string shell_quoted(std::string_view word);

/// Runs `environment` (assignments such as "OMP_NUM_THREADS=1", may be empty)
/// followed by `words` (the program and its arguments, each quoted) through
/// /bin/sh, and parses what it prints on stdout as one JSON document; its
/// stderr stays the benchmark's. On failure (cannot start, non-zero exit,
/// output that is not JSON) returns null and sets `error` to the command and
/// the first 2,000 characters of what it printed.
[[nodiscard]] nlohmann::json run_peer_json(const std::vector<std::string>& words, std::string& error,
                                           std::string_view environment = {});

}  // namespace twinsim::bench
