#include "twinsim/io/results_writer.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "twinsim/common/time.hpp"
#include "twinsim/io/detail/cf_time.hpp"
#include "twinsim/io/detail/hdf5.hpp"

#ifndef TWINSIM_VERSION
#define TWINSIM_VERSION "unknown"
#endif

namespace twinsim::io {

using detail::check;
using detail::Handle;

namespace {

/// A 1-D extendable table column (events, KPIs) and what it holds.
struct Column {
    std::string name;
    Handle dataset;
};

/// An event or KPI table. Its columns are created at the first append (or at
/// close() when nothing was appended), so that their chunk can be sized to
/// the rows that arrive: a fixed 4,096-row chunk cost about 690 KB per
/// scenario of a sweep whose tables held a few dozen rows.
struct Table {
    Handle group;
    Handle index;  // the dimension scale (event / kpi), 0..rows-1
    std::string index_name;
    std::vector<std::pair<std::string, hid_t>> layout;  // column names and file types, in order
    // (column, attribute, value) written when the columns are created
    std::vector<std::array<std::string, 3>> attributes;
    std::vector<Column> columns;
    hsize_t rows = 0;
    [[nodiscard]] bool created() const noexcept { return index.valid(); }
    [[nodiscard]] hid_t column(std::string_view name) const {
        for (const Column& c : columns)
            if (c.name == name) return c.dataset.get();
        return -1;
    }
};

struct Series {
    Handle group;
    Handle time;
    Handle data;
    hsize_t replications = 0;
    hsize_t time_length = 0;
    hsize_t twins = 0;
    bool extendable = false;
};

struct Scenario {
    Handle group;
    Handle series_group;
    std::map<std::string, Series, std::less<>> series;
    Table events;
    Table kpis;
    std::uint32_t replications = 0;
    std::string time_units;
    bool shard_runs = false;  // write_shard_runs() done
};

Handle tracked_group_plist(const std::string& path) {
    Handle plist = detail::plist_handle(H5Pcreate(H5P_GROUP_CREATE), path, "creating group properties");
    check(H5Pset_link_creation_order(plist.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), path,
          "creating group properties");
    return plist;
}

Handle create_group(hid_t parent, const std::string& name, const std::string& path) {
    Handle plist = tracked_group_plist(path);
    return detail::group_handle(H5Gcreate2(parent, name.c_str(), detail::default_plist, plist.get(), detail::default_plist),
                                path, "creating group " + name);
}

/// Rows per chunk of a table column whose first append brings `rows` rows:
/// that many (so a table written at once, as AsyncResultsWriter does, is one
/// chunk without padding), at least 64 (so appending a few rows at a time does
/// not make a chunk per call) and at most 4,096.
hsize_t table_chunk_rows(hsize_t rows) { return std::clamp<hsize_t>(rows, 64, 4096); }

/// How a series' (replication, time, twin) dataset is chunked and cached.
struct SeriesChunking {
    hsize_t times = 1;
    hsize_t twins = 1;
    std::size_t cache_bytes = 0;
    std::size_t cache_slots = 0;
};

std::size_t next_prime(std::size_t n) {
    auto prime = [](std::size_t k) {
        if (k < 2) return false;
        for (std::size_t d = 2; d * d <= k; ++d)
            if (k % d == 0) return false;
        return true;
    };
    while (!prime(n)) ++n;
    return n;
}

/// One replication per chunk, at most 32,768 values (256 KiB) per chunk, so
/// that both common reads stay cheap: one twin's series touches chunks at
/// most 256 twins wide (unless the time axis is shorter than 128 steps), one
/// instant across twins touches chunks at most 32,768 / width steps long.
/// The twin axis (and a fixed time axis) is cut into near-equal pieces, so
/// the chunks at the end of an axis are not mostly padding (uncompressed
/// chunks are stored whole). An extendable time axis gets a power of two,
/// which the runner's 256-step blocks fill whole. The chunk cache holds a
/// row of chunks across all twins for four replications at once, so blocks
/// that end inside a chunk do not evict it half-written.
SeriesChunking series_chunking(hsize_t twins, hsize_t times, bool extendable) {
    constexpr hsize_t chunk_values = 32768;
    constexpr hsize_t preferred_times = 128;
    const hsize_t short_times = extendable ? preferred_times : std::clamp<hsize_t>(times, 1, preferred_times);
    const hsize_t widest = std::max<hsize_t>(256, chunk_values / short_times);
    const hsize_t twin_pieces = (twins + widest - 1) / widest;
    SeriesChunking c;
    c.twins = std::max<hsize_t>(1, (twins + twin_pieces - 1) / twin_pieces);
    const hsize_t longest = std::max<hsize_t>(1, chunk_values / c.twins);
    if (extendable) {
        c.times = 1;
        while (c.times * 2 <= longest) c.times *= 2;
    } else {
        const hsize_t time_pieces = std::max<hsize_t>(1, (times + longest - 1) / longest);
        c.times = std::max<hsize_t>(1, (times + time_pieces - 1) / time_pieces);
    }
    const std::size_t chunk_bytes = static_cast<std::size_t>(c.times * c.twins) * sizeof(double);
    const std::size_t row_bytes = static_cast<std::size_t>(twin_pieces) * chunk_bytes;
    c.cache_bytes = std::clamp<std::size_t>(4 * row_bytes, std::size_t{8} << 20, std::size_t{32} << 20);
    c.cache_slots = next_prime(std::max<std::size_t>(1021, 10 * (c.cache_bytes / chunk_bytes)));
    return c;
}

/// Adds the shuffle and deflate filters at `level` (0: none) to a dataset
/// creation property list.
void add_compression(hid_t plist, int level, const std::string& path) {
    if (level <= 0) return;
    check(H5Pset_shuffle(plist), path, "creating dataset properties");
    check(H5Pset_deflate(plist, static_cast<unsigned>(level)), path, "creating dataset properties");
}

/// A 1-D, unlimited, chunked dataset of `file_type`, initially empty.
Handle create_column(hid_t group, const char* name, hid_t file_type, hsize_t chunk, int deflate,
                     const std::string& path) {
    const hsize_t size = 0;
    const hsize_t max_size = detail::unlimited;
    Handle space = detail::space_handle(H5Screate_simple(1, &size, &max_size), path, "creating a dataspace");
    Handle plist = detail::plist_handle(H5Pcreate(H5P_DATASET_CREATE), path, "creating dataset properties");
    check(H5Pset_chunk(plist.get(), 1, &chunk), path, "creating dataset properties");
    add_compression(plist.get(), deflate, path);
    return detail::dataset_handle(H5Dcreate2(group, name, file_type, space.get(), detail::default_plist, plist.get(),
                                             detail::default_plist),
                                  path, std::string("creating dataset ") + name);
}

/// Grows a 1-D dataset to offset + count and writes count elements at offset.
void append_to(hid_t dataset, hid_t memory_type, hsize_t offset, hsize_t count, const void* data,
               const std::string& path, std::string_view what) {
    const hsize_t new_size = offset + count;
    check(H5Dset_extent(dataset, &new_size), path, what);
    Handle file_space = detail::space_handle(H5Dget_space(dataset), path, what);
    check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &offset, nullptr, &count, nullptr), path, what);
    Handle memory_space = detail::space_handle(H5Screate_simple(1, &count, nullptr), path, what);
    check(H5Dwrite(dataset, memory_type, memory_space.get(), file_space.get(), detail::default_plist, data), path, what);
}

