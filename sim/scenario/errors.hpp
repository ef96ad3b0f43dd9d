#pragma once
// The scenario layer's exception: a scenario file or spec that cannot be used.

#include <cstdint>
#include <string>
#include <utility>

#include "twinsim/common/error.hpp"

namespace twinsim::scenario {

/// A bad scenario: what() = "<file>:<line>: <field>: <reason>" (the file and
/// line parts are left out when unknown, e.g. for a spec built from JSON in
/// memory; "<file>:<line>:<column>: ..." when the column is known, as for a
/// syntax error). field() is the dotted path of the offending entry, such as
/// "overrides[0].where" or "sweep.grid.capacity".
class ScenarioError : public Error {
public:
    ScenarioError(std::string file, std::uint32_t line, std::string field, std::string reason);
    ScenarioError(std::string file, std::uint32_t line, std::uint32_t column, std::string field, std::string reason);
    /// 1-based column in line(), 0 when unknown.
    [[nodiscard]] std::uint32_t column() const noexcept { return column_; }
    [[nodiscard]] const std::string& file() const noexcept { return file_; }
    /// 1-based line in file(), 0 when unknown.
    [[nodiscard]] std::uint32_t line() const noexcept { return line_; }
    [[nodiscard]] const std::string& field() const noexcept { return field_; }
    [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

private:
    std::string file_;
    std::uint32_t line_;
    std::uint32_t column_ = 0;
    std::string field_;
    std::string reason_;
};

}  // namespace twinsim::scenario
