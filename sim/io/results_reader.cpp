#include "twinsim/io/results_reader.hpp"

#include "twinsim/io/detail/hdf5.hpp"

namespace twinsim::io {

using detail::check;
using detail::Handle;

namespace {

hsize_t length_of(hid_t dataset, const std::string& path, std::string_view what) {
    Handle space = detail::space_handle(H5Dget_space(dataset), path, what);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank != 1) detail::throw_usage_error(path, std::string(what) + ": expected a 1-D dataset");
    hsize_t size = 0;
    check(H5Sget_simple_extent_dims(space.get(), &size, nullptr), path, what);
    return size;
}

Handle open_dataset(hid_t group, const std::string& name, const std::string& path) {
    return detail::dataset_handle(H5Dopen2(group, name.c_str(), detail::default_plist), path, std::string("opening dataset ") + name);
}

template <class T>
std::vector<T> read_numbers(hid_t group, const std::string& name, hid_t memory_type, const std::string& path) {
    Handle dataset = open_dataset(group, name, path);
    std::vector<T> values(length_of(dataset.get(), path, name));
    if (!values.empty())
        check(H5Dread(dataset.get(), memory_type, detail::all_space, detail::all_space, detail::default_plist,
                      values.data()),
              path, std::string("reading ") + name);
    return values;
}

std::vector<std::string> read_strings(hid_t group, const std::string& name, const std::string& path) {
    Handle dataset = open_dataset(group, name, path);
    const hsize_t size = length_of(dataset.get(), path, name);
    std::vector<std::string> values;
    if (size == 0) return values;
    Handle type = detail::string_type(path);
    std::vector<char*> pointers(size, nullptr);
    check(H5Dread(dataset.get(), type.get(), detail::all_space, detail::all_space, detail::default_plist, pointers.data()),
          path, std::string("reading ") + name);
    values.reserve(size);
    for (char* p : pointers) values.emplace_back(p ? p : "");
    Handle space = detail::space_handle(H5Dget_space(dataset.get()), path, name);
    H5Dvlen_reclaim(type.get(), space.get(), detail::default_plist, pointers.data());
    return values;
}

std::string optional_string_attribute(hid_t object, const char* name, const std::string& path) {
    return detail::has_attribute(object, name, path) ? detail::read_string_attribute(object, name, path) : std::string();
}

}  // namespace

struct ResultsReader::Impl {
    std::filesystem::path path;
    std::string name;
    Handle file;

    Handle group(const std::string& group_path) const {
        const htri_t exists = H5Lexists(file.get(), group_path.c_str(), detail::default_plist);
        if (exists <= 0) {
            H5Eclear2(detail::default_stack);
            detail::throw_usage_error(name, std::string("no group '") + group_path + "'");
        }
        return detail::group_handle(H5Gopen2(file.get(), group_path.c_str(), detail::default_plist), name,
                                    std::string("opening group ") + group_path);
    }

    Handle scenario(std::string_view scenario_name) const {
        if (!detail::valid_link_name(scenario_name))
            detail::throw_usage_error(name, std::string("no scenario named '") + std::string(scenario_name) + "'");
        const htri_t exists = H5Lexists(file.get(), std::string(scenario_name).c_str(), detail::default_plist);
        if (exists <= 0) detail::throw_usage_error(name, std::string("no scenario named '") + std::string(scenario_name) + "'");
        std::string group_path(1, '/');
        group_path.append(scenario_name);
        return group(group_path);
    }
};

ResultsReader::ResultsReader(std::filesystem::path path) : impl_(std::make_unique<Impl>()) {
    impl_->path = std::move(path);
    impl_->name = impl_->path.string();
    detail::LibraryCall call;
    std::error_code error;
    if (!std::filesystem::is_regular_file(impl_->path, error)) detail::throw_usage_error(impl_->name, "no such file");
    impl_->file = detail::file_handle(H5Fopen(impl_->path.c_str(), H5F_ACC_RDONLY, detail::default_plist), impl_->name,
                                      "cannot open as HDF5");
    const hid_t root = impl_->file.get();
    if (!detail::has_attribute(root, "format", impl_->name) ||
        detail::read_string_attribute(root, "format", impl_->name) != results_format_name)
        detail::throw_usage_error(impl_->name, "not a twinsim results file (no format = \"twinsim-results\" attribute)");
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
    FileAttributes attributes;
    attributes.format = detail::read_string_attribute(root, "format", name);
    attributes.format_version = detail::read_string_attribute(root, "format_version", name);
    attributes.twinsim_version = detail::read_string_attribute(root, "twinsim_version", name);
    attributes.created = detail::read_string_attribute(root, "created", name);
    attributes.identity.base_graph_source = optional_string_attribute(root, "base_graph_source", name);
    attributes.identity.base_graph_version = optional_string_attribute(root, "base_graph_version", name);
    attributes.identity.description = optional_string_attribute(root, "description", name);
    return attributes;
}