/// The table's group; its columns come with create_columns().
Table create_table(hid_t parent, const char* group_name, const char* index_name,
                   std::vector<std::pair<std::string, hid_t>> layout, const std::string& path) {
    Table table;
    table.group = create_group(parent, group_name, path);
    table.index_name = index_name;
    table.layout = std::move(layout);
    return table;
}

/// Creates the table's index scale and columns, chunked for `first_rows` rows
/// (table_chunk_rows), and attaches the scale. Precondition: !table.created().
void create_columns(Table& table, hsize_t first_rows, int deflate, const std::string& path) {
    const hsize_t chunk = table_chunk_rows(first_rows);
    const char* index_name = table.index_name.c_str();
    Handle index = create_column(table.group.get(), index_name, H5T_STD_I64LE, chunk, deflate, path);
    check(H5DSset_scale(index.get(), index_name), path, std::string("making ") + index_name + " a dimension scale");
    std::vector<Column> columns;
    for (const auto& [name, type] : table.layout) {
        Column column{name, create_column(table.group.get(), name.c_str(), type, chunk, deflate, path)};
        check(H5DSattach_scale(column.dataset.get(), index.get(), 0), path,
              "attaching dimension " + table.index_name + " to " + name);
        columns.push_back(std::move(column));
    }
    table.columns = std::move(columns);
    table.index = std::move(index);
    for (const auto& [column, attribute, value] : table.attributes)
        detail::write_attribute(table.column(column), attribute.c_str(), value, path);
}

void append_strings(const Table& table, std::string_view column, hsize_t offset, const std::vector<const char*>& values,
                    hid_t string_type, const std::string& path) {
    append_to(table.column(column), string_type, offset, values.size(), values.data(), path,
              "appending to column " + std::string(column));
}

void append_index(Table& table, hsize_t count, const std::string& path) {
    std::vector<std::int64_t> index(count);
    for (hsize_t i = 0; i < count; ++i) index[i] = static_cast<std::int64_t>(table.rows + i);
    append_to(table.index.get(), detail::native_int64(), table.rows, count, index.data(), path, "appending to a table index");
}

bool is_json(const std::string& text) { return nlohmann::json::accept(text); }

std::atomic<unsigned> temporary_counter{0};

std::filesystem::path temporary_name(const std::filesystem::path& path) {
    std::filesystem::path temporary = path;
    temporary += ".partial-" + std::to_string(::getpid()) + "-" + std::to_string(temporary_counter.fetch_add(1));
    return temporary;
}

