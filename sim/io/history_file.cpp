// The HDF5 history file (docs/history-format.md): written whole under a
// temporary name, read back with every dataset checked before it is read.
#include "twinsim/io/history_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>
#include <system_error>

#include "twinsim/io/detail/cf_time.hpp"
#include "twinsim/io/detail/checked_read.hpp"
#include "twinsim/io/detail/hdf5.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/io/results_format.hpp"

#ifndef TWINSIM_VERSION
#define TWINSIM_VERSION "unknown"
#endif

namespace twinsim::io {

using detail::check;
using detail::Handle;

namespace {

constexpr const char* format_name = "twinsim-history";
constexpr const char* format_version = "1.0";
constexpr std::uint64_t format_major = 1;

std::atomic<unsigned> temporary_counter{0};

// --- writing ------------------------------------------------------------------------------

struct Writer {
    std::string name;  // the final path, for messages
    hid_t group = -1;
    hid_t strings = -1;
    std::size_t rows = 0;
    Handle index;

    Handle dataset(const char* column, hid_t file_type) {
        const hsize_t size = rows;
        Handle space = detail::space_handle(H5Screate_simple(1, &size, nullptr), name, "creating a dataspace");
        return detail::dataset_handle(H5Dcreate2(group, column, file_type, space.get(), detail::default_plist,
                                                 detail::default_plist, detail::default_plist),
                                      name, std::string("creating dataset ") + column);
    }
    void attach(hid_t d, const char* column) {
        check(H5DSattach_scale(d, index.get(), 0), name, std::string("attaching dimension row to ") + column);
    }
    void write(hid_t d, hid_t memory_type, const void* data, const char* column) {
        if (rows == 0) return;
        check(H5Dwrite(d, memory_type, detail::all_space, detail::all_space, detail::default_plist, data), name,
              std::string("writing ") + column);
    }
    void start(hid_t parent, const char* group_name, std::size_t n, Handle& group_handle) {
        rows = n;
        Handle plist = detail::plist_handle(H5Pcreate(H5P_GROUP_CREATE), name, "creating group properties");
        check(H5Pset_link_creation_order(plist.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), name,
              "creating group properties");
        group_handle = detail::group_handle(
            H5Gcreate2(parent, group_name, detail::default_plist, plist.get(), detail::default_plist), name,
            std::string("creating group ") + group_name);
        group = group_handle.get();
        index = dataset("row", H5T_STD_I64LE);
        std::vector<std::int64_t> numbers(n);
        for (std::size_t i = 0; i < n; ++i) numbers[i] = static_cast<std::int64_t>(i);
        write(index.get(), detail::native_int64(), numbers.data(), "row");
        check(H5DSset_scale(index.get(), "row"), name, "making row a dimension scale");
    }
    void strings_column(const char* column, const std::vector<std::string>& values, const char* content_type = nullptr) {
        if (values.size() != rows) length_error(column, values.size());
        Handle d = dataset(column, strings);
        std::vector<const char*> pointers(values.size());
        for (std::size_t i = 0; i < values.size(); ++i) pointers[i] = values[i].c_str();
        write(d.get(), strings, pointers.data(), column);
        if (content_type != nullptr) detail::write_attribute(d.get(), "content_type", content_type, name);
        attach(d.get(), column);
    }
    void int_column(const char* column, const std::vector<std::int64_t>& values) {
        if (values.size() != rows) length_error(column, values.size());
        Handle d = dataset(column, H5T_STD_I64LE);
        write(d.get(), detail::native_int64(), values.data(), column);
        attach(d.get(), column);
    }
    void uint_column(const char* column, const std::vector<std::uint64_t>& values) {
        if (values.size() != rows) length_error(column, values.size());
        Handle d = dataset(column, H5T_STD_U64LE);
        write(d.get(), detail::native_uint64(), values.data(), column);
        attach(d.get(), column);
    }
    // CF time: float64 seconds since 1970-01-01 (NaN: none), with the exact ns beside it (time_ns).
    void time_column(const char* column, const std::vector<std::int64_t>& ns) {
        if (ns.size() != rows) length_error(column, ns.size());
        std::vector<double> seconds(ns.size());
        for (std::size_t i = 0; i < ns.size(); ++i)
            seconds[i] = ns[i] == no_time ? std::nan("") : static_cast<double>(ns[i]) / 1e9;
        Handle d = dataset(column, H5T_IEEE_F64LE);
        write(d.get(), detail::native_double(), seconds.data(), column);
        detail::write_attribute(d.get(), "units", detail::cf_time_units(Timestamp{0}), name);
        detail::write_attribute(d.get(), "calendar", "proleptic_gregorian", name);
        detail::write_attribute(d.get(), "standard_name", "time", name);
        attach(d.get(), column);
    }
    // The value as a number where it is one (NaN elsewhere), for plotting without parsing JSON.
    void number_column(const char* column, const std::vector<std::string>& json_values) {
        if (json_values.size() != rows) length_error(column, json_values.size());
        std::vector<double> numbers(json_values.size(), std::nan(""));
        for (std::size_t i = 0; i < json_values.size(); ++i) {
            const std::string& v = json_values[i];
            if (v.empty() || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))) continue;
            const nlohmann::json j = nlohmann::json::parse(v, nullptr, false);
            if (j.is_number()) numbers[i] = j.get<double>();
        }
        Handle d = dataset(column, H5T_IEEE_F64LE);
        write(d.get(), detail::native_double(), numbers.data(), column);
        attach(d.get(), column);
    }
    [[noreturn]] void length_error(const char* column, std::size_t n) const {
        detail::throw_usage_error(name, std::string("column ") + column + " has " + std::to_string(n) +
                                            " values for a table of " + std::to_string(rows) + " rows");
    }
};