std::vector<std::string> ResultsReader::scenarios() const {
    detail::LibraryCall call;
    Handle root = detail::group_handle(H5Gopen2(impl_->file.get(), "/", detail::default_plist), impl_->name,
                                       "opening the root group");
    return detail::link_names(root.get(), impl_->name);
}

ScenarioDefinition ResultsReader::scenario(std::string_view scenario_name) const {
    detail::LibraryCall call;
    Handle group = impl_->scenario(scenario_name);
    const std::string& name = impl_->name;
    const hid_t g = group.get();
    ScenarioDefinition definition;
    definition.name = std::string(scenario_name);
    definition.description = optional_string_attribute(g, "description", name);
    definition.spec_json = detail::read_string_attribute(g, "spec", name);
    definition.parameters_json = detail::read_string_attribute(g, "parameters", name);
    definition.seed = detail::read_uint_attribute(g, "seed", name);
    definition.replications = static_cast<std::uint32_t>(detail::read_uint_attribute(g, "replications", name));
    definition.start = detail::read_string_attribute(g, "start", name);
    return definition;
}

std::vector<std::string> ResultsReader::series_names(std::string_view scenario_name) const {
    detail::LibraryCall call;
    Handle scenario = impl_->scenario(scenario_name);
    Handle series = detail::group_handle(H5Gopen2(scenario.get(), "series", detail::default_plist), impl_->name,
                                         "opening the series group");
    return detail::link_names(series.get(), impl_->name);
}

SeriesData ResultsReader::read_series(std::string_view scenario_name, std::string_view series_name) const {
    detail::LibraryCall call;
    const std::string& name = impl_->name;
    Handle scenario = impl_->scenario(scenario_name);
    if (!detail::valid_link_name(series_name))
        detail::throw_usage_error(name, std::string("no series named '") + std::string(series_name) + "'");
    std::string group_path(1, '/');
    group_path.append(scenario_name).append("/series/").append(series_name);
    Handle group = impl_->group(group_path);
    const hid_t g = group.get();
    SeriesData data;
    data.name = std::string(series_name);
    data.twin_ids = read_strings(g, "twin", name);
    data.times = read_numbers<double>(g, "time", detail::native_double(), name);
    data.replications = static_cast<std::uint32_t>(read_numbers<std::uint32_t>(g, "replication", detail::native_uint32(), name).size());
    Handle dataset = open_dataset(g, data.name, name);
    const hid_t d = dataset.get();
    data.unit = optional_string_attribute(d, "units", name);
    data.model = optional_string_attribute(d, "model", name);
    data.property = optional_string_attribute(d, "property", name);
    data.description = optional_string_attribute(d, "long_name", name);
    Handle space = detail::space_handle(H5Dget_space(d), name, std::string("reading ") + data.name);
    hsize_t dims[3] = {0, 0, 0};
    if (H5Sget_simple_extent_ndims(space.get()) != 3)
        detail::throw_usage_error(name, group_path + ": the series dataset is not 3-D");
    check(H5Sget_simple_extent_dims(space.get(), dims, nullptr), name, std::string("reading ") + data.name);
    if (dims[0] != data.replications || dims[1] != data.times.size() || dims[2] != data.twin_ids.size())
        detail::throw_usage_error(name, group_path + ": the dataset's shape does not match its dimension scales");
    data.values.resize(dims[0] * dims[1] * dims[2]);
    if (!data.values.empty())
        check(H5Dread(d, detail::native_double(), detail::all_space, detail::all_space, detail::default_plist,
                      data.values.data()),
              name, std::string("reading ") + data.name);
    return data;
}