/// Removes the temporary files "<path>.partial-<pid>-<n>" of processes that
/// no longer exist (killed by SIGKILL, a power cut): a process that is alive
/// (or that this one may not signal) keeps its file. Best effort: a file that
/// cannot be removed stays.
void remove_stale_partials(const std::filesystem::path& path) {
    std::error_code error;
    const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    const std::string prefix = path.filename().string() + ".partial-";
    std::filesystem::directory_iterator it(folder, error), end;
    for (; !error && it != end; it.increment(error)) {
        const std::string name = it->path().filename().string();
        if (!name.starts_with(prefix)) continue;
        const std::string rest = name.substr(prefix.size());  // "<pid>-<n>"
        const auto dash = rest.find('-');
        if (dash == 0 || dash == std::string::npos || dash > 9 || dash + 1 == rest.size()) continue;
        if (rest.find_first_not_of("0123456789-") != std::string::npos || rest.find('-', dash + 1) != std::string::npos)
            continue;
        const auto pid = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
        if (pid <= 0 || pid == ::getpid()) continue;
        if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
        std::error_code ignored;
        if (it->is_regular_file(ignored)) std::filesystem::remove(it->path(), ignored);
    }
}

/// fsync of a file or directory; false on failure.
bool sync_path(const std::filesystem::path& path, bool directory) {
    const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    return ::close(fd) == 0 && ok;
}

}  // namespace

struct ResultsWriter::Impl {
    std::filesystem::path path;
    std::filesystem::path temporary;
    std::string name;  // path as text, for messages
    WriterOptions options;
    // Where the fail-safe file driver reports a failed write (a full disk):
    // HDF5 itself never sees one (detail/hdf5.hpp says why).
    std::shared_ptr<detail::DiskFailure> disk = std::make_shared<detail::DiskFailure>();
    Handle string_type;
    Handle file;
    std::map<std::string, Scenario, std::less<>> scenarios;  // destroyed before `file`
    std::uint32_t scenario_count = 0;
    bool open = false;
    bool shard = false;  // mark_shard() done

    void discard() noexcept {
        scenarios.clear();
        string_type.reset();
        file.reset();
        if (open || !temporary.empty()) {
            std::error_code ignored;
            std::filesystem::remove(temporary, ignored);
        }
        open = false;
    }

    /// The ResultsError for a failed write: what, where and the system's reason.
    [[nodiscard]] ResultsError disk_error() const {
        return ResultsError(name + ": writing results to the temporary file " + temporary.string() + ": " +
                                std::generic_category().message(disk->error) + " (" + disk->operation + ")",
                            name);
    }

    /// After a failed write the file is lost: it is discarded (HDF5 closes it
    /// against the driver's memory, the temporary file is removed) and the
    /// failure is thrown.
    void throw_if_disk_failed() {
        if (!disk->failed()) return;
        ResultsError error = disk_error();
        discard();
        throw error;
    }

    Scenario& scenario(std::string_view scenario_name) {
        auto it = scenarios.find(scenario_name);
        if (it == scenarios.end()) detail::throw_usage_error(name, "no scenario named '" + std::string(scenario_name) + "'");
        return it->second;
    }

    /// The series `series_name` of scenario `scenario_name`; `what` names it
    /// in the usage error thrown when either is unknown.
    Series& series(std::string_view scenario_name, std::string_view series_name, const std::string& what) {
        Scenario& owner = scenario(scenario_name);
        auto it = owner.series.find(series_name);
        if (it == owner.series.end()) detail::throw_usage_error(name, "no " + what);
        return it->second;
    }

    /// Runs `body` under the library lock. An HDF5 failure (or anything
    /// unexpected) leaves the file unusable: it is discarded before rethrowing.
    /// Usage errors (bad names, sizes) leave the file as it was, except in close().
    /// A failed write (reported by the file driver, not by HDF5) is checked
    /// after every operation: the file is discarded and the failure thrown.
    void guarded(const std::function<void()>& body, bool discard_on_any_error = false) {
        detail::LibraryCall call;
        if (!open) detail::throw_usage_error(name, "the results writer is closed");
        try {
            body();
        } catch (const ResultsError& e) {
            throw_if_disk_failed();  // the cause, if there was one
            if (discard_on_any_error || !e.hdf5_stack().empty()) discard();
            throw;
        } catch (...) {
            throw_if_disk_failed();
            discard();
            throw;
        }
        throw_if_disk_failed();
    }
};

