#pragma once
// TWINSIM_ASSERT: the always-on check of an internal invariant (on in Release
// builds too). A failure is a bug in twinsim, not bad input: it prints the
// condition, the file and line, and an optional message to stderr, then
// aborts, so the broken state is never written to a graph, store or results
// file. Bad input and a caller's misuse are not asserted: they throw a named
// twinsim::Error subclass (common/error.hpp) whose message says what, where
// and why.
//
//   TWINSIM_ASSERT(row < table.rows);
//   TWINSIM_ASSERT(slot != nullptr, "a layout lists every column it holds");
//
// The condition is evaluated exactly once; the message, a const char* or
// std::string_view, only when the condition fails.

#include <string_view>

namespace twinsim::detail {

/// Reports a failed TWINSIM_ASSERT on stderr and aborts (SIGABRT).
[[noreturn]] void assertion_failed(const char* condition, const char* file, int line,
                                   std::string_view message = {}) noexcept;

}  // namespace twinsim::detail

#define TWINSIM_ASSERT(condition, ...)                                                                 \
    (static_cast<bool>(condition)                                                                      \
         ? static_cast<void>(0)                                                                        \
         : ::twinsim::detail::assertion_failed(#condition, __FILE__, __LINE__ __VA_OPT__(, ) __VA_ARGS__))
