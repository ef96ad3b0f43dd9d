#pragma once
// What the scenario tests share: catching the ScenarioError a call must throw.
#include <catch2/catch.hpp>

#include "twinsim/scenario/errors.hpp"

namespace twinsim::test {

/// Runs `f`, which must throw scenario::ScenarioError; returns it (FAILs otherwise).
template <class F>
scenario::ScenarioError scenario_error_of(F&& f) {
    try {
        f();
    } catch (const scenario::ScenarioError& e) {
        return e;
    }
    FAIL("no ScenarioError");
    return scenario::ScenarioError("", 0, "", "");
}

}  // namespace twinsim::test