ResultsWriter::ResultsWriter(std::filesystem::path path, const FileIdentity& identity, WriterOptions options)
    : impl_(std::make_unique<Impl>()) {
    Impl& impl = *impl_;
    impl.path = std::move(path);
    impl.name = impl.path.string();
    impl.options = options;
    if (options.deflate < 0 || options.deflate > 9)
        detail::throw_usage_error(impl.name, "deflate level must be 0..9, not " + std::to_string(options.deflate));
    std::error_code error;
    if (!options.overwrite && std::filesystem::exists(impl.path, error))
        detail::throw_usage_error(impl.name, "the file exists and overwrite is off");
    if (std::filesystem::is_directory(impl.path, error)) detail::throw_usage_error(impl.name, "is a directory");
    remove_stale_partials(impl.path);
    impl.temporary = temporary_name(impl.path);

    detail::LibraryCall call;
    try {
        Handle create = detail::plist_handle(H5Pcreate(H5P_FILE_CREATE), impl.name, "creating file properties");
        check(H5Pset_link_creation_order(create.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), impl.name,
              "creating file properties");
        // B-tree nodes of chunk indexes with 8 entries, not HDF5's default 64:
        // a node is allocated whole (about 2 KB at 64), and most datasets here
        // have one or a few chunks (14 table columns and a series per scenario
        // made 6 MB of a 200-scenario sweep's 74 MB). Any HDF5 since 1.6 reads it.
        check(H5Pset_istore_k(create.get(), 4), impl.name, "creating file properties");
        Handle access = detail::failsafe_file_access(impl.disk, impl.name);
        check(H5Pset_fclose_degree(access.get(), H5F_CLOSE_STRONG), impl.name, "creating file properties");
        impl.file = detail::file_handle(H5Fcreate(impl.temporary.c_str(), H5F_ACC_EXCL, create.get(), access.get()),
                                        impl.name, "cannot create the temporary file " + impl.temporary.string());
        impl.open = true;
        impl.string_type = detail::string_type(impl.name);
        const hid_t root = impl.file.get();
        detail::write_attribute(root, "format", results_format_name, impl.name);
        detail::write_attribute(root, "format_version", results_format_version, impl.name);
        detail::write_attribute(root, "twinsim_version", TWINSIM_VERSION, impl.name);
        std::string created = format_timestamp(utc_now());
        if (!options.created.empty()) {
            const std::optional<Timestamp> given = parse_timestamp(options.created);
            if (!given)
                detail::throw_usage_error(impl.name, "created '" + options.created + "' is not an RFC 3339 instant");
            created = format_timestamp(*given);
        }
        detail::write_attribute(root, "created", created, impl.name);
        detail::write_attribute(root, "base_graph_source", identity.base_graph_source, impl.name);
        detail::write_attribute(root, "base_graph_version", identity.base_graph_version, impl.name);
        detail::write_attribute(root, "description", identity.description, impl.name);
        impl.throw_if_disk_failed();
    } catch (...) {
        impl.discard();
        throw;
    }
}

ResultsWriter::~ResultsWriter() {
    if (impl_ && impl_->open) {
        detail::LibraryCall call;
        impl_->discard();
    }
}

ResultsWriter::ResultsWriter(ResultsWriter&&) noexcept = default;
ResultsWriter& ResultsWriter::operator=(ResultsWriter&& other) noexcept {
    if (this != &other) {
        if (impl_ && impl_->open) {
            detail::LibraryCall call;
            impl_->discard();
        }
        impl_ = std::move(other.impl_);
    }
    return *this;
}

const std::filesystem::path& ResultsWriter::path() const noexcept { return impl_->path; }
const std::filesystem::path& ResultsWriter::temporary_path() const noexcept { return impl_->temporary; }
bool ResultsWriter::is_open() const noexcept { return impl_ && impl_->open; }

void ResultsWriter::define_scenario(const ScenarioDefinition& definition) {
    Impl& impl = *impl_;
    impl.guarded([&] {
        const std::string& name = impl.name;
        const std::string what = "scenario '" + definition.name + "'";
        if (!detail::valid_link_name(definition.name))
            detail::throw_usage_error(name, "bad scenario name '" + definition.name + "' (empty, '.', '..' or contains '/')");
        if (impl.scenarios.contains(definition.name)) detail::throw_usage_error(name, what + " is defined twice");
        if (definition.replications == 0) detail::throw_usage_error(name, what + ": replications must be at least 1");
        const std::optional<Timestamp> start = parse_timestamp(definition.start);
        if (!start) detail::throw_usage_error(name, what + ": start '" + definition.start + "' is not an RFC 3339 instant");
        const std::string spec = definition.spec_json.empty() ? "{}" : definition.spec_json;
        const std::string parameters = definition.parameters_json.empty() ? "{}" : definition.parameters_json;
        if (!is_json(spec)) detail::throw_usage_error(name, what + ": spec_json is not valid JSON");
        if (!is_json(parameters)) detail::throw_usage_error(name, what + ": parameters_json is not valid JSON");

        Scenario scenario;
        scenario.replications = definition.replications;
        scenario.time_units = detail::cf_time_units(*start);
        scenario.group = create_group(impl.file.get(), definition.name, name);
        const hid_t group = scenario.group.get();
        detail::write_attribute(group, "description", definition.description, name);
        detail::write_attribute(group, "spec", spec, name);
        detail::write_attribute(group, "parameters", parameters, name);
        detail::write_attribute(group, "seed", definition.seed, name);
        detail::write_attribute(group, "replications", definition.replications, name);
        detail::write_attribute(group, "start", format_timestamp(*start), name);
        detail::write_attribute(group, "time_units", scenario.time_units, name);
        detail::write_attribute(group, "scenario_index", impl.scenario_count, name);
        scenario.series_group = create_group(group, "series", name);

        const hid_t text = impl.string_type.get();
        scenario.events = create_table(group, "events", "event",
                                       {{"replication", H5T_STD_U32LE},
                                        {"time", H5T_IEEE_F64LE},
                                        {"twin", text},
                                        {"type", text},
                                        {"detail", text}},
                                       name);
        scenario.events.attributes = {{"time", "units", scenario.time_units},
                                      {"time", "calendar", "proleptic_gregorian"},
                                      {"detail", "content_type", "application/json"}};
        scenario.kpis = create_table(group, "kpis", "kpi",
                                     {{"name", text},
                                      {"selection", text},
                                      {"statistic", text},
                                      {"replication", H5T_STD_I32LE},
                                      {"aggregate", text},
                                      {"value", H5T_IEEE_F64LE},
                                      {"unit", text}},
                                     name);
        impl.scenarios.emplace(definition.name, std::move(scenario));
        ++impl.scenario_count;
    });
}

