#pragma once
// `twinsim serve` (serve_command.cpp): the ADT REST service over a store.

#include "model_input.hpp"

namespace twinsim::cli {

[[nodiscard]] Command add_serve_command(CLI::App& app);

}  // namespace twinsim::cli
