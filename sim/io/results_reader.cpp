#include "twinsim/io/results_reader.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <limits>
#include <new>
#include <stdexcept>
#include <type_traits>

#include "twinsim/io/detail/checked_read.hpp"
#include "twinsim/io/detail/hdf5.hpp"

namespace twinsim::io {

using detail::check;
using detail::Handle;

namespace {

constexpr std::string_view invalid_prefix = "not a valid twinsim results file: ";

/// A request for something the file does not hold (an unknown scenario or
/// series): the caller's mistake, reported as it is, never as a damaged file.
class NotInFile : public ResultsError {
public:
    using ResultsError::ResultsError;
};

[[noreturn]] void not_in_file(const std::string& path, const std::string& what) {
    throw NotInFile(path + ": " + what, path);
}

/// Runs one read of the file. Any ResultsError other than NotInFile (HDF5
/// refusing the bytes, a structure check below failing) means the file is not
/// what docs/results-format.md describes, and is rethrown as
/// "not a valid twinsim results file: <path>: why".
template <class Read>
auto guarded(const std::string& path, Read&& read) -> decltype(read()) {
    try {
        return read();
    } catch (const NotInFile&) {
        throw;
    } catch (const ResultsError& e) {
        const std::string_view message = e.what();
        if (message.starts_with(invalid_prefix)) throw;
        throw ResultsError(std::string(invalid_prefix) + std::string(message), path, e.hdf5_stack());
    } catch (const std::bad_alloc&) {
        throw ResultsError(std::string(invalid_prefix) + path + ": out of memory reading it", path);
    } catch (const std::length_error&) {
        throw ResultsError(std::string(invalid_prefix) + path + ": a size in the file is too large to read", path);
    }
}

/// The most bytes one dataset may take in memory: max_results_read_base plus
/// max_results_expansion times the file's size (docs/results-format.md, "Reading
/// damaged files"). A damaged header that claims more is refused before any read.
std::uint64_t read_budget(std::uintmax_t file_size) {
    const std::uint64_t size = file_size;
    if (size > (~std::uint64_t{0} - max_results_read_base) / max_results_expansion) return ~std::uint64_t{0};
    return max_results_read_base + max_results_expansion * size;
}

/// What a dataset must be before it is read: its type class, rank, and a
/// size in memory within the budget. Returns its dimensions.
std::vector<hsize_t> checked_shape(hid_t dataset, const std::string& path, std::string_view name, H5T_class_t expected,
                                   int expected_rank, std::size_t element_bytes, std::uint64_t budget) {
    const std::string what(name);
    Handle type = detail::type_handle(H5Dget_type(dataset), path, what);
    const H5T_class_t found = H5Tget_class(type.get());
    if (found != expected) {
        const char* wanted = expected == H5T_FLOAT     ? "floating-point numbers"
                             : expected == H5T_INTEGER ? "integers"
                                                       : "strings";
        detail::throw_usage_error(path, what + ": the dataset does not hold " + wanted);
    }
    if (expected == H5T_STRING) {
        const htri_t variable = H5Tis_variable_str(type.get());
        check(variable, path, what);
        if (variable == 0) detail::throw_usage_error(path, what + ": the dataset holds fixed-length, not variable-length strings");
    } else {
        const std::size_t size = H5Tget_size(type.get());
        if (size == 0 || size > 8) detail::throw_usage_error(path, what + ": the dataset's numbers are " + std::to_string(size) + " bytes wide");
    }
    Handle space = detail::space_handle(H5Dget_space(dataset), path, what);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank != expected_rank)
        detail::throw_usage_error(path, what + ": expected a " + std::to_string(expected_rank) + "-D dataset, found rank " +
                                            std::to_string(rank));
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank), 0);
    check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), path, what);
    std::uint64_t bytes = element_bytes;
    for (const hsize_t d : dims) {
        if (d != 0 && bytes > budget / d)
            detail::throw_usage_error(path, what + ": its declared size is larger than the read limit of " +
                                                std::to_string(budget) + " bytes for a file of this size");
        bytes *= d;
    }
    return dims;
}