void ResultsWriter::define_series(std::string_view scenario_name, const SeriesDefinition& definition) {
    Impl& impl = *impl_;
    impl.guarded([&] {
        const std::string& name = impl.name;
        Scenario& scenario = impl.scenario(scenario_name);
        const std::string what = "series '" + definition.name + "' of scenario '" + std::string(scenario_name) + "'";
        if (!detail::valid_link_name(definition.name) || definition.name == "time" || definition.name == "twin" ||
            definition.name == "replication")
            detail::throw_usage_error(name, "bad series name '" + definition.name +
                                                "' (empty, '.', '..', contains '/', or one of time/twin/replication)");
        if (scenario.series.contains(definition.name)) detail::throw_usage_error(name, what + " is defined twice");
        if (definition.twin_ids.empty()) detail::throw_usage_error(name, what + " has no twins");
        {
            std::set<std::string_view> seen;
            for (const std::string& id : definition.twin_ids)
                if (!seen.insert(id).second) detail::throw_usage_error(name, what + " lists twin '" + id + "' twice");
        }

        Series series;
        series.replications = scenario.replications;
        series.twins = definition.twin_ids.size();
        series.extendable = definition.times.empty();
        series.time_length = definition.times.size();
        series.group = create_group(scenario.series_group.get(), definition.name, name);
        const hid_t group = series.group.get();
        const double nan = std::numeric_limits<double>::quiet_NaN();

        // replication: a fixed dimension scale 0..R-1
        Handle replication;
        {
            const hsize_t size = series.replications;
            Handle space = detail::space_handle(H5Screate_simple(1, &size, nullptr), name, "creating a dataspace");
            replication = detail::dataset_handle(H5Dcreate2(group, "replication", H5T_STD_U32LE, space.get(),
                                                            detail::default_plist, detail::default_plist,
                                                            detail::default_plist),
                                                 name, what + ": creating replication");
            std::vector<std::uint32_t> values(scenario.replications);
            for (std::uint32_t r = 0; r < scenario.replications; ++r) values[r] = r;
            check(H5Dwrite(replication.get(), detail::native_uint32(), detail::all_space, detail::all_space,
                           detail::default_plist, values.data()),
                  name, what + ": writing replication");
            check(H5DSset_scale(replication.get(), "replication"), name, what + ": making replication a scale");
        }
        // time: seconds since start, fixed or unlimited
        {
            const hsize_t size = series.time_length;
            const hsize_t max_size = series.extendable ? detail::unlimited : size;
            const hsize_t chunk = 1024;
            Handle space = detail::space_handle(H5Screate_simple(1, &size, &max_size), name, "creating a dataspace");
            Handle plist = detail::plist_handle(H5Pcreate(H5P_DATASET_CREATE), name, "creating dataset properties");
            if (series.extendable) {
                check(H5Pset_chunk(plist.get(), 1, &chunk), name, "creating dataset properties");
                check(H5Pset_fill_value(plist.get(), detail::native_double(), &nan), name, "creating dataset properties");
            }
            series.time = detail::dataset_handle(H5Dcreate2(group, "time", H5T_IEEE_F64LE, space.get(),
                                                            detail::default_plist, plist.get(), detail::default_plist),
                                                 name, what + ": creating time");
            if (!series.extendable)
                check(H5Dwrite(series.time.get(), detail::native_double(), detail::all_space, detail::all_space,
                               detail::default_plist, definition.times.data()),
                      name, what + ": writing time");
            check(H5DSset_scale(series.time.get(), "time"), name, what + ": making time a scale");
            detail::write_attribute(series.time.get(), "units", scenario.time_units, name);
            detail::write_attribute(series.time.get(), "calendar", "proleptic_gregorian", name);
            detail::write_attribute(series.time.get(), "standard_name", "time", name);
            detail::write_attribute(series.time.get(), "axis", "T", name);
        }
        // twin: the twin ids, variable-length strings
        Handle twin;
        {
            const hsize_t size = series.twins;
            Handle space = detail::space_handle(H5Screate_simple(1, &size, nullptr), name, "creating a dataspace");
            twin = detail::dataset_handle(H5Dcreate2(group, "twin", impl.string_type.get(), space.get(),
                                                     detail::default_plist, detail::default_plist, detail::default_plist),
                                          name, what + ": creating twin");
            std::vector<const char*> ids;
            ids.reserve(definition.twin_ids.size());
            for (const std::string& id : definition.twin_ids) ids.push_back(id.c_str());
            check(H5Dwrite(twin.get(), impl.string_type.get(), detail::all_space, detail::all_space, detail::default_plist,
                           ids.data()),
                  name, what + ": writing twin");
            check(H5DSset_scale(twin.get(), "twin"), name, what + ": making twin a scale");
        }
        // the data: (replication, time, twin), chunks of one replication (series_chunking)
        {
            const hsize_t dims[3] = {series.replications, series.time_length, series.twins};
            const hsize_t max_dims[3] = {series.replications, series.extendable ? detail::unlimited : series.time_length,
                                         series.twins};
            const SeriesChunking chunking = series_chunking(series.twins, series.time_length, series.extendable);
            const hsize_t chunk[3] = {1, chunking.times, chunking.twins};
            Handle space = detail::space_handle(H5Screate_simple(3, dims, max_dims), name, "creating a dataspace");
            Handle plist = detail::plist_handle(H5Pcreate(H5P_DATASET_CREATE), name, "creating dataset properties");
            check(H5Pset_chunk(plist.get(), 3, chunk), name, "creating dataset properties");
            check(H5Pset_fill_value(plist.get(), detail::native_double(), &nan), name, "creating dataset properties");
            check(H5Pset_fill_time(plist.get(), H5D_FILL_TIME_IFSET), name, "creating dataset properties");
            add_compression(plist.get(), impl.options.deflate, name);
            Handle access = detail::plist_handle(H5Pcreate(H5P_DATASET_ACCESS), name, "creating dataset properties");
            check(H5Pset_chunk_cache(access.get(), chunking.cache_slots, chunking.cache_bytes, 0.75), name,
                  "creating dataset properties");
            series.data = detail::dataset_handle(H5Dcreate2(group, definition.name.c_str(), H5T_IEEE_F64LE, space.get(),
                                                            detail::default_plist, plist.get(), access.get()),
                                                 name, what + ": creating the dataset");
            const hid_t data = series.data.get();
            check(H5DSattach_scale(data, replication.get(), 0), name, what + ": attaching replication");
            check(H5DSattach_scale(data, series.time.get(), 1), name, what + ": attaching time");
            check(H5DSattach_scale(data, twin.get(), 2), name, what + ": attaching twin");
            detail::write_attribute(data, "units", definition.unit, name);
            detail::write_attribute(data, "long_name",
                                    definition.description.empty() ? definition.name : definition.description, name);
            detail::write_attribute(data, "model", definition.model, name);
            detail::write_attribute(data, "property", definition.property, name);
        }
        scenario.series.emplace(definition.name, std::move(series));
    });
}

