// twinsim-bench hdf5: recorded-series writes through the AsyncResultsWriter
// (several producer threads, per-replication time blocks) with compression on
// (the default) and off, beside a plain C-API H5Dwrite of the same blocks into
// one dataset with the same chunks and filters, in interleaved rounds of the
// same run. Reports median wall and CPU seconds, MB/s of raw series and each
// file's size against the raw bytes it holds.

#include <hdf5.h>
#include <hdf5_hl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <unistd.h>
#include <vector>

#include "bench_support.hpp"
#include "twinsim/io/async_results_writer.hpp"

namespace twinsim::bench {
namespace {

/// Room temperatures as the building's relaxation model records them: each
/// twin relaxes toward its own setpoint with a daily swing and random
/// disturbances (an AR(1) process), every 15 minutes. Deterministic per
/// (replication, step, twin), so every writer gets the same values in any
/// block order, and as hard to compress as real recordings (full-precision
/// noise in every value), not a ramp that compresses by accident.
double temperature(std::uint32_t replication, std::uint64_t step, std::size_t twin) {
    Random random((std::uint64_t{replication} << 40U) ^ (step << 20U) ^ twin);
    const double setpoint = 21.0 + 0.5 * static_cast<double>(twin % 7);
    const double swing = 1.5 * std::sin(2.0 * 3.141592653589793 * static_cast<double>(step % 96) / 96.0);
    return setpoint + swing + random.uniform(-0.3, 0.3);
}

void fill_block(std::vector<double>& block, std::uint32_t replication, std::uint64_t first, std::size_t twins) {
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = temperature(replication, first + i / twins, i % twins);
}

struct Measured {
    double wall = 0.0;
    double cpu = 0.0;
    std::uintmax_t bytes = 0;
};

Measured async_write(const Hdf5Options& options, int deflate, const std::filesystem::path& path) {
    std::vector<std::string> twins(options.twins);
    for (std::size_t n = 0; n < twins.size(); ++n) twins[n] = "twin-" + std::to_string(n);
    std::vector<double> times(options.times);
    for (std::size_t t = 0; t < times.size(); ++t) times[t] = 900.0 * static_cast<double>(t);

    const double cpu_before = process_cpu_used();
    const auto start = std::chrono::steady_clock::now();
    io::WriterOptions writer_options;
    writer_options.sync = false;
    writer_options.deflate = deflate;
    io::AsyncResultsWriter writer(path, {"bench", "bench", "twinsim-bench hdf5"}, writer_options,
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
    Measured m{seconds_since(start), process_cpu_used() - cpu_before, std::filesystem::file_size(path)};
    return m;
}

/// The same blocks, written one after the other from this thread with the
/// plain C API into one dataset with the chunk shape and filters the results
/// writer chose (read back from its file), the fastest way to put these bytes
/// into HDF5 with that layout.
Measured raw_write(const Hdf5Options& options, const std::vector<hsize_t>& chunk, int deflate,
                   const std::filesystem::path& path) {
    const double cpu_before = process_cpu_used();
    const auto start = std::chrono::steady_clock::now();
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) throw std::runtime_error("H5Fcreate failed: " + path.string());
    const hsize_t dims[3] = {options.replications, options.times, options.twins};
    const hid_t space = H5Screate_simple(3, dims, nullptr);
    const hid_t create = H5Pcreate(H5P_DATASET_CREATE);
    herr_t status = H5Pset_chunk(create, 3, chunk.data());
    if (deflate > 0) status |= H5Pset_shuffle(create) | H5Pset_deflate(create, static_cast<unsigned>(deflate));
    const hid_t dataset = H5Dcreate2(file, "data", H5T_IEEE_F64LE, space, H5P_DEFAULT, create, H5P_DEFAULT);
    if (dataset < 0) throw std::runtime_error("H5Dcreate2 failed");
    std::vector<double> block;
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
    return {seconds_since(start), process_cpu_used() - cpu_before, std::filesystem::file_size(path)};
}

/// The chunk shape of the series the results writer wrote to `path`.
std::vector<hsize_t> chunk_of(const std::filesystem::path& path) {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) throw std::runtime_error("cannot open " + path.string());
    const hid_t dataset = H5Dopen2(file, "bench/series/Room.temperature/Room.temperature", H5P_DEFAULT);
    const hid_t plist = dataset < 0 ? -1 : H5Dget_create_plist(dataset);
    std::vector<hsize_t> chunk(3, 0);
    const int rank = plist < 0 ? -1 : H5Pget_chunk(plist, 3, chunk.data());
    if (plist >= 0) H5Pclose(plist);
    if (dataset >= 0) H5Dclose(dataset);
    H5Fclose(file);
    if (rank != 3) throw std::runtime_error("cannot read the series' chunk shape from " + path.string());
    return chunk;
}

struct Side {
    explicit Side(std::string side_name) : name(std::move(side_name)) {}
    std::string name;
    std::vector<double> wall, cpu;
    std::uintmax_t bytes = 0;
};

nlohmann::json report(const Side& side, double megabytes, double raw_bytes) {
    const double wall = stats(side.wall).median;
    const double cpu = stats(side.cpu).median;
    return {{"median_seconds", wall},
            {"median_cpu_seconds", cpu},
            {"mb_per_second", megabytes / wall},
            {"mb_per_cpu_second", megabytes / cpu},
            {"file_bytes", side.bytes},
            {"file_over_raw", static_cast<double>(side.bytes) / raw_bytes}};
}

}  // namespace