/// At most 40 bytes of text read from the file, control bytes escaped, for an error message.
std::string excerpt(std::string_view text) {
    std::string out;
    for (const char c : text.substr(0, 40)) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            constexpr char digits[] = "0123456789abcdef";
            out += "\\x";
            out += digits[byte >> 4];
            out += digits[byte & 15];
        } else {
            out += c;
        }
    }
    if (text.size() > 40) out += "...";
    return out;
}

Handle open_dataset(hid_t group, const std::string& where, const std::string& name, const std::string& path) {
    const htri_t exists = H5Lexists(group, name.c_str(), detail::default_plist);
    if (exists <= 0) {
        H5Eclear2(detail::default_stack);
        detail::throw_usage_error(path, "no dataset " + where + "/" + name);
    }
    Handle dataset = detail::dataset_handle(H5Dopen2(group, name.c_str(), detail::default_plist), path,
                                            "opening dataset " + where + "/" + name);
    return dataset;
}

template <class T>
std::vector<T> read_numbers(hid_t group, const std::string& where, const std::string& name, hid_t memory_type,
                            const std::string& path, std::uint64_t budget) {
    Handle dataset = open_dataset(group, where, name, path);
    constexpr H5T_class_t expected = std::is_floating_point_v<T> ? H5T_FLOAT : H5T_INTEGER;
    const std::vector<hsize_t> dims =
        checked_shape(dataset.get(), path, where + "/" + name, expected, 1, sizeof(T), budget);
    std::vector<T> values(dims[0]);
    if (!values.empty())
        check(H5Dread(dataset.get(), memory_type, detail::all_space, detail::all_space, detail::default_plist,
                      values.data()),
              path, "reading " + where + "/" + name);
    return values;
}

std::vector<std::string> read_strings(hid_t group, const std::string& where, const std::string& name,
                                      const std::string& path, std::uint64_t budget) {
    Handle dataset = open_dataset(group, where, name, path);
    // A variable-length string costs a pointer in memory and 16 bytes in the file.
    const hsize_t size = checked_shape(dataset.get(), path, where + "/" + name, H5T_STRING, 1, 16, budget)[0];
    std::vector<std::string> values;
    if (size == 0) return values;
    Handle type = detail::string_type(path);
    std::vector<char*> pointers(size, nullptr);
    check(H5Dread(dataset.get(), type.get(), detail::all_space, detail::all_space, detail::default_plist, pointers.data()),
          path, "reading " + where + "/" + name);
    Handle space = detail::space_handle(H5Dget_space(dataset.get()), path, name);
    struct Reclaim {
        hid_t type, space;
        std::vector<char*>& pointers;
        ~Reclaim() { H5Dvlen_reclaim(type, space, detail::default_plist, pointers.data()); }
    } reclaim{type.get(), space.get(), pointers};
    values.reserve(size);
    for (char* p : pointers) values.emplace_back(p ? p : "");
    return values;
}

std::string optional_string_attribute(hid_t object, const char* name, const std::string& path) {
    return detail::has_attribute(object, name, path) ? detail::read_string_attribute(object, name, path) : std::string();
}

/// Opens a group the format requires (a missing one means a damaged file).
Handle required_group(hid_t parent, const char* name, const std::string& path, std::string_view what) {
    const htri_t exists = H5Lexists(parent, name, detail::default_plist);
    if (exists <= 0) {
        H5Eclear2(detail::default_stack);
        detail::throw_usage_error(path, std::string("no ") + std::string(what));
    }
    Handle group = detail::group_handle(H5Gopen2(parent, name, detail::default_plist), path,
                                        std::string("opening ") + std::string(what));
    H5O_info_t info{};
    check(H5Oget_info2(group.get(), &info, H5O_INFO_BASIC), path, std::string("opening ") + std::string(what));
    if (info.type != H5O_TYPE_GROUP) detail::throw_usage_error(path, std::string(what) + " is not a group");
    return group;
}

}  // namespace

struct ResultsReader::Impl {
    std::filesystem::path path;
    std::string name;
    Handle file;
    std::uint64_t budget = 0;

    Handle scenario(std::string_view scenario_name) const {
        if (!detail::valid_link_name(scenario_name))
            not_in_file(name, std::string("no scenario named '") + std::string(scenario_name) + "'");
        const htri_t exists = H5Lexists(file.get(), std::string(scenario_name).c_str(), detail::default_plist);
        if (exists < 0) H5Eclear2(detail::default_stack);
        if (exists <= 0) not_in_file(name, std::string("no scenario named '") + std::string(scenario_name) + "'");
        return required_group(file.get(), std::string(scenario_name).c_str(), name,
                              "scenario group '" + std::string(scenario_name) + "'");
    }