void ResultsWriter::write_series_block(std::string_view scenario_name, std::string_view series_name,
                                       std::uint32_t replication, std::uint64_t first_time,
                                       std::span<const double> values, std::span<const double> times) {
    Impl& impl = *impl_;
    impl.guarded([&] {
        const std::string& name = impl.name;
        const std::string what = "series '" + std::string(series_name) + "' of scenario '" + std::string(scenario_name) + "'";
        Series& series = impl.series(scenario_name, series_name, what);
        if (replication >= series.replications)
            detail::throw_usage_error(name, what + ": replication " + std::to_string(replication) + " is out of range (" +
                                                std::to_string(series.replications) + " replications)");
        if (values.size() % series.twins != 0)
            detail::throw_usage_error(name, what + ": a block of " + std::to_string(values.size()) +
                                                " values is not a whole number of time steps of " +
                                                std::to_string(series.twins) + " twins");
        const hsize_t count = values.size() / series.twins;
        if (count == 0) return;
        const hsize_t end = first_time + count;
        if (series.extendable) {
            if (times.size() != count)
                detail::throw_usage_error(name, what + ": an extendable time axis needs one time per step (" +
                                                    std::to_string(count) + " steps, " + std::to_string(times.size()) +
                                                    " times)");
            if (end > series.time_length) {
                const hsize_t dims[3] = {series.replications, end, series.twins};
                check(H5Dset_extent(series.data.get(), dims), name, what + ": extending the dataset");
                check(H5Dset_extent(series.time.get(), &end), name, what + ": extending time");
                series.time_length = end;
            }
            Handle time_space = detail::space_handle(H5Dget_space(series.time.get()), name, what);
            const hsize_t offset = first_time;
            check(H5Sselect_hyperslab(time_space.get(), H5S_SELECT_SET, &offset, nullptr, &count, nullptr), name, what);
            Handle memory = detail::space_handle(H5Screate_simple(1, &count, nullptr), name, what);
            check(H5Dwrite(series.time.get(), detail::native_double(), memory.get(), time_space.get(),
                           detail::default_plist, times.data()),
                  name, what + ": writing time");
        } else {
            if (!times.empty())
                detail::throw_usage_error(name, what + ": the time axis is fixed; pass no times with a block");
            if (end > series.time_length)
                detail::throw_usage_error(name, what + ": steps " + std::to_string(first_time) + ".." +
                                                    std::to_string(end - 1) + " exceed the fixed time axis of " +
                                                    std::to_string(series.time_length));
        }
        Handle file_space = detail::space_handle(H5Dget_space(series.data.get()), name, what);
        const hsize_t start[3] = {replication, first_time, 0};
        const hsize_t block[3] = {1, count, series.twins};
        check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, block, nullptr), name, what);
        const hsize_t total = values.size();
        Handle memory = detail::space_handle(H5Screate_simple(1, &total, nullptr), name, what);
        check(H5Dwrite(series.data.get(), detail::native_double(), memory.get(), file_space.get(), detail::default_plist,
                       values.data()),
              name, what + ": writing a block");
    });
}

