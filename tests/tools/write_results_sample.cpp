// twinsim_results_sample: writes a small, deterministic results file for the
// Python tests (tests/python/test_results.py holds the same values).
//
//   twinsim_results_sample PATH          write PATH (exit 0)
//   twinsim_results_sample --fail PATH   start PATH, write part of it, then fail:
//                                        the writer is discarded and exit is 3;
//                                        neither PATH nor a temporary file remains.
//
// Series values follow value = 100 * scenario + 10 * series + replication
// + 0.5 * time_index + 0.25 * twin_index (exact in binary), except the cell
// (baseline, Room.temperature, replication 2, time index 6), left unwritten (NaN).

#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "twinsim/io/results_writer.hpp"

namespace {

using namespace twinsim::io;

double value(int scenario, int series, std::uint32_t replication, std::uint64_t time, std::size_t twin) {
    return 100.0 * scenario + 10.0 * series + replication + 0.5 * static_cast<double>(time) +
           0.25 * static_cast<double>(twin);
}

/// Writes time steps [first, last) of one replication of a series in one block.
void write_block(ResultsWriter& writer, const std::string& scenario, int scenario_index, const std::string& series,
                 int series_index, std::size_t twins, std::uint32_t replication, std::uint64_t first,
                 std::uint64_t last, double seconds_per_step, bool extendable) {
    std::vector<double> values;
    std::vector<double> times;
    for (std::uint64_t t = first; t < last; ++t) {
        for (std::size_t n = 0; n < twins; ++n) values.push_back(value(scenario_index, series_index, replication, t, n));
        if (extendable) times.push_back(seconds_per_step * static_cast<double>(t));
    }
    writer.write_series_block(scenario, series, replication, first, values, times);
}

std::vector<double> fixed_times(int count, double step) {
    std::vector<double> times;
    for (int t = 0; t < count; ++t) times.push_back(step * t);
    return times;
}

int write_sample(const std::string& path, bool fail) {
    ResultsWriter writer(path, {"sample/building.ndjson", "sha256:5a3c0ffee", "twinsim results sample"});
    const std::vector<std::string> rooms = {"room-1", "room-2", "room-3"};
    const std::vector<std::string> chillers = {"chiller-1", "chiller-2"};
    const std::string room_model = "dtmi:twinsim:building:Room;1";

    // Scenario 0: three replications, a fixed room axis and an extendable chiller axis.
    writer.define_scenario({"baseline", "Normal operation",
                            R"({"name":"baseline","horizon":3600,"step":600,"replications":3,"seed":42})",
                            R"({"setpoint":21.0})", 42, 3, "2024-07-01T00:00:00Z"});
    writer.define_series("baseline", {"Room.temperature", "degC", rooms, fixed_times(7, 600.0), room_model,
                                      "temperature", "Room air temperature"});
    writer.define_series("baseline", {"Room.setpoint", "degC", rooms, fixed_times(7, 600.0), room_model, "setpoint",
                                      ""});
    writer.define_series("baseline", {"Chiller.power", "W", chillers, {}, "dtmi:twinsim:building:Chiller;1", "power",
                                      "Electrical power"});
    for (std::uint32_t r = 0; r < 3; ++r) {
        write_block(writer, "baseline", 0, "Room.temperature", 0, 3, r, 0, 4, 600.0, false);
        write_block(writer, "baseline", 0, "Room.temperature", 0, 3, r, 4, r == 2 ? 6 : 7, 600.0, false);
        write_block(writer, "baseline", 0, "Room.setpoint", 1, 3, r, 0, 7, 600.0, false);
        write_block(writer, "baseline", 0, "Chiller.power", 2, 2, r, 0, 5, 900.0, true);
        write_block(writer, "baseline", 0, "Chiller.power", 2, 2, r, 5, 10, 900.0, true);
        if (fail && r == 1) {
            std::cerr << "twinsim_results_sample: failing on purpose after replication 1\n";
            writer.discard();
            return 3;
        }
    }
    const std::vector<EventRecord> baseline_events = {
        {0, 1200.0, "chiller-1", "failure", R"({"mode":"trip"})"},
        {0, 2400.0, "chiller-1", "repair", ""},
        {1, 300.0, "", "alarm", R"({"level":"high"})"},
        {2, 0.0, "room-2", "rule", "{}"},
    };
    writer.append_events("baseline", baseline_events);
    const std::vector<KpiRow> baseline_kpis = {
        {"mean_temperature", "room-1", "mean", 0, "", 20.5, "degC"},
        {"mean_temperature", "room-1", "mean", 1, "", 21.5, "degC"},
        {"mean_temperature", "room-1", "mean", 2, "", 22.5, "degC"},
        {"mean_temperature", "room-1", "mean", all_replications, "mean", 21.5, "degC"},
        {"mean_temperature", "room-1", "mean", all_replications, "std", 1.0, "degC"},
        {"mean_temperature", "room-1", "mean", all_replications, "ci95_low", 19.015, "degC"},
        {"mean_temperature", "room-1", "mean", all_replications, "ci95_high", 23.985, "degC"},
        {"mean_temperature", "room-1", "mean", all_replications, "n", 3.0, "1"},
    };
    writer.write_kpis("baseline", baseline_kpis);

    // Scenario 1: two replications, a later start, two series on the same axes.
    writer.define_scenario({"chiller_failure", "chiller-1 trips at 30 min",
                            R"({"name":"chiller_failure","horizon":1800,"step":300,"replications":2,"seed":43,)"
                            R"("events":[{"time":1800,"twin":"chiller-1","type":"failure"}]})",
                            R"({"failure_time":1800})", 43, 2, "2024-07-01T06:30:00Z"});
    writer.define_series("chiller_failure", {"Room.temperature", "degC", rooms, fixed_times(7, 300.0), room_model,
                                             "temperature", "Room air temperature"});
    writer.define_series("chiller_failure", {"Room.setpoint", "degC", rooms, fixed_times(7, 300.0), room_model,
                                             "setpoint", ""});
    for (std::uint32_t r = 0; r < 2; ++r) {
        write_block(writer, "chiller_failure", 1, "Room.temperature", 0, 3, r, 0, 7, 300.0, false);
        write_block(writer, "chiller_failure", 1, "Room.setpoint", 1, 3, r, 0, 7, 300.0, false);
    }
    const std::vector<EventRecord> failure_events = {
        {0, 1800.0, "chiller-1", "failure", R"({"injected":true})"},
        {1, 1800.0, "chiller-1", "failure", R"({"injected":true})"},
        {1, 1500.5, "", "alarm", R"({"level":"low"})"},
    };
    writer.append_events("chiller_failure", failure_events);
    const std::vector<KpiRow> failure_kpis = {
        {"hot_hours", "IS_OF_MODEL('dtmi:twinsim:building:Room;1')", "time_above", 0, "", 0.25, "h"},
        {"hot_hours", "IS_OF_MODEL('dtmi:twinsim:building:Room;1')", "time_above", 1, "", 0.75, "h"},
        {"hot_hours", "IS_OF_MODEL('dtmi:twinsim:building:Room;1')", "time_above", all_replications, "mean", 0.5, "h"},
        {"failures", "chiller-1", "count", 0, "", 1.0, "1"},
        {"failures", "chiller-1", "count", 1, "", 1.0, "1"},
    };
    writer.write_kpis("chiller_failure", failure_kpis);
    writer.close();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    bool fail = false;
    std::vector<std::string> paths;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--fail") == 0)
            fail = true;
        else
            paths.emplace_back(argv[i]);
    }
    if (paths.size() != 1) {
        std::cerr << "usage: twinsim_results_sample [--fail] PATH\n";
        return 2;
    }
    try {
        return write_sample(paths.front(), fail);
    } catch (const std::exception& e) {
        std::cerr << "twinsim_results_sample: " << e.what() << '\n';
        return 1;
    }
}