    /// One series: its axes, attributes and checked shape; its values too when with_values
    /// (of the replications [first, first + count) only when count is given).
    SeriesData series(std::string_view scenario_name, std::string_view series_name, bool with_values,
                      std::uint32_t first = 0, std::optional<std::uint32_t> count = std::nullopt) const;
};

ResultsReader::ResultsReader(std::filesystem::path path) : ResultsReader(std::move(path), true) {}

ResultsReader ResultsReader::open_own_file(std::filesystem::path path) {
    ResultsReader reader(std::move(path), false);
    reader.validate();
    return reader;
}

namespace {

/// Reads everything the file holds, series values too (the child's work).
void read_whole_file(const ResultsReader& reader) {
    reader.validate();
    for (const std::string& scenario : reader.scenarios())
        for (const std::string& series : reader.series_names(scenario)) (void)reader.read_series(scenario, series);
}

}  // namespace

ResultsReader::ResultsReader(std::filesystem::path path, bool check_first) : impl_(std::make_unique<Impl>()) {
    impl_->path = std::move(path);
    impl_->name = impl_->path.string();
    detail::LibraryCall call;
    std::error_code error;
    if (!std::filesystem::is_regular_file(impl_->path, error)) not_in_file(impl_->name, "no such file");
    const std::uintmax_t size = std::filesystem::file_size(impl_->path, error);
    if (error) not_in_file(impl_->name, "cannot read its size: " + error.message());
    impl_->budget = read_budget(size);
    const std::uint64_t extra = size / max_results_check_bytes_per_second;
    const unsigned check_seconds =
        max_results_check_seconds + static_cast<unsigned>(std::min<std::uint64_t>(extra, 86400));
    if (check_first) {
        // The library lock (held) keeps HDF5's state consistent in the child.
        const detail::ChildRead check = detail::read_in_child(check_seconds, [&] {
            const ResultsReader reader(impl_->path, false);
            read_whole_file(reader);
        });
        const std::string prefix = std::string(invalid_prefix) + impl_->name + ": ";
        switch (check.outcome) {
        case detail::ChildRead::Outcome::ok: break;
        case detail::ChildRead::Outcome::timed_out:
            throw ResultsError(prefix + "reading it used more than the limit of " + std::to_string(check_seconds) +
                                   " CPU-seconds for a file of this size (max_results_check_seconds)",
                               impl_->name);
        case detail::ChildRead::Outcome::crashed:
            throw ResultsError(prefix + "the HDF5 library crashed reading it (signal " + std::to_string(check.signal) +
                                   ", in the process that checks a file before it is opened)",
                               impl_->name);
        case detail::ChildRead::Outcome::stuck:
            throw ResultsError(impl_->name + ": cannot check the results file: " + check.message, impl_->name);
        case detail::ChildRead::Outcome::failed:
            if (check.message.starts_with(invalid_prefix)) throw ResultsError(check.message, impl_->name);
            throw ResultsError(prefix + (check.message.empty() ? std::string("the check failed") : check.message),
                               impl_->name);
        }
    }
    guarded(impl_->name, [&] {
        impl_->file = detail::file_handle(H5Fopen(impl_->path.c_str(), H5F_ACC_RDONLY, detail::default_plist),
                                          impl_->name, "cannot open as HDF5");
        const hid_t root = impl_->file.get();
        if (!detail::has_attribute(root, "format", impl_->name))
            detail::throw_usage_error(impl_->name, "no format attribute (expected 'twinsim-results')");
        const std::string format = detail::read_string_attribute(root, "format", impl_->name);
        if (format != results_format_name)
            detail::throw_usage_error(impl_->name, "format attribute is '" + excerpt(format) + "', expected 'twinsim-results'");
    });
}

ResultsReader::~ResultsReader() {
    if (impl_) {
        detail::LibraryCall call;
        impl_->file.reset();
    }
}

