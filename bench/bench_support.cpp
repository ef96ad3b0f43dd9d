#include "bench_support.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iostream>
#include <system_error>
#include <thread>

#include <nlohmann/json.hpp>

#include "twinsim/graph/twin_graph.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace twinsim::bench {

Stats stats(std::vector<double> seconds) {
    std::sort(seconds.begin(), seconds.end());
    const std::size_t n = seconds.size();
    const double middle = n % 2 == 1 ? seconds[n / 2] : (seconds[n / 2 - 1] + seconds[n / 2]) / 2.0;
    return {seconds.front(), middle};
}

double median(std::vector<double> sample) {
    return sample.empty() ? std::nan("") : stats(std::move(sample)).median;
}

double percentile(std::vector<double> sample, double p) {
    if (sample.empty()) return 0.0;
    std::sort(sample.begin(), sample.end());
    const auto k = static_cast<std::size_t>(p * static_cast<double>(sample.size() - 1) + 0.5);
    return sample[std::min(k, sample.size() - 1)];
}

std::string room_id(std::size_t n) { return numbered_id("room-", n); }

RoomPatcher::RoomPatcher(graph::TwinGraph& graph, std::size_t twins, unsigned thread)
    : graph_(graph), rng_(thread + 1), pick_(0, twins - 1), value_(static_cast<std::uint64_t>(thread) << 24) {}

void RoomPatcher::patch() {
    text_.assign(R"([{"op":"replace","path":"/t","value":)");
    text_ += std::to_string(100000000 + ++value_ % 900000000);
    text_ += "}]";
    const nlohmann::json patch = nlohmann::json::parse(text_);
    const std::string id = room_id(pick_(rng_));
    graph_.update_twin(id, patch);
    (void)graph_.snapshot().twin_etag(id);
}

void add_rooms(graph::TwinGraph& graph, std::size_t twins) {
    (void)graph.add_models(std::vector<dtdl::Document>{{"<bench>", bench_room_model}});
    graph.atomically([&](graph::TwinGraph& g) {
        for (std::size_t i = 0; i < twins; ++i)
            (void)g.upsert_twin(room_id(i), nlohmann::json{{"$metadata", {{"$model", "dtmi:bench:Room;1"}}}, {"t", 0.0}});
    });
}

std::filesystem::path default_ontology() {
    return (std::filesystem::path(TWINSIM_SOURCE_DIR) / ".." / "shared" / "ontologies" / "RealEstateCore")
        .lexically_normal();
}

bool skip_if_missing(const std::filesystem::path& ontology) {
    if (std::filesystem::exists(ontology)) return false;
    std::cout << "skipped: the ontology " << ontology.string() << " does not exist (is shared/ beside the repository?)\n";
    return true;
}

std::uint64_t proc_status_bytes(std::string_view field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 && line[field.size()] == ':') {
            std::uint64_t kib = 0;
            const char* p = line.data() + field.size() + 1;
            while (*p == ' ' || *p == '\t') ++p;
            std::from_chars(p, line.data() + line.size(), kib);
            return kib * 1024;
        }
    }
    return 0;
}

std::uint64_t resident_bytes_trimmed() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
    return proc_status_bytes("VmRSS");
}

ScratchFile::ScratchFile(std::string_view benchmark, const std::string& keep, std::string_view file_name) {
    if (!keep.empty()) {
        path_ = keep;
        return;
    }
    std::string name = "twinsim-bench-";
    name += benchmark;
    name += '-';
    name += std::to_string(::getpid());
    directory_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(directory_);
    path_ = directory_ / file_name;
}

ScratchFile::~ScratchFile() {
    if (directory_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
}

std::string numbered_id(std::string_view prefix, std::size_t n) {
    std::string id(prefix);
    id += std::to_string(n);
    return id;
}

double process_cpu_used() {
    rusage u{};
    if (::getrusage(RUSAGE_SELF, &u) != 0) return 0.0;
    const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
    return seconds(u.ru_utime) + seconds(u.ru_stime);
}

double thread_cpu_used() {
    rusage u{};
    if (::getrusage(RUSAGE_THREAD, &u) != 0) return 0.0;
    const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
    return seconds(u.ru_utime) + seconds(u.ru_stime);
}

ProcessWaits process_waits() {
    ProcessWaits w;
    std::ifstream io("/proc/self/io");
    std::string key;
    std::uint64_t value = 0;
    while (io >> key >> value) {
        if (key == "rchar:") w.read_chars = value;
        if (key == "read_bytes:") w.disk_read_bytes = value;
        if (key == "write_bytes:") w.disk_write_bytes = value;
    }
    rusage u{};
    if (::getrusage(RUSAGE_SELF, &u) == 0) {
        w.voluntary_switches = static_cast<std::uint64_t>(u.ru_nvcsw);
        w.involuntary_switches = static_cast<std::uint64_t>(u.ru_nivcsw);
    }
    return w;
}

ProcessWaits operator-(const ProcessWaits& b, const ProcessWaits& a) {
    return {b.read_chars - a.read_chars, b.disk_read_bytes - a.disk_read_bytes, b.disk_write_bytes - a.disk_write_bytes,
            b.voluntary_switches - a.voluntary_switches, b.involuntary_switches - a.involuntary_switches};
}

MachineNote machine_note() {
    MachineNote m;
    m.cores = std::thread::hardware_concurrency();
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line))
        if (line.rfind("model name", 0) == 0) {
            m.cpu = line.substr(line.find(':') + 2);
            break;
        }
    std::ifstream load("/proc/loadavg");
    load >> m.load_1min;
    return m;
}

std::string load_averages() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

}  // namespace twinsim::bench
