#pragma once
// `twinsim run` (run_command.cpp), `twinsim merge` (merge_command.cpp),
// `twinsim compare` (compare_command.cpp) and `twinsim behaviours`
// (behaviours_command.cpp), and what their output shares: KPI values as text
// and aligned tables.

#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include "model_input.hpp"

namespace twinsim::scenario {
class ModelRegistry;
}

namespace twinsim::cli {

/// Exit status when the user interrupted a run (Ctrl-C): 128 + SIGINT, as shells report it.
inline constexpr int exit_interrupted = 130;
/// Stopped by SIGTERM (128 + 15), cleaned up as after Ctrl-C.
inline constexpr int exit_terminated = 143;

/// `behaviours` is the registry the scenarios bind from (main passes the
/// built-in one, models/builtin.hpp); it must outlive the command.
[[nodiscard]] Command add_run_command(CLI::App& app, const scenario::ModelRegistry& behaviours);
/// Lists the behaviours of `behaviours` (which must outlive the command).
[[nodiscard]] Command add_behaviours_command(CLI::App& app, const scenario::ModelRegistry& behaviours);
[[nodiscard]] Command add_merge_command(CLI::App& app);
[[nodiscard]] Command add_compare_command(CLI::App& app);
/// `twinsim calibrate` (calibrate_command.cpp): fit the prognostics model, write its parameters file.
[[nodiscard]] Command add_calibrate_command(CLI::App& app);
/// `twinsim prognostics` (prognostics_command.cpp): predict every degrading twin of a store, write the properties.
[[nodiscard]] Command add_prognostics_command(CLI::App& app);

/// Rows of cells printed as aligned columns, two spaces apart; widths count
/// UTF-8 code points, so "°C" takes two columns. Right-aligned columns suit numbers.
class TextTable {
public:
    explicit TextTable(std::vector<std::string> header, std::vector<bool> right_aligned = {});
    void add(std::vector<std::string> row);
    [[nodiscard]] bool empty() const noexcept { return rows_.empty(); }
    /// The header, a rule of dashes, then the rows; trailing blanks trimmed.
    void print(std::ostream& out, const std::string& indent = "") const;

private:
    std::vector<std::string> header_;
    std::vector<bool> right_;
    std::vector<std::vector<std::string>> rows_;
};

/// Columns a UTF-8 string takes on a terminal (code points; no wide characters).
[[nodiscard]] std::size_t display_width(const std::string& text);

/// Decimals to show a KPI with: enough for two significant digits of the
/// confidence interval's half-width when there is one, else four significant
/// digits (none for a whole number). -1 asks for scientific notation (very
/// large or very small magnitudes).
[[nodiscard]] int kpi_decimals(double mean, double ci95_low, double ci95_high);

/// `value` with `decimals` (or %.3e when decimals < 0); "-" for NaN; "+" in
/// front of positive values when `sign`.
[[nodiscard]] std::string format_kpi(double value, int decimals, bool sign = false);

/// "[low, high]" with `decimals`, or "-" when either bound is NaN.
[[nodiscard]] std::string format_interval(double low, double high, int decimals);

}  // namespace twinsim::cli