ResultsReader::ResultsReader(ResultsReader&&) noexcept = default;
ResultsReader& ResultsReader::operator=(ResultsReader&& other) noexcept {
    if (this != &other) {
        if (impl_) {
            detail::LibraryCall call;
            impl_->file.reset();
        }
        impl_ = std::move(other.impl_);
    }
    return *this;
}

const std::filesystem::path& ResultsReader::path() const noexcept { return impl_->path; }

FileAttributes ResultsReader::attributes() const {
    detail::LibraryCall call;
    const hid_t root = impl_->file.get();
    const std::string& name = impl_->name;
    return guarded(name, [&] {
        FileAttributes attributes;
        attributes.format = detail::read_string_attribute(root, "format", name);
        attributes.format_version = detail::read_string_attribute(root, "format_version", name);
        attributes.twinsim_version = detail::read_string_attribute(root, "twinsim_version", name);
        attributes.created = detail::read_string_attribute(root, "created", name);
        attributes.identity.base_graph_source = optional_string_attribute(root, "base_graph_source", name);
        attributes.identity.base_graph_version = optional_string_attribute(root, "base_graph_version", name);
        attributes.identity.description = optional_string_attribute(root, "description", name);
        return attributes;
    });
}

std::vector<std::string> ResultsReader::scenarios() const {
    detail::LibraryCall call;
    return guarded(impl_->name, [&] {
        Handle root = detail::group_handle(H5Gopen2(impl_->file.get(), "/", detail::default_plist), impl_->name,
                                           "opening the root group");
        return detail::link_names(root.get(), impl_->name);
    });
}

ScenarioDefinition ResultsReader::scenario(std::string_view scenario_name) const {
    detail::LibraryCall call;
    const std::string& name = impl_->name;
    return guarded(name, [&] {
        Handle group = impl_->scenario(scenario_name);
        const hid_t g = group.get();
        ScenarioDefinition definition;
        definition.name = std::string(scenario_name);
        definition.description = optional_string_attribute(g, "description", name);
        definition.spec_json = detail::read_string_attribute(g, "spec", name);
        definition.parameters_json = detail::read_string_attribute(g, "parameters", name);
        definition.seed = detail::read_uint_attribute(g, "seed", name);
        const std::uint64_t replications = detail::read_uint_attribute(g, "replications", name);
        if (replications == 0 || replications > std::numeric_limits<std::uint32_t>::max())
            detail::throw_usage_error(name, "scenario '" + definition.name + "': replications = " +
                                                std::to_string(replications) + " is not in 1..2^32-1");
        definition.replications = static_cast<std::uint32_t>(replications);
        definition.start = detail::read_string_attribute(g, "start", name);
        return definition;
    });
}

std::vector<std::string> ResultsReader::series_names(std::string_view scenario_name) const {
    detail::LibraryCall call;
    return guarded(impl_->name, [&] {
        Handle scenario = impl_->scenario(scenario_name);
        Handle series = required_group(scenario.get(), "series", impl_->name,
                                       "series group in scenario '" + std::string(scenario_name) + "'");
        return detail::link_names(series.get(), impl_->name);
    });
}

SeriesData ResultsReader::read_series(std::string_view scenario_name, std::string_view series_name) const {
    detail::LibraryCall call;
    return guarded(impl_->name, [&] { return impl_->series(scenario_name, series_name, true); });
}

SeriesData ResultsReader::series_info(std::string_view scenario_name, std::string_view series_name) const {
    detail::LibraryCall call;
    return guarded(impl_->name, [&] { return impl_->series(scenario_name, series_name, false); });
}

std::vector<double> ResultsReader::read_series_replications(std::string_view scenario_name, std::string_view series_name,
                                                            std::uint32_t first, std::uint32_t count) const {
    detail::LibraryCall call;
    return guarded(impl_->name, [&] { return impl_->series(scenario_name, series_name, true, first, count).values; });
}