bool ResultsWriter::write_series_chunks(std::string_view scenario_name, std::string_view series_name,
                                        const StoredSeriesChunks& stored) {
    Impl& impl = *impl_;
    bool written = false;
    impl.guarded([&] {
        const std::string& name = impl.name;
        const std::string what = "series '" + std::string(series_name) + "' of scenario '" + std::string(scenario_name) + "'";
        Series& series = impl.series(scenario_name, series_name, what);
        if (series.extendable) return;
        StoredSeriesChunks own;
        detail::stored_layout(series.data.get(), name, what, own);
        if (own.dims != stored.dims || own.chunk != stored.chunk || own.filters != stored.filters || own.chunk[0] != 1 ||
            own.chunk[1] == 0 || own.chunk[2] == 0)
            return;
        for (const StoredSeriesChunks::Chunk& chunk : stored.chunks) {
            const auto& o = chunk.offset;
            if (o[0] >= own.dims[0] || o[1] >= own.dims[1] || o[2] >= own.dims[2] || o[1] % own.chunk[1] != 0 ||
                o[2] % own.chunk[2] != 0)
                detail::throw_usage_error(name, what + ": a stored chunk at (" + std::to_string(o[0]) + ", " +
                                                    std::to_string(o[1]) + ", " + std::to_string(o[2]) +
                                                    ") is outside the dataset or off its chunk grid");
            const hsize_t offset[3] = {o[0], o[1], o[2]};
            check(H5Dwrite_chunk(series.data.get(), detail::default_plist, chunk.filter_mask, offset, chunk.bytes.size(),
                                 chunk.bytes.data()),
                  name, what + ": writing a stored chunk");
        }
        written = true;
    });
    return written;
}

void ResultsWriter::append_events(std::string_view scenario_name, std::span<const EventRecord> events) {
    Impl& impl = *impl_;
    impl.guarded([&] {
        const std::string& name = impl.name;
        Scenario& scenario = impl.scenario(scenario_name);
        for (const EventRecord& event : events) {
            if (event.replication >= scenario.replications)
                detail::throw_usage_error(name, "an event of scenario '" + std::string(scenario_name) + "' has replication " +
                                                    std::to_string(event.replication) + ", out of range");
            if (!event.detail_json.empty() && !is_json(event.detail_json))
                detail::throw_usage_error(name, "an event of scenario '" + std::string(scenario_name) +
                                                    "' has a detail that is not JSON: " + event.detail_json);
        }
        if (events.empty()) return;
        Table& table = scenario.events;
        if (!table.created()) create_columns(table, events.size(), impl.options.deflate, name);
        const hsize_t n = events.size();
        std::vector<std::uint32_t> replications;
        std::vector<double> times;
        std::vector<const char*> twins, types, details;
        for (const EventRecord& event : events) {
            replications.push_back(event.replication);
            times.push_back(event.time);
            twins.push_back(event.twin.c_str());
            types.push_back(event.type.c_str());
            details.push_back(event.detail_json.empty() ? "{}" : event.detail_json.c_str());
        }
        append_to(table.column("replication"), detail::native_uint32(), table.rows, n, replications.data(), name,
                  "appending events");
        append_to(table.column("time"), detail::native_double(), table.rows, n, times.data(), name, "appending events");
        const hid_t text = impl.string_type.get();
        append_strings(table, "twin", table.rows, twins, text, name);
        append_strings(table, "type", table.rows, types, text, name);
        append_strings(table, "detail", table.rows, details, text, name);
        append_index(table, n, name);
        table.rows += n;
    });
}