int run_hdf5(const Hdf5Options& options) {
    const std::filesystem::path directory =
        options.directory.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(options.directory);
    const std::string stem = "twinsim-bench-hdf5-" + std::to_string(::getpid());
    const std::filesystem::path path = directory / (stem + ".h5");
    const double raw_bytes = static_cast<double>(options.replications) * static_cast<double>(options.times) *
                             static_cast<double>(options.twins) * sizeof(double);
    const double megabytes = raw_bytes / 1e6;
    const int level = options.deflate >= 0 ? options.deflate : io::WriterOptions{}.deflate;  // default: on
    Side on("async_deflate"), off("async_uncompressed"), raw_on("raw_deflate"), raw_off("raw_uncompressed");
    std::vector<hsize_t> chunk;
    const MachineNote machine = machine_note();
    try {
        // Interleaved rounds, so load and page-cache state favour no side; medians.
        for (int i = 0; i < options.repeat; ++i) {
            for (Side* side : {&on, &off}) {
                const Measured m = async_write(options, side == &on ? level : 0, path);
                if (chunk.empty()) chunk = chunk_of(path);
                std::filesystem::remove(path);
                side->wall.push_back(m.wall);
                side->cpu.push_back(m.cpu);
                side->bytes = m.bytes;
            }
            for (Side* side : {&raw_on, &raw_off}) {
                const Measured m = raw_write(options, chunk, side == &raw_on ? level : 0, path);
                std::filesystem::remove(path);
                side->wall.push_back(m.wall);
                side->cpu.push_back(m.cpu);
                side->bytes = m.bytes;
            }
        }
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
        throw;
    }
    nlohmann::json j{{"benchmark", "hdf5"},
                     {"replications", options.replications},
                     {"times", options.times},
                     {"twins", options.twins},
                     {"block_times", options.block_times},
                     {"producers", options.producers},
                     {"queue", options.queue},
                     {"raw_bytes", raw_bytes},
                     {"megabytes", megabytes},
                     {"chunk", chunk},
                     {"deflate_level", level},
                     {"rounds", options.repeat},
                     {"statistic", "median of interleaved rounds"},
                     {"directory", directory.string()},
                     {"cpu", machine.cpu},
                     {"cores", machine.cores},
                     {"load_average", load_averages()}};
    j[on.name] = report(on, megabytes, raw_bytes);
    j[off.name] = report(off, megabytes, raw_bytes);
    j[raw_on.name] = report(raw_on, megabytes, raw_bytes);
    j[raw_off.name] = report(raw_off, megabytes, raw_bytes);
    j["deflate_over_raw_deflate"] = stats(raw_on.wall).median / stats(on.wall).median;  // > 1: faster than the peer
    j["uncompressed_over_raw_uncompressed"] = stats(raw_off.wall).median / stats(off.wall).median;
    j["compressed_over_uncompressed_seconds"] = stats(on.wall).median / stats(off.wall).median;
    std::cout << j.dump() << '\n';
    return exit_ok;
}

}  // namespace twinsim::bench