StoredSeriesChunks ResultsReader::read_series_chunks(std::string_view scenario_name, std::string_view series_name,
                                                     std::uint32_t first, std::uint32_t count) const {
    detail::LibraryCall call;
    const std::string& name = impl_->name;
    return guarded(name, [&] {
        // Checks the series' axes and shape as every read does.
        const SeriesData info = impl_->series(scenario_name, series_name, false);
        const std::string where = std::string(scenario_name) + "/series/" + std::string(series_name);
        if (static_cast<std::uint64_t>(first) + count > info.replications)
            not_in_file(name, where + ": replications " + std::to_string(first) + " to " +
                                  std::to_string(static_cast<std::uint64_t>(first) + count) + " are past its " +
                                  std::to_string(info.replications) + " replications");
        Handle scenario = impl_->scenario(scenario_name);
        Handle all = required_group(scenario.get(), "series", name, "series group in scenario '" + std::string(scenario_name) + "'");
        Handle group = required_group(all.get(), std::string(series_name).c_str(), name, "series group " + where);
        Handle dataset = open_dataset(group.get(), where, std::string(series_name), name);
        const hid_t d = dataset.get();
        StoredSeriesChunks out;
        detail::stored_layout(d, name, where, out);
        if (out.chunk[0] != 1 || out.chunk[1] == 0 || out.chunk[2] == 0) {
            out.chunk = {};  // not one replication per chunk: the caller reads values
            return out;
        }
        std::uint64_t total = 0;
        for (std::uint64_t r = first; r < static_cast<std::uint64_t>(first) + count; ++r)
            for (std::uint64_t t = 0; t < out.dims[1]; t += out.chunk[1])
                for (std::uint64_t w = 0; w < out.dims[2]; w += out.chunk[2]) {
                    const hsize_t offset[3] = {r, t, w};
                    hsize_t size = 0;
                    haddr_t address = HADDR_UNDEF;
                    unsigned mask = 0;
                    check(H5Dget_chunk_info_by_coord(d, offset, &mask, &address, &size), name,
                          "locating a chunk of " + where);
                    if (address == HADDR_UNDEF || size == 0) continue;  // never written: the fill value (NaN)
                    total += size;
                    if (total > impl_->budget)
                        detail::throw_usage_error(name, where + ": its stored chunks exceed the reading limit of " +
                                                            std::to_string(impl_->budget) + " bytes for a file of this size");
                    StoredSeriesChunks::Chunk& chunk = out.chunks.emplace_back();
                    chunk.offset = {r, t, w};
                    chunk.bytes.resize(size);
                    check(H5Dread_chunk(d, detail::default_plist, offset, &chunk.filter_mask, chunk.bytes.data()), name,
                          "reading a chunk of " + where);
                }
        return out;
    });
}

void ResultsReader::validate() const {
    detail::LibraryCall call;
    const std::string& name = impl_->name;
    try {
        guarded(name, [&] {
            (void)attributes();
            (void)shard();
            for (const std::string& scenario_name : scenarios()) {
                (void)scenario(scenario_name);
                for (const std::string& series_name : series_names(scenario_name))
                    (void)impl_->series(scenario_name, series_name, false);
                (void)read_events(scenario_name);
                (void)read_kpis(scenario_name);
            }
        });
    } catch (const NotInFile& e) {
        // A name the file lists but cannot find again: the file contradicts itself.
        throw ResultsError(std::string(invalid_prefix) + e.what(), name);
    }
}