void ResultsWriter::write_kpis(std::string_view scenario_name, std::span<const KpiRow> kpis) {
    Impl& impl = *impl_;
    impl.guarded([&] {
        const std::string& name = impl.name;
        Scenario& scenario = impl.scenario(scenario_name);
        for (const KpiRow& row : kpis) {
            if (row.replication < all_replications ||
                (row.replication >= 0 && static_cast<std::uint32_t>(row.replication) >= scenario.replications))
                detail::throw_usage_error(name, "KPI '" + row.name + "' of scenario '" + std::string(scenario_name) +
                                                    "' has replication " + std::to_string(row.replication) +
                                                    ", out of range");
        }
        if (kpis.empty()) return;
        Table& table = scenario.kpis;
        if (!table.created()) create_columns(table, kpis.size(), impl.options.deflate, name);
        const hsize_t n = kpis.size();
        std::vector<const char*> names, selections, statistics, aggregates, units;
        std::vector<std::int32_t> replications;
        std::vector<double> values;
        for (const KpiRow& row : kpis) {
            names.push_back(row.name.c_str());
            selections.push_back(row.selection.c_str());
            statistics.push_back(row.statistic.c_str());
            aggregates.push_back(row.aggregate.c_str());
            units.push_back(row.unit.c_str());
            replications.push_back(row.replication);
            values.push_back(row.value);
        }
        const hid_t text = impl.string_type.get();
        append_strings(table, "name", table.rows, names, text, name);
        append_strings(table, "selection", table.rows, selections, text, name);
        append_strings(table, "statistic", table.rows, statistics, text, name);
        append_to(table.column("replication"), detail::native_int32(), table.rows, n, replications.data(), name,
                  "appending KPIs");
        append_strings(table, "aggregate", table.rows, aggregates, text, name);
        append_to(table.column("value"), detail::native_double(), table.rows, n, values.data(), name, "appending KPIs");
        append_strings(table, "unit", table.rows, units, text, name);
        append_index(table, n, name);
        table.rows += n;
    });
}

void ResultsWriter::mark_shard(const ShardIdentity& shard) {
    Impl& impl = *impl_;
    impl.guarded([&] {
        const std::string& name = impl.name;
        if (impl.shard) detail::throw_usage_error(name, "the file is already marked as a shard");
        if (shard.job.empty()) detail::throw_usage_error(name, "a shard needs its job id");
        if (shard.count == 0 || shard.index >= shard.count)
            detail::throw_usage_error(name, "shard " + std::to_string(shard.index) + " of " + std::to_string(shard.count) +
                                                " does not exist (shards are numbered 0..count-1)");
        const hid_t root = impl.file.get();
        detail::write_attribute(root, "shard_job", shard.job, name);
        detail::write_attribute(root, "shard_index", shard.index, name);
        detail::write_attribute(root, "shard_count", shard.count, name);
        impl.shard = true;
    });
}

void ResultsWriter::write_shard_runs(std::string_view scenario_name, const ShardRuns& runs) {
    Impl& impl = *impl_;
    impl.guarded([&] {
        const std::string& name = impl.name;
        if (!impl.shard) detail::throw_usage_error(name, "shard runs go only into a shard (mark_shard first)");
        Scenario& scenario = impl.scenario(scenario_name);
        const std::string what = "the shard runs of scenario '" + std::string(scenario_name) + "'";
        if (scenario.shard_runs) detail::throw_usage_error(name, what + " are written twice");
        // The binary form (io/run_results.hpp) as a 1-D dataset of bytes; shards written
        // before it hold JSON text in a scalar string, which the reader still takes.
        const std::string bytes = encode_shard_runs_binary(runs);
        const hsize_t extent = bytes.size();
        Handle space = detail::space_handle(H5Screate_simple(1, &extent, nullptr), name, "creating a dataspace");
        Handle dataset = detail::dataset_handle(H5Dcreate2(scenario.group.get(), "shard_runs", H5T_STD_U8LE, space.get(),
                                                           detail::default_plist, detail::default_plist,
                                                           detail::default_plist),
                                                name, what + ": creating the dataset");
        if (extent > 0)
            check(H5Dwrite(dataset.get(), H5T_NATIVE_UINT8, detail::all_space, detail::all_space, detail::default_plist,
                           bytes.data()),
                  name, what + ": writing");
        scenario.shard_runs = true;
    });
}

void ResultsWriter::close() {
    Impl& impl = *impl_;
    impl.guarded([&] {
        const std::string& name = impl.name;
        for (auto& [scenario_name, scenario] : impl.scenarios)  // the tables nothing was appended to
            for (Table* table : {&scenario.events, &scenario.kpis})
                if (!table->created()) create_columns(*table, 0, impl.options.deflate, name);
        impl.scenarios.clear();
        impl.string_type.reset();
        check(H5Fflush(impl.file.get(), H5F_SCOPE_GLOBAL), name, "flushing the file");
        impl.throw_if_disk_failed();
        const hid_t file = impl.file.release();  // closed here, with its status checked
        check(H5Fclose(file), name, "closing the file");
        impl.throw_if_disk_failed();  // the last writes (superblock, end of file) or close() itself
        if (impl.options.sync && !sync_path(impl.temporary, false))
            throw ResultsError(name + ": fsync of " + impl.temporary.string() + " failed: " +
                                   std::generic_category().message(errno),
                               name);
        std::error_code error;
        std::filesystem::rename(impl.temporary, impl.path, error);
        if (error)
            throw ResultsError(name + ": renaming " + impl.temporary.string() + " into place failed: " + error.message(),
                               name);
        impl.open = false;
        impl.temporary.clear();
        if (impl.options.sync) {
            const std::filesystem::path directory =
                impl.path.has_parent_path() ? impl.path.parent_path() : std::filesystem::path(".");
            sync_path(directory, true);  // best effort: the data itself is already durable
        }
    }, /*discard_on_any_error=*/true);
}

void ResultsWriter::discard() noexcept {
    if (!impl_) return;
    detail::LibraryCall call;
    impl_->discard();
}

}  // namespace twinsim::io
