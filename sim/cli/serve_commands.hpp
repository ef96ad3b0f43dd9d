#pragma once
// `twinsim serve` (serve_command.cpp): the ADT REST service over a store;
// `twinsim token` (token_command.cpp): bearer tokens for it.

#include "model_input.hpp"

namespace twinsim::cli {

[[nodiscard]] Command add_serve_command(CLI::App& app);
[[nodiscard]] Command add_token_command(CLI::App& app);

}  // namespace twinsim::cli