SeriesData ResultsReader::Impl::series(std::string_view scenario_name, std::string_view series_name,
                                       bool with_values, std::uint32_t first, std::optional<std::uint32_t> count) const {
    {
        Handle scenario = this->scenario(scenario_name);
        const std::string where = std::string(scenario_name) + "/series/" + std::string(series_name);
        Handle all = required_group(scenario.get(), "series", name,
                                    "series group in scenario '" + std::string(scenario_name) + "'");
        if (!detail::valid_link_name(series_name) ||
            H5Lexists(all.get(), std::string(series_name).c_str(), detail::default_plist) <= 0) {
            H5Eclear2(detail::default_stack);
            not_in_file(name, "no series named '" + std::string(series_name) + "' in scenario '" +
                                  std::string(scenario_name) + "'");
        }
        Handle group = required_group(all.get(), std::string(series_name).c_str(), name, "series group " + where);
        const hid_t g = group.get();
        SeriesData data;
        data.name = std::string(series_name);
        data.twin_ids = read_strings(g, where, "twin", name, budget);
        data.times = read_numbers<double>(g, where, "time", detail::native_double(), name, budget);
        data.replications =
            static_cast<std::uint32_t>(read_numbers<std::uint32_t>(g, where, "replication", detail::native_uint32(), name, budget).size());
        Handle dataset = open_dataset(g, where, data.name, name);
        const hid_t d = dataset.get();
        data.unit = optional_string_attribute(d, "units", name);
        data.model = optional_string_attribute(d, "model", name);
        data.property = optional_string_attribute(d, "property", name);
        data.description = optional_string_attribute(d, "long_name", name);
        const std::vector<hsize_t> dims = checked_shape(d, name, where + "/" + data.name, H5T_FLOAT, 3, sizeof(double), budget);
        if (dims[0] != data.replications || dims[1] != data.times.size() || dims[2] != data.twin_ids.size())
            detail::throw_usage_error(name, where + ": the dataset's shape does not match its dimension scales");
        if (!with_values) return data;
        if (count) {
            if (static_cast<std::uint64_t>(first) + *count > dims[0])
                not_in_file(name, where + ": replications " + std::to_string(first) + " to " +
                                      std::to_string(static_cast<std::uint64_t>(first) + *count) + " are past its " +
                                      std::to_string(dims[0]) + " replications");
            data.values.resize(std::size_t{*count} * dims[1] * dims[2]);
            if (data.values.empty()) return data;
            Handle file_space = detail::space_handle(H5Dget_space(d), name, where);
            const hsize_t offset[3] = {first, 0, 0};
            const hsize_t block[3] = {*count, dims[1], dims[2]};
            check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, offset, nullptr, block, nullptr), name,
                  std::string("selecting replications of ") + where);
            Handle memory = detail::space_handle(H5Screate_simple(3, block, nullptr), name, where);
            check(H5Dread(d, detail::native_double(), memory.get(), file_space.get(), detail::default_plist,
                          data.values.data()),
                  name, std::string("reading ") + where);
            return data;
        }
        data.values.resize(dims[0] * dims[1] * dims[2]);
        if (!data.values.empty())
            check(H5Dread(d, detail::native_double(), detail::all_space, detail::all_space, detail::default_plist,
                          data.values.data()),
                  name, std::string("reading ") + where);
        return data;
    }
}

std::vector<EventRecord> ResultsReader::read_events(std::string_view scenario_name) const {
    detail::LibraryCall call;
    const std::string& name = impl_->name;
    const std::uint64_t budget = impl_->budget;
    return guarded(name, [&] {
        Handle scenario = impl_->scenario(scenario_name);
        const std::string where = std::string(scenario_name) + "/events";
        Handle group = required_group(scenario.get(), "events", name,
                                      "event table in scenario '" + std::string(scenario_name) + "'");
        const hid_t g = group.get();
        const auto replications = read_numbers<std::uint32_t>(g, where, "replication", detail::native_uint32(), name, budget);
        const auto times = read_numbers<double>(g, where, "time", detail::native_double(), name, budget);
        const auto twins = read_strings(g, where, "twin", name, budget);
        const auto types = read_strings(g, where, "type", name, budget);
        const auto details = read_strings(g, where, "detail", name, budget);
        const std::size_t n = replications.size();
        if (times.size() != n || twins.size() != n || types.size() != n || details.size() != n)
            detail::throw_usage_error(name, std::string(scenario_name) + "/events: columns of different lengths");
        std::vector<EventRecord> events(n);
        for (std::size_t i = 0; i < n; ++i) events[i] = {replications[i], times[i], twins[i], types[i], details[i]};
        return events;
    });
}

std::vector<KpiRow> ResultsReader::read_kpis(std::string_view scenario_name) const {
    detail::LibraryCall call;
    const std::string& name = impl_->name;
    const std::uint64_t budget = impl_->budget;
    return guarded(name, [&] {
        Handle scenario = impl_->scenario(scenario_name);
        const std::string where = std::string(scenario_name) + "/kpis";
        Handle group = required_group(scenario.get(), "kpis", name,
                                      "KPI table in scenario '" + std::string(scenario_name) + "'");
        const hid_t g = group.get();
        const auto names = read_strings(g, where, "name", name, budget);
        const auto selections = read_strings(g, where, "selection", name, budget);
        const auto statistics = read_strings(g, where, "statistic", name, budget);
        const auto replications = read_numbers<std::int32_t>(g, where, "replication", detail::native_int32(), name, budget);
        const auto aggregates = read_strings(g, where, "aggregate", name, budget);
        const auto values = read_numbers<double>(g, where, "value", detail::native_double(), name, budget);
        const auto units = read_strings(g, where, "unit", name, budget);
        const std::size_t n = names.size();
        if (selections.size() != n || statistics.size() != n || replications.size() != n || aggregates.size() != n ||
            values.size() != n || units.size() != n)
            detail::throw_usage_error(name, std::string(scenario_name) + "/kpis: columns of different lengths");
        std::vector<KpiRow> rows(n);
        for (std::size_t i = 0; i < n; ++i)
            rows[i] = {names[i], selections[i], statistics[i], replications[i], aggregates[i], values[i], units[i]};
        return rows;
    });
}