std::vector<EventRecord> ResultsReader::read_events(std::string_view scenario_name) const {
    detail::LibraryCall call;
    const std::string& name = impl_->name;
    Handle scenario = impl_->scenario(scenario_name);
    Handle group = detail::group_handle(H5Gopen2(scenario.get(), "events", detail::default_plist), name,
                                        "opening the event table");
    const hid_t g = group.get();
    const auto replications = read_numbers<std::uint32_t>(g, "replication", detail::native_uint32(), name);
    const auto times = read_numbers<double>(g, "time", detail::native_double(), name);
    const auto twins = read_strings(g, "twin", name);
    const auto types = read_strings(g, "type", name);
    const auto details = read_strings(g, "detail", name);
    const std::size_t n = replications.size();
    if (times.size() != n || twins.size() != n || types.size() != n || details.size() != n)
        detail::throw_usage_error(name, std::string(scenario_name) + "/events: columns of different lengths");
    std::vector<EventRecord> events(n);
    for (std::size_t i = 0; i < n; ++i) events[i] = {replications[i], times[i], twins[i], types[i], details[i]};
    return events;
}

std::vector<KpiRow> ResultsReader::read_kpis(std::string_view scenario_name) const {
    detail::LibraryCall call;
    const std::string& name = impl_->name;
    Handle scenario = impl_->scenario(scenario_name);
    Handle group = detail::group_handle(H5Gopen2(scenario.get(), "kpis", detail::default_plist), name,
                                        "opening the KPI table");
    const hid_t g = group.get();
    const auto names = read_strings(g, "name", name);
    const auto selections = read_strings(g, "selection", name);
    const auto statistics = read_strings(g, "statistic", name);
    const auto replications = read_numbers<std::int32_t>(g, "replication", detail::native_int32(), name);
    const auto aggregates = read_strings(g, "aggregate", name);
    const auto values = read_numbers<double>(g, "value", detail::native_double(), name);
    const auto units = read_strings(g, "unit", name);
    const std::size_t n = names.size();
    if (selections.size() != n || statistics.size() != n || replications.size() != n || aggregates.size() != n ||
        values.size() != n || units.size() != n)
        detail::throw_usage_error(name, std::string(scenario_name) + "/kpis: columns of different lengths");
    std::vector<KpiRow> rows(n);
    for (std::size_t i = 0; i < n; ++i)
        rows[i] = {names[i], selections[i], statistics[i], replications[i], aggregates[i], values[i], units[i]};
    return rows;
}

std::optional<ShardIdentity> ResultsReader::shard() const {
    detail::LibraryCall call;
    const hid_t root = impl_->file.get();
    const std::string& name = impl_->name;
    if (!detail::has_attribute(root, "shard_job", name)) return std::nullopt;
    ShardIdentity shard;
    shard.job = detail::read_string_attribute(root, "shard_job", name);
    shard.index = static_cast<std::uint32_t>(detail::read_uint_attribute(root, "shard_index", name));
    shard.count = static_cast<std::uint32_t>(detail::read_uint_attribute(root, "shard_count", name));
    return shard;
}

ShardRuns ResultsReader::read_shard_runs(std::string_view scenario_name) const {
    detail::LibraryCall call;
    const std::string& name = impl_->name;
    Handle scenario = impl_->scenario(scenario_name);
    const std::string what = "the shard runs of scenario '" + std::string(scenario_name) + "'";
    const htri_t exists = H5Lexists(scenario.get(), "shard_runs", detail::default_plist);
    if (exists <= 0) {
        H5Eclear2(detail::default_stack);
        detail::throw_usage_error(name, what + " are missing (not a shard written by twinsim run --shard?)");
    }
    Handle dataset = open_dataset(scenario.get(), "shard_runs", name);
    Handle type = detail::string_type(name);
    char* pointer = nullptr;
    check(H5Dread(dataset.get(), type.get(), detail::all_space, detail::all_space, detail::default_plist, &pointer), name,
          "reading " + what);
    const std::string text = pointer != nullptr ? pointer : "";
    Handle space = detail::space_handle(H5Dget_space(dataset.get()), name, what);
    H5Dvlen_reclaim(type.get(), space.get(), detail::default_plist, &pointer);
    try {
        return decode_shard_runs(text);
    } catch (const std::invalid_argument& e) {
        detail::throw_usage_error(name, what + ": " + e.what());
    }
}

}  // namespace twinsim::io