void write_tables(hid_t root, const HistoryTables& t, Writer& w) {
    {
        const auto& p = t.property_updates;
        Handle g;
        w.start(root, "property_updates", p.time_ns.size(), g);
        w.time_column("time", p.time_ns);
        w.int_column("time_ns", p.time_ns);
        w.time_column("source_time", p.source_time_ns);
        w.int_column("source_time_ns", p.source_time_ns);
        w.strings_column("id", p.id);
        w.strings_column("model_id", p.model_id);
        w.strings_column("key", p.key);
        w.strings_column("value", p.value, "application/json");
        w.number_column("value_number", p.value);
        w.strings_column("unit", p.unit);
        w.strings_column("relationship_id", p.relationship_id);
        w.strings_column("relationship_target", p.relationship_target);
        w.strings_column("action", p.action);
        w.uint_column("sequence", p.sequence);
    }
    {
        const auto& p = t.twin_lifecycle;
        Handle g;
        w.start(root, "twin_lifecycle", p.time_ns.size(), g);
        w.time_column("time", p.time_ns);
        w.int_column("time_ns", p.time_ns);
        w.strings_column("twin_id", p.twin_id);
        w.strings_column("action", p.action);
        w.strings_column("model_id", p.model_id);
        w.uint_column("sequence", p.sequence);
    }
    {
        const auto& p = t.relationship_lifecycle;
        Handle g;
        w.start(root, "relationship_lifecycle", p.time_ns.size(), g);
        w.time_column("time", p.time_ns);
        w.int_column("time_ns", p.time_ns);
        w.strings_column("relationship_id", p.relationship_id);
        w.strings_column("name", p.name);
        w.strings_column("action", p.action);
        w.strings_column("source", p.source);
        w.strings_column("target", p.target);
        w.uint_column("sequence", p.sequence);
    }
    {
        const auto& p = t.telemetry;
        Handle g;
        w.start(root, "telemetry", p.time_ns.size(), g);
        w.time_column("time", p.time_ns);
        w.int_column("time_ns", p.time_ns);
        w.time_column("source_time", p.source_time_ns);
        w.int_column("source_time_ns", p.source_time_ns);
        w.strings_column("id", p.id);
        w.strings_column("model_id", p.model_id);
        w.strings_column("key", p.key);
        w.strings_column("value", p.value, "application/json");
        w.number_column("value_number", p.value);
        w.strings_column("unit", p.unit);
    }
    w.index.reset();
}

// --- reading ------------------------------------------------------------------------------

struct Reader {
    std::string name;
    std::uint64_t budget = 0;  // bytes the reader may allocate for the file's columns

