#pragma once
// Private: the thin RAII layer over the HDF5 C API used by sim/io. Never
// included from a public header (hdf5.h stays out of twinsim's interface).

#include <hdf5.h>
#include <hdf5_hl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/io/results_format.hpp"

namespace twinsim::io::detail {

// HDF5's own macros for these are old-style casts; spelled once here.
inline constexpr hid_t default_plist = 0;  // H5P_DEFAULT
inline constexpr hid_t all_space = 0;      // H5S_ALL
inline constexpr hid_t default_stack = 0;  // H5E_DEFAULT
inline constexpr hsize_t unlimited = ~hsize_t{0};  // H5S_UNLIMITED
inline constexpr std::size_t variable_length = ~std::size_t{0};  // H5T_VARIABLE

hid_t native_double();
hid_t native_int32();
hid_t native_uint32();
hid_t native_int64();
hid_t native_uint64();

/// HDF5 is not safe to call from two threads at once (Debian builds it without
/// the thread-safety option): every sim/io entry point holds this lock. It is a
/// guard around a process-wide library, not shared twinsim state.
std::recursive_mutex& library_mutex();
/// In a child process just forked by a thread holding library_mutex(): makes
/// the lock usable again (the child's one thread has another id than the
/// owner the copied lock records, so it would wait for ever).
void reset_library_mutex_after_fork();

/// Held for the duration of one sim/io operation: the library lock, and HDF5's
/// automatic error printing switched off (errors are reported by exception).
class LibraryCall {
public:
    LibraryCall();
    ~LibraryCall();
    LibraryCall(const LibraryCall&) = delete;
    LibraryCall& operator=(const LibraryCall&) = delete;

private:
    std::unique_lock<std::recursive_mutex> lock_;
    H5E_auto2_t old_function_ = nullptr;
    void* old_data_ = nullptr;
};

/// HDF5's current error stack as text (one frame per line), then cleared.
std::string take_error_stack();

/// Throws ResultsError("<path>: <what>: <innermost HDF5 message>", path, stack).
[[noreturn]] void throw_hdf5_error(const std::string& path, std::string_view what);
/// Throws ResultsError("<path>: <what>", path) for errors twinsim detects itself.
[[noreturn]] void throw_usage_error(const std::string& path, std::string_view what);

/// An owned hid_t of any kind, closed with the H5*close function given.
class Handle {
public:
    using Closer = herr_t (*)(hid_t);
    Handle() = default;
    Handle(hid_t id, Closer closer) noexcept : id_(id), closer_(closer) {}
    Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
    Handle& operator=(Handle&& other) noexcept {
        if (this != &other) {
            reset();
            id_ = other.id_;
            closer_ = other.closer_;
            other.id_ = -1;
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }
    [[nodiscard]] hid_t get() const noexcept { return id_; }
    [[nodiscard]] bool valid() const noexcept { return id_ >= 0; }
    /// Gives up ownership without closing.
    [[nodiscard]] hid_t release() noexcept {
        const hid_t id = id_;
        id_ = -1;
        return id;
    }
    /// Closes now; returns false when HDF5 reported an error closing.
    bool reset() noexcept {
        bool ok = true;
        if (id_ >= 0 && closer_ != nullptr) ok = closer_(id_) >= 0;
        id_ = -1;
        return ok;
    }

private:
    hid_t id_ = -1;
    Closer closer_ = nullptr;
};

/// Each check_* throws through throw_hdf5_error when the id/status is negative.
Handle checked(hid_t id, Handle::Closer closer, const std::string& path, std::string_view what);
void check(herr_t status, const std::string& path, std::string_view what);

Handle file_handle(hid_t id, const std::string& path, std::string_view what);
Handle group_handle(hid_t id, const std::string& path, std::string_view what);
Handle dataset_handle(hid_t id, const std::string& path, std::string_view what);
Handle space_handle(hid_t id, const std::string& path, std::string_view what);
Handle type_handle(hid_t id, const std::string& path, std::string_view what);
Handle plist_handle(hid_t id, const std::string& path, std::string_view what);
Handle attribute_handle(hid_t id, const std::string& path, std::string_view what);

/// A variable-length UTF-8 string type (what h5py writes for str).
Handle string_type(const std::string& path);

// Attributes (scalar). Strings are variable-length UTF-8.
void write_attribute(hid_t object, const char* name, std::string_view value, const std::string& path);
void write_attribute(hid_t object, const char* name, std::uint64_t value, const std::string& path);
void write_attribute(hid_t object, const char* name, std::uint32_t value, const std::string& path);
bool has_attribute(hid_t object, const char* name, const std::string& path);
/// The longest fixed-length string attribute read (twinsim writes variable-length ones).
inline constexpr std::size_t max_fixed_string_attribute = std::size_t{1} << 20;
/// The read_* functions throw ResultsError (via throw_usage_error) for an
/// attribute that is not a single value of the expected class.
std::string read_string_attribute(hid_t object, const char* name, const std::string& path);
std::uint64_t read_uint_attribute(hid_t object, const char* name, const std::string& path);

/// Names of the links in a group, in creation order when the group tracks it.
std::vector<std::string> link_names(hid_t group, const std::string& path);

/// A name that can be used as one HDF5 link: non-empty, no '/', not "." or "..".
bool valid_link_name(std::string_view name);

// ---------------------------------------------------------------------------
// The fail-safe POSIX file driver.
//
// HDF5 1.10.8 (Debian 12) can crash after one of its writes fails (a full
// disk, a file-size limit, an I/O error): it segfaults or aborts in H5Dclose
// or at exit while flushing chunks of the broken file. So results files are
// written through this driver instead of HDF5's "sec2": the same pread/pwrite
// on one POSIX file, in the same places, with one difference. A write that
// fails is not reported to HDF5. The driver records the first failure (errno,
// offset, size) in a DiskFailure, and from then on sends nothing more to the
// disk: that write and every later one are kept in memory and read back from
// there, so HDF5 keeps a consistent view of a file that is already lost and
// can close it normally. The owner checks the DiskFailure after each
// operation, throws a ResultsError naming the file and the system's reason,
// and removes the file. Memory is spent only after a failure, and only on
// what HDF5 writes before the file is abandoned (its caches).
//
// The files are plain HDF5 files: the driver stores nothing in the superblock
// and any reader (sec2, h5py, netCDF) opens them.

/// The first failed write (or truncate/close) of a file opened with the
/// fail-safe driver.
struct DiskFailure {
    int error = 0;          ///< errno; 0 while every write has succeeded
    std::string operation;  ///< e.g. "writing 262144 bytes at offset 1048576"
    [[nodiscard]] bool failed() const noexcept { return error != 0; }
};

/// A file access property list that opens files with the fail-safe driver,
/// reporting into `failure` (shared with every file opened through it, and
/// kept alive by them). Call it holding a LibraryCall (it registers the
/// driver on first use). Throws ResultsError (about `path`) if HDF5 refuses.
Handle failsafe_file_access(std::shared_ptr<DiskFailure> failure, const std::string& path);

/// A chunked dataset's chunk shape (rank 3, else all 0) and filter pipeline,
/// into `out` (dims, chunk, filters; chunks untouched).
void stored_layout(hid_t dataset, const std::string& path, std::string_view what, StoredSeriesChunks& out);

}  // namespace twinsim::io::detail