std::optional<ShardIdentity> ResultsReader::shard() const {
    detail::LibraryCall call;
    const hid_t root = impl_->file.get();
    const std::string& name = impl_->name;
    return guarded(name, [&]() -> std::optional<ShardIdentity> {
        if (!detail::has_attribute(root, "shard_job", name)) return std::nullopt;
        ShardIdentity shard;
        shard.job = detail::read_string_attribute(root, "shard_job", name);
        shard.index = static_cast<std::uint32_t>(detail::read_uint_attribute(root, "shard_index", name));
        shard.count = static_cast<std::uint32_t>(detail::read_uint_attribute(root, "shard_count", name));
        return shard;
    });
}

ShardRuns ResultsReader::read_shard_runs(std::string_view scenario_name) const {
    detail::LibraryCall call;
    const std::string& name = impl_->name;
    Handle scenario = guarded(name, [&] { return impl_->scenario(scenario_name); });
    const std::string what = "the shard runs of scenario '" + std::string(scenario_name) + "'";
    const htri_t exists = H5Lexists(scenario.get(), "shard_runs", detail::default_plist);
    if (exists <= 0) {
        H5Eclear2(detail::default_stack);
        not_in_file(name, what + " are missing (not a shard written by twinsim run --shard?)");
    }
    bool binary = false;
    const std::string text = guarded(name, [&] {
        Handle dataset = open_dataset(scenario.get(), std::string(scenario_name), "shard_runs", name);
        Handle type = detail::type_handle(H5Dget_type(dataset.get()), name, what);
        Handle space = detail::space_handle(H5Dget_space(dataset.get()), name, what);
        if (H5Tget_class(type.get()) == H5T_INTEGER && H5Tget_size(type.get()) == 1) {
            // The binary form: a 1-D dataset of bytes.
            if (H5Sget_simple_extent_ndims(space.get()) != 1) detail::throw_usage_error(name, what + ": not 1-D bytes");
            const hssize_t n = H5Sget_simple_extent_npoints(space.get());
            if (n < 0) detail::throw_usage_error(name, what + ": no extent");
            // Only bytes the file stores (a forged extent cannot make the reader allocate more).
            if (static_cast<hsize_t>(n) > H5Dget_storage_size(dataset.get()))
                detail::throw_usage_error(name, what + ": " + std::to_string(n) + " bytes, but the file stores " +
                                                    std::to_string(H5Dget_storage_size(dataset.get())));
            std::string bytes(static_cast<std::size_t>(n), '\0');
            if (n > 0)
                check(H5Dread(dataset.get(), H5T_NATIVE_UINT8, detail::all_space, detail::all_space, detail::default_plist,
                              bytes.data()),
                      name, "reading " + what);
            binary = true;
            return bytes;
        }
        if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) <= 0)
            detail::throw_usage_error(name, what + ": neither bytes nor a variable-length string");
        if (H5Sget_simple_extent_npoints(space.get()) != 1)
            detail::throw_usage_error(name, what + ": not a single string");
        Handle memory_type = detail::string_type(name);
        char* pointer = nullptr;
        check(H5Dread(dataset.get(), memory_type.get(), detail::all_space, detail::all_space, detail::default_plist,
                      &pointer),
              name, "reading " + what);
        std::string value = pointer != nullptr ? pointer : "";
        H5Dvlen_reclaim(memory_type.get(), space.get(), detail::default_plist, &pointer);
        return value;
    });
    try {
        return binary ? decode_shard_runs_binary(text) : decode_shard_runs(text);
    } catch (const std::invalid_argument& e) {
        detail::throw_usage_error(name, what + ": " + e.what());
    }
}

}  // namespace twinsim::io