    Handle open(hid_t group, const std::string& where, const char* column) const {
        const htri_t exists = H5Lexists(group, column, detail::default_plist);
        if (exists <= 0) {
            H5Eclear2(detail::default_stack);
            detail::throw_usage_error(name, "no dataset " + where + "/" + column);
        }
        return detail::dataset_handle(H5Dopen2(group, column, detail::default_plist), name,
                                      "opening dataset " + where + "/" + column);
    }
    // Checks the class and rank; returns the length.
    hsize_t length(hid_t d, const std::string& what, H5T_class_t expected, std::size_t element_bytes) {
        Handle type = detail::type_handle(H5Dget_type(d), name, what);
        if (H5Tget_class(type.get()) != expected)
            detail::throw_usage_error(name, what + ": the dataset does not hold " +
                                                (expected == H5T_STRING    ? std::string("strings")
                                                 : expected == H5T_INTEGER ? std::string("integers")
                                                                           : std::string("floating-point numbers")));
        if (expected == H5T_STRING) {
            if (H5Tis_variable_str(type.get()) <= 0)
                detail::throw_usage_error(name, what + ": the dataset holds fixed-length, not variable-length strings");
        } else if (H5Tget_size(type.get()) == 0 || H5Tget_size(type.get()) > 8) {
            detail::throw_usage_error(name, what + ": the dataset's numbers are wider than 8 bytes");
        }
        Handle space = detail::space_handle(H5Dget_space(d), name, what);
        if (H5Sget_simple_extent_ndims(space.get()) != 1) detail::throw_usage_error(name, what + ": expected a 1-D dataset");
        hsize_t n = 0;
        check(H5Sget_simple_extent_dims(space.get(), &n, nullptr), name, what);
        if (n > max_history_rows)
            detail::throw_usage_error(name, what + ": " + std::to_string(n) + " rows is more than the limit of " +
                                                std::to_string(max_history_rows));
        if (n != 0 && element_bytes > budget / n)
            detail::throw_usage_error(name, what + ": its declared size is larger than the read limit for a file of this size");
        budget -= n * element_bytes;
        return n;
    }
    template <class T>
    std::vector<T> numbers(hid_t group, const std::string& where, const char* column, hid_t memory_type, H5T_class_t cls) {
        Handle d = open(group, where, column);
        std::vector<T> out(length(d.get(), where + "/" + column, cls, sizeof(T)));
        if (!out.empty())
            check(H5Dread(d.get(), memory_type, detail::all_space, detail::all_space, detail::default_plist, out.data()),
                  name, "reading " + where + "/" + column);
        return out;
    }
    std::vector<std::int64_t> ints(hid_t g, const std::string& where, const char* column) {
        return numbers<std::int64_t>(g, where, column, detail::native_int64(), H5T_INTEGER);
    }
    std::vector<std::uint64_t> uints(hid_t g, const std::string& where, const char* column) {
        return numbers<std::uint64_t>(g, where, column, detail::native_uint64(), H5T_INTEGER);
    }
    std::vector<std::string> strings(hid_t g, const std::string& where, const char* column) {
        Handle d = open(g, where, column);
        const hsize_t n = length(d.get(), where + "/" + column, H5T_STRING, 16);
        std::vector<std::string> out;
        if (n == 0) return out;
        Handle type = detail::string_type(name);
        std::vector<char*> pointers(n, nullptr);
        check(H5Dread(d.get(), type.get(), detail::all_space, detail::all_space, detail::default_plist, pointers.data()),
              name, "reading " + where + "/" + column);
        Handle space = detail::space_handle(H5Dget_space(d.get()), name, column);
        out.reserve(n);
        for (char* p : pointers) out.emplace_back(p != nullptr ? p : "");
        H5Dvlen_reclaim(type.get(), space.get(), detail::default_plist, pointers.data());
        return out;
    }
    Handle group(hid_t root, const char* group_name) {
        const htri_t exists = H5Lexists(root, group_name, detail::default_plist);
        if (exists <= 0) {
            H5Eclear2(detail::default_stack);
            detail::throw_usage_error(name, std::string("no group /") + group_name);
        }
        return detail::group_handle(H5Gopen2(root, group_name, detail::default_plist), name,
                                    std::string("opening group /") + group_name);
    }
    void same_length(const std::string& where, std::size_t rows, std::initializer_list<std::size_t> lengths) {
        for (const std::size_t n : lengths)
            if (n != rows)
                detail::throw_usage_error(name, where + ": its columns have different lengths (" + std::to_string(rows) +
                                                    " and " + std::to_string(n) + ")");
    }
};

}  // namespace

