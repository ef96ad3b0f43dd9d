// twinsim-bench hdf5: recorded-series write throughput through the
// AsyncResultsWriter (several producer threads, per-replication time blocks)
// beside a raw H5Dwrite of the same bytes into one chunked dataset, same run.

#include <hdf5.h>
#include <hdf5_hl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "bench_support.hpp"
#include "twinsim/io/async_results_writer.hpp"

namespace twinsim::bench {
namespace {

/// The values of one block (replication r, steps [first, first + count)):
/// cheap to generate, different per block so nothing compresses by accident.
void fill_block(std::vector<double>& block, std::uint32_t replication, std::uint64_t first, std::size_t twins) {
    for (std::size_t i = 0; i < block.size(); ++i)
        block[i] = static_cast<double>(replication) * 1e6 + static_cast<double>(first * twins + i) * 0.001;
}

double async_write(const Hdf5Options& options, const std::filesystem::path& path) {
    std::vector<std::string> twins(options.twins);
    for (std::size_t n = 0; n < twins.size(); ++n) twins[n] = "twin-" + std::to_string(n);
    std::vector<double> times(options.times);
    for (std::size_t t = 0; t < times.size(); ++t) times[t] = 60.0 * static_cast<double>(t);

    const auto start = std::chrono::steady_clock::now();
    io::AsyncResultsWriter writer(path, {"bench", "bench", "twinsim-bench hdf5"}, {.overwrite = true, .sync = false},
                                  static_cast<std::size_t>(options.queue));
    writer.define_scenario({"bench", "", "{}", "{}", 1, options.replications, "2024-07-01T00:00:00Z"});
    writer.define_series("bench", {"Room.temperature", "degC", twins, times, "", "", ""});
    std::atomic<std::uint32_t> next{0};
    std::vector<std::thread> producers;
    for (int p = 0; p < options.producers; ++p) {
        producers.emplace_back([&] {
            for (std::uint32_t r = next++; r < options.replications; r = next++) {
                for (std::uint64_t first = 0; first < options.times; first += options.block_times) {
                    const std::size_t count = std::min<std::uint64_t>(options.block_times, options.times - first);
                    std::vector<double> block(count * options.twins);
                    fill_block(block, r, first, options.twins);
                    writer.write_series_block("bench", "Room.temperature", r, first, std::move(block));
                }
            }
        });
    }
    for (std::thread& producer : producers) producer.join();
    writer.close();
    return seconds_since(start);
}

/// The same blocks, written one after the other from this thread with the
/// plain C API into one dataset chunked as ResultsWriter chunks series.
double raw_write(const Hdf5Options& options, const std::filesystem::path& path) {
    const auto start = std::chrono::steady_clock::now();
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) throw std::runtime_error("H5Fcreate failed: " + path.string());
    const hsize_t dims[3] = {options.replications, options.times, options.twins};
    const hsize_t twin_chunk = std::min<hsize_t>(options.twins, 32768);
    const hsize_t chunk[3] = {1, std::min<hsize_t>(options.times, std::max<hsize_t>(1, 32768 / twin_chunk)), twin_chunk};
    const hid_t space = H5Screate_simple(3, dims, nullptr);
    const hid_t create = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(create, 3, chunk);
    const hid_t dataset = H5Dcreate2(file, "data", H5T_IEEE_F64LE, space, H5P_DEFAULT, create, H5P_DEFAULT);
    if (dataset < 0) throw std::runtime_error("H5Dcreate2 failed");
    std::vector<double> block;
    herr_t status = 0;
    for (std::uint32_t r = 0; r < options.replications; ++r) {
        for (std::uint64_t first = 0; first < options.times; first += options.block_times) {
            const hsize_t count = std::min<std::uint64_t>(options.block_times, options.times - first);
            block.resize(count * options.twins);
            fill_block(block, r, first, options.twins);
            const hsize_t offset[3] = {r, first, 0};
            const hsize_t size[3] = {1, count, options.twins};
            const hid_t file_space = H5Dget_space(dataset);
            status |= H5Sselect_hyperslab(file_space, H5S_SELECT_SET, offset, nullptr, size, nullptr);
            const hsize_t total = block.size();
            const hid_t memory = H5Screate_simple(1, &total, nullptr);
            status |= H5Dwrite(dataset, H5T_NATIVE_DOUBLE, memory, file_space, H5P_DEFAULT, block.data());
            H5Sclose(memory);
            H5Sclose(file_space);
        }
    }
    H5Dclose(dataset);
    H5Pclose(create);
    H5Sclose(space);
    status |= H5Fclose(file);
    if (status < 0) throw std::runtime_error("raw HDF5 write failed");
    return seconds_since(start);
}

}  // namespace

int run_hdf5(const Hdf5Options& options) {
    const std::filesystem::path directory =
        options.directory.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(options.directory);
    const std::string stem = "twinsim-bench-hdf5-" + std::to_string(::getpid());
    const std::filesystem::path async_path = directory / (stem + "-async.h5");
    const std::filesystem::path raw_path = directory / (stem + "-raw.h5");
    const double megabytes = static_cast<double>(options.replications) * static_cast<double>(options.times) *
                             static_cast<double>(options.twins) * sizeof(double) / 1e6;
    double async_seconds = 0.0;
    double raw_seconds = 0.0;
    try {
        // Alternate so page-cache state favours neither; best of `repeat`.
        std::vector<double> async_runs, raw_runs;
        for (int i = 0; i < options.repeat; ++i) {
            raw_runs.push_back(raw_write(options, raw_path));
            std::filesystem::remove(raw_path);
            async_runs.push_back(async_write(options, async_path));
            std::filesystem::remove(async_path);
        }
        async_seconds = stats(async_runs).min;
        raw_seconds = stats(raw_runs).min;
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(async_path, ignored);
        std::filesystem::remove(raw_path, ignored);
        throw;
    }
    const double async_mbps = megabytes / async_seconds;
    const double raw_mbps = megabytes / raw_seconds;
    nlohmann::json j{{"benchmark", "hdf5"},
                     {"replications", options.replications},
                     {"times", options.times},
                     {"twins", options.twins},
                     {"block_times", options.block_times},
                     {"producers", options.producers},
                     {"queue", options.queue},
                     {"megabytes", megabytes},
                     {"repeat", options.repeat},
                     {"directory", directory.string()},
                     {"async_seconds", async_seconds},
                     {"async_mb_per_second", async_mbps},
                     {"raw_seconds", raw_seconds},
                     {"raw_mb_per_second", raw_mbps},
                     {"async_over_raw", async_mbps / raw_mbps}};
    std::cout << j.dump() << '\n';
    return exit_ok;
}

}  // namespace twinsim::bench