HistoryFileCounts write_history_file(const std::filesystem::path& path, const HistoryTables& tables) {
    const std::string name = path.string();
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) detail::throw_usage_error(name, "is a directory");
    std::filesystem::path temporary = path;
    temporary += ".partial-" + std::to_string(::getpid()) + "-" + std::to_string(temporary_counter.fetch_add(1));
    auto disk = std::make_shared<detail::DiskFailure>();
    {
        detail::LibraryCall call;
        Handle file;
        try {
            Handle create = detail::plist_handle(H5Pcreate(H5P_FILE_CREATE), name, "creating file properties");
            check(H5Pset_link_creation_order(create.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), name,
                  "creating file properties");
            Handle access = detail::failsafe_file_access(disk, name);
            check(H5Pset_fclose_degree(access.get(), H5F_CLOSE_STRONG), name, "creating file properties");
            file = detail::file_handle(H5Fcreate(temporary.c_str(), H5F_ACC_EXCL, create.get(), access.get()), name,
                                       "cannot create the temporary file " + temporary.string());
            Handle strings = detail::string_type(name);
            const hid_t root = file.get();
            detail::write_attribute(root, "format", format_name, name);
            detail::write_attribute(root, "format_version", format_version, name);
            detail::write_attribute(root, "twinsim_version", TWINSIM_VERSION, name);
            detail::write_attribute(root, "created", format_timestamp(utc_now()), name);
            detail::write_attribute(root, "source", tables.source, name);
            Writer w{name, -1, strings.get(), 0, {}};
            write_tables(root, tables, w);
            strings.reset();
            check(H5Fflush(root, H5F_SCOPE_GLOBAL), name, "flushing the file");
            if (disk->failed())
                detail::throw_usage_error(name, "writing failed (" + disk->operation + ": " +
                                                    std::generic_category().message(disk->error) + ")");
            const hid_t id = file.release();
            check(H5Fclose(id), name, "closing the file");
            if (disk->failed())
                detail::throw_usage_error(name, "writing failed (" + disk->operation + ": " +
                                                    std::generic_category().message(disk->error) + ")");
        } catch (...) {
            file.reset();
            std::filesystem::remove(temporary, error);
            throw;
        }
    }
    std::filesystem::rename(temporary, path, error);
    if (error) {
        std::error_code ignored;
        std::filesystem::remove(temporary, ignored);
        throw ResultsError(name + ": renaming " + temporary.string() + " into place failed: " + error.message(), name);
    }
    return {tables.property_updates.time_ns.size(), tables.twin_lifecycle.time_ns.size(),
            tables.relationship_lifecycle.time_ns.size(), tables.telemetry.time_ns.size()};
}

namespace {

HistoryTables read_unchecked(const std::filesystem::path& path);

}  // namespace

HistoryTables read_history_file(const std::filesystem::path& path) {
    const std::string name = path.string();
    std::error_code error;
    const auto size = std::filesystem::file_size(path, error);
    if (error) throw ResultsError(name + ": cannot read the history file (" + error.message() + ")", name);
    // Read it once in a child under a time limit first, as the results
    // reader does: HDF5 can crash or loop on damage no outside check sees.
    const unsigned seconds = max_results_check_seconds +
                             static_cast<unsigned>(std::min<std::uint64_t>(size / max_results_check_bytes_per_second, 86400));
    detail::LibraryCall call;
    const detail::ChildRead check = detail::read_in_child(seconds, [&] { (void)read_unchecked(path); });
    switch (check.outcome) {
    case detail::ChildRead::Outcome::ok: break;
    case detail::ChildRead::Outcome::timed_out:
        throw ResultsError(name + ": not a readable history file: reading it used more than the limit of " +
                               std::to_string(seconds) + " CPU-seconds for a file of this size",
                           name);
    case detail::ChildRead::Outcome::crashed:
        throw ResultsError(name + ": not a readable history file: the HDF5 library crashed reading it (signal " +
                               std::to_string(check.signal) + ", in the process that checks a file before it is read)",
                           name);
    case detail::ChildRead::Outcome::stuck:
        throw ResultsError(name + ": cannot check the history file: " + check.message, name);
    case detail::ChildRead::Outcome::failed:
        throw ResultsError(check.message.empty() ? name + ": not a readable history file" : check.message, name);
    }
    return read_unchecked(path);
}

namespace {

HistoryTables read_unchecked(const std::filesystem::path& path) {
    const std::string name = path.string();
    std::error_code error;
    const auto size = std::filesystem::file_size(path, error);
    if (error) throw ResultsError(name + ": cannot read the history file (" + error.message() + ")", name);
    Reader r{name, 0};
    // Columns decode to at most 64 times the file's size plus 64 MiB (variable-length strings cost 16 bytes in the file).
    r.budget = (std::uint64_t{64} << 20) + (size < (std::uint64_t{1} << 56) ? std::uint64_t{64} * size : ~std::uint64_t{0} >> 1);
    HistoryTables t;
    detail::LibraryCall call;
    Handle file = detail::file_handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, detail::default_plist), name,
                                      "cannot open as HDF5");
    const hid_t root = file.get();
    if (!detail::has_attribute(root, "format", name))
        detail::throw_usage_error(name, "no format attribute (expected 'twinsim-history')");
    const std::string format = detail::read_string_attribute(root, "format", name);
    if (format != format_name)
        detail::throw_usage_error(name, "format attribute is '" + format.substr(0, 40) + "', expected 'twinsim-history'");
    const std::string version = detail::has_attribute(root, "format_version", name)
                                    ? detail::read_string_attribute(root, "format_version", name)
                                    : std::string();
    if (version.empty() || version.substr(0, version.find('.')) != std::to_string(format_major))
        detail::throw_usage_error(name, "format_version '" + version.substr(0, 40) +
                                            "' is not one this build reads (1.x)");
    if (detail::has_attribute(root, "source", name)) t.source = detail::read_string_attribute(root, "source", name);
    {
        const std::string w = "/property_updates";
        Handle g = r.group(root, "property_updates");
        auto& p = t.property_updates;
        p.time_ns = r.ints(g.get(), w, "time_ns");
        p.source_time_ns = r.ints(g.get(), w, "source_time_ns");
        p.id = r.strings(g.get(), w, "id");
        p.model_id = r.strings(g.get(), w, "model_id");
        p.key = r.strings(g.get(), w, "key");
        p.value = r.strings(g.get(), w, "value");
        p.unit = r.strings(g.get(), w, "unit");
        p.relationship_id = r.strings(g.get(), w, "relationship_id");
        p.relationship_target = r.strings(g.get(), w, "relationship_target");
        p.action = r.strings(g.get(), w, "action");
        p.sequence = r.uints(g.get(), w, "sequence");
        r.same_length(w, p.time_ns.size(),
                      {p.source_time_ns.size(), p.id.size(), p.model_id.size(), p.key.size(), p.value.size(), p.unit.size(),
                       p.relationship_id.size(), p.relationship_target.size(), p.action.size(), p.sequence.size()});
    }
    {
        const std::string w = "/twin_lifecycle";
        Handle g = r.group(root, "twin_lifecycle");
        auto& p = t.twin_lifecycle;
        p.time_ns = r.ints(g.get(), w, "time_ns");
        p.twin_id = r.strings(g.get(), w, "twin_id");
        p.action = r.strings(g.get(), w, "action");
        p.model_id = r.strings(g.get(), w, "model_id");
        p.sequence = r.uints(g.get(), w, "sequence");
        r.same_length(w, p.time_ns.size(), {p.twin_id.size(), p.action.size(), p.model_id.size(), p.sequence.size()});
    }
    {
        const std::string w = "/relationship_lifecycle";
        Handle g = r.group(root, "relationship_lifecycle");
        auto& p = t.relationship_lifecycle;
        p.time_ns = r.ints(g.get(), w, "time_ns");
        p.relationship_id = r.strings(g.get(), w, "relationship_id");
        p.name = r.strings(g.get(), w, "name");
        p.action = r.strings(g.get(), w, "action");
        p.source = r.strings(g.get(), w, "source");
        p.target = r.strings(g.get(), w, "target");
        p.sequence = r.uints(g.get(), w, "sequence");
        r.same_length(w, p.time_ns.size(),
                      {p.relationship_id.size(), p.name.size(), p.action.size(), p.source.size(), p.target.size(),
                       p.sequence.size()});
    }
    {
        const std::string w = "/telemetry";
        Handle g = r.group(root, "telemetry");
        auto& p = t.telemetry;
        p.time_ns = r.ints(g.get(), w, "time_ns");
        p.source_time_ns = r.ints(g.get(), w, "source_time_ns");
        p.id = r.strings(g.get(), w, "id");
        p.model_id = r.strings(g.get(), w, "model_id");
        p.key = r.strings(g.get(), w, "key");
        p.value = r.strings(g.get(), w, "value");
        p.unit = r.strings(g.get(), w, "unit");
        r.same_length(w, p.time_ns.size(),
                      {p.source_time_ns.size(), p.id.size(), p.model_id.size(), p.key.size(), p.value.size(), p.unit.size()});
    }
    return t;
}

}  // namespace

}  // namespace twinsim::io
