#include "twinsim/io/detail/hdf5.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <sstream>
#include <system_error>
#include <type_traits>

#include "twinsim/io/errors.hpp"

namespace twinsim::io::detail {

hid_t native_double() { return H5T_NATIVE_DOUBLE; }
hid_t native_int32() { return H5T_NATIVE_INT32; }
hid_t native_uint32() { return H5T_NATIVE_UINT32; }
hid_t native_int64() { return H5T_NATIVE_INT64; }
hid_t native_uint64() { return H5T_NATIVE_UINT64; }

std::recursive_mutex& library_mutex() {
    static std::recursive_mutex mutex;
    return mutex;
}

void reset_library_mutex_after_fork() { new (&library_mutex()) std::recursive_mutex(); }

LibraryCall::LibraryCall() : lock_(library_mutex()) {
    H5Eget_auto2(default_stack, &old_function_, &old_data_);
    H5Eset_auto2(default_stack, nullptr, nullptr);
}

LibraryCall::~LibraryCall() { H5Eset_auto2(default_stack, old_function_, old_data_); }

namespace {

struct StackText {
    std::ostringstream text;
    std::string innermost;
};

herr_t collect_frame(unsigned n, const H5E_error2_t* error, void* data) {
    auto& stack = *static_cast<StackText*>(data);
    char major[128] = "";
    char minor[128] = "";
    H5Eget_msg(error->maj_num, nullptr, major, sizeof major);
    H5Eget_msg(error->min_num, nullptr, minor, sizeof minor);
    stack.text << '#' << n << ' ' << (error->func_name ? error->func_name : "?") << ": "
               << (error->desc ? error->desc : "") << " (" << major << ": " << minor << ")\n";
    // Walking downward, the last frame is the innermost, most specific one.
    stack.innermost = std::string(error->desc ? error->desc : "") + " (" + minor + ")";
    return 0;
}

std::string innermost_of(const std::string& path, std::string_view what, std::string& stack_text) {
    StackText stack;
    H5Ewalk2(default_stack, H5E_WALK_DOWNWARD, collect_frame, &stack);
    H5Eclear2(default_stack);
    stack_text = stack.text.str();
    std::string message = path;
    message += ": ";
    message += what;
    if (!stack.innermost.empty()) {
        message += ": ";
        message += stack.innermost;
    }
    return message;
}

}  // namespace

std::string take_error_stack() {
    StackText stack;
    H5Ewalk2(default_stack, H5E_WALK_DOWNWARD, collect_frame, &stack);
    H5Eclear2(default_stack);
    return stack.text.str();
}

void throw_hdf5_error(const std::string& path, std::string_view what) {
    std::string stack;
    std::string message = innermost_of(path, what, stack);
    if (stack.empty()) stack = "(HDF5 reported no error stack)";
    throw ResultsError(message, path, stack);
}

void throw_usage_error(const std::string& path, std::string_view what) {
    std::string message = path;
    message += ": ";
    message += what;
    throw ResultsError(message, path);
}

Handle checked(hid_t id, Handle::Closer closer, const std::string& path, std::string_view what) {
    if (id < 0) throw_hdf5_error(path, what);
    return Handle(id, closer);
}

void check(herr_t status, const std::string& path, std::string_view what) {
    if (status < 0) throw_hdf5_error(path, what);
}

Handle file_handle(hid_t id, const std::string& path, std::string_view what) { return checked(id, H5Fclose, path, what); }
Handle group_handle(hid_t id, const std::string& path, std::string_view what) { return checked(id, H5Gclose, path, what); }
Handle dataset_handle(hid_t id, const std::string& path, std::string_view what) { return checked(id, H5Dclose, path, what); }
Handle space_handle(hid_t id, const std::string& path, std::string_view what) { return checked(id, H5Sclose, path, what); }
Handle type_handle(hid_t id, const std::string& path, std::string_view what) { return checked(id, H5Tclose, path, what); }
Handle plist_handle(hid_t id, const std::string& path, std::string_view what) { return checked(id, H5Pclose, path, what); }
Handle attribute_handle(hid_t id, const std::string& path, std::string_view what) { return checked(id, H5Aclose, path, what); }

Handle string_type(const std::string& path) {
    Handle type = type_handle(H5Tcopy(H5T_C_S1), path, "creating a string type");
    check(H5Tset_size(type.get(), variable_length), path, "creating a string type");
    check(H5Tset_cset(type.get(), H5T_CSET_UTF8), path, "creating a string type");
    return type;
}

namespace {

void replace_attribute(hid_t object, const char* name, const std::string& path) {
    const htri_t exists = H5Aexists(object, name);
    check(exists, path, std::string("checking attribute ") + name);
    if (exists > 0) check(H5Adelete(object, name), path, std::string("replacing attribute ") + name);
}

void write_scalar(hid_t object, const char* name, hid_t file_type, hid_t memory_type, const void* value,
                  const std::string& path) {
    replace_attribute(object, name, path);
    Handle space = space_handle(H5Screate(H5S_SCALAR), path, "creating a scalar dataspace");
    Handle attribute = attribute_handle(H5Acreate2(object, name, file_type, space.get(), default_plist, default_plist),
                                        path, std::string("creating attribute ") + name);
    check(H5Awrite(attribute.get(), memory_type, value), path, std::string("writing attribute ") + name);
}

}  // namespace

void write_attribute(hid_t object, const char* name, std::string_view value, const std::string& path) {
    Handle type = string_type(path);
    const std::string text(value);
    const char* pointer = text.c_str();
    write_scalar(object, name, type.get(), type.get(), &pointer, path);
}

void write_attribute(hid_t object, const char* name, std::uint64_t value, const std::string& path) {
    write_scalar(object, name, H5T_STD_U64LE, native_uint64(), &value, path);
}

void write_attribute(hid_t object, const char* name, std::uint32_t value, const std::string& path) {
    write_scalar(object, name, H5T_STD_U32LE, native_uint32(), &value, path);
}

bool has_attribute(hid_t object, const char* name, const std::string& path) {
    const htri_t exists = H5Aexists(object, name);
    check(exists, path, std::string("checking attribute ") + name);
    return exists > 0;
}

namespace {

/// Attributes are scalars (docs/results-format.md): refuses one with more or
/// fewer elements before a read that would write past a one-value buffer.
void require_single_value(hid_t attribute, const char* name, const std::string& path) {
    const std::string what = std::string("reading attribute ") + name;
    Handle space = space_handle(H5Aget_space(attribute), path, what);
    const hssize_t points = H5Sget_simple_extent_npoints(space.get());
    if (points != 1)
        throw_usage_error(path, "attribute " + std::string(name) + " holds " +
                                    (points < 0 ? std::string("an unreadable number of") : std::to_string(points)) +
                                    " values, not one");
}

}  // namespace

std::string read_string_attribute(hid_t object, const char* name, const std::string& path) {
    const std::string what = std::string("reading attribute ") + name;
    Handle attribute = attribute_handle(H5Aopen(object, name, default_plist), path, what);
    Handle file_type = type_handle(H5Aget_type(attribute.get()), path, what);
    if (H5Tget_class(file_type.get()) != H5T_STRING) throw_usage_error(path, "attribute " + std::string(name) + " is not a string");
    require_single_value(attribute.get(), name, path);
    const htri_t variable = H5Tis_variable_str(file_type.get());
    check(variable, path, what);
    if (variable > 0) {
        Handle type = string_type(path);
        char* pointer = nullptr;
        check(H5Aread(attribute.get(), type.get(), &pointer), path, what);
        std::string value = pointer ? pointer : "";
        H5free_memory(pointer);
        return value;
    }
    const std::size_t size = H5Tget_size(file_type.get());
    if (size == 0 || size > max_fixed_string_attribute)
        throw_usage_error(path, "attribute " + std::string(name) + " is a fixed-length string of " + std::to_string(size) +
                                    " bytes (the limit is " + std::to_string(max_fixed_string_attribute) + ")");
    std::string value(size, '\0');
    check(H5Aread(attribute.get(), file_type.get(), value.data()), path, what);
    while (!value.empty() && value.back() == '\0') value.pop_back();
    return value;
}

std::uint64_t read_uint_attribute(hid_t object, const char* name, const std::string& path) {
    const std::string what = std::string("reading attribute ") + name;
    Handle attribute = attribute_handle(H5Aopen(object, name, default_plist), path, what);
    Handle file_type = type_handle(H5Aget_type(attribute.get()), path, what);
    if (H5Tget_class(file_type.get()) != H5T_INTEGER)
        throw_usage_error(path, "attribute " + std::string(name) + " is not an integer");
    require_single_value(attribute.get(), name, path);
    std::uint64_t value = 0;
    check(H5Aread(attribute.get(), native_uint64(), &value), path, what);
    return value;
}

namespace {

herr_t collect_name(hid_t /*group*/, const char* name, const H5L_info_t* /*info*/, void* data) {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
}

}  // namespace

std::vector<std::string> link_names(hid_t group, const std::string& path) {
    Handle plist = plist_handle(H5Gget_create_plist(group), path, "reading a group's properties");
    unsigned flags = 0;
    check(H5Pget_link_creation_order(plist.get(), &flags), path, "reading a group's properties");
    const H5_index_t index = (flags & H5P_CRT_ORDER_TRACKED) != 0 ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
    std::vector<std::string> names;
    hsize_t position = 0;
    check(H5Literate(group, index, H5_ITER_INC, &position, collect_name, &names), path, "listing a group");
    return names;
}

bool valid_link_name(std::string_view name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
           name.find('\0') == std::string_view::npos;
}

// ---------------------------------------------------------------------------
// The fail-safe POSIX file driver (see the header). Modelled on HDF5's sec2
// driver (H5FDsec2.c): same flags, same end-of-file rules, pread/pwrite.

namespace {

/// The driver's file access property: who to tell about a failure.
struct FailSafeInfo {
    std::shared_ptr<DiskFailure> failure;
};

/// A write kept in memory after the file failed.
struct HeldWrite {
    haddr_t address = 0;
    std::vector<unsigned char> bytes;
};

/// The C++ members of an open file, behind one pointer so that FailSafeFile
/// stays a standard-layout struct that starts with HDF5's H5FD_t.
struct FileExtras {
    std::shared_ptr<DiskFailure> failure;
    std::vector<HeldWrite> held;  // in write order: a later write wins
};

struct FailSafeFile {
    H5FD_t pub;  // filled in by HDF5; must come first
    int fd;
    haddr_t eoa;  // end of allocated space, set by HDF5
    haddr_t eof;  // end of file: what has been written (to disk or, after a failure, held)
    dev_t device;
    ino_t inode;
    bool failed;  // once true, nothing more goes to the disk
    FileExtras* extras;
};
static_assert(std::is_standard_layout_v<FailSafeFile>, "HDF5 sees the file as its first member, an H5FD_t");

// As sec2: the largest address an off_t can hold.
constexpr haddr_t failsafe_maxaddr = (haddr_t{1} << (8 * sizeof(off_t) - 1)) - 1;

FailSafeFile* as_file(H5FD_t* file) { return reinterpret_cast<FailSafeFile*>(file); }
const FailSafeFile* as_file(const H5FD_t* file) { return reinterpret_cast<const FailSafeFile*>(file); }

/// Pushes an error onto HDF5's stack, as a driver does before returning failure.
void push_error(const char* function, hid_t minor, const std::string& text) {
    H5Epush2(default_stack, __FILE__, function, __LINE__, H5E_ERR_CLS_g, H5E_VFL_g, minor, "%s", text.c_str());
}

std::string errno_text(int error) {
    return "errno = " + std::to_string(error) + ", error message = '" + std::generic_category().message(error) + "'";
}

void record_failure(FailSafeFile& file, int error, std::string operation) {
    file.failed = true;
    DiskFailure& failure = *file.extras->failure;
    if (!failure.failed()) {
        failure.error = error;
        failure.operation = std::move(operation);
    }
}

void* failsafe_fapl_copy(const void* info) {
    return new (std::nothrow) FailSafeInfo(*static_cast<const FailSafeInfo*>(info));
}

herr_t failsafe_fapl_free(void* info) {
    delete static_cast<FailSafeInfo*>(info);
    return 0;
}

void* failsafe_fapl_get(H5FD_t* file) { return new (std::nothrow) FailSafeInfo{as_file(file)->extras->failure}; }

H5FD_t* failsafe_open(const char* name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    if (name == nullptr || *name == '\0' || maxaddr == 0 || maxaddr == HADDR_UNDEF || maxaddr > failsafe_maxaddr) {
        push_error(__func__, H5E_BADVALUE_g, "invalid file name or maxaddr");
        return nullptr;
    }
    const auto* info = static_cast<const FailSafeInfo*>(H5Pget_driver_info(fapl));
    if (info == nullptr || !info->failure) {
        push_error(__func__, H5E_BADVALUE_g, "the fail-safe driver needs its DiskFailure");
        return nullptr;
    }
    int o_flags = (flags & H5F_ACC_RDWR) != 0 ? O_RDWR : O_RDONLY;
    if ((flags & H5F_ACC_TRUNC) != 0) o_flags |= O_TRUNC;
    if ((flags & H5F_ACC_CREAT) != 0) o_flags |= O_CREAT;
    if ((flags & H5F_ACC_EXCL) != 0) o_flags |= O_EXCL;
    int fd = -1;
    do {
        fd = ::open(name, o_flags | O_CLOEXEC, 0666);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        const int error = errno;
        push_error(__func__, H5E_CANTOPENFILE_g,
                   "unable to open file: name = '" + std::string(name) + "', " + errno_text(error));
        return nullptr;
    }
    struct stat status {};
    if (::fstat(fd, &status) != 0) {
        const int error = errno;
        ::close(fd);
        push_error(__func__, H5E_CANTGET_g, "unable to fstat file: " + errno_text(error));
        return nullptr;
    }
    auto* extras = new (std::nothrow) FileExtras{info->failure, {}};
    auto* file = new (std::nothrow) FailSafeFile{};
    if (extras == nullptr || file == nullptr) {
        delete extras;
        delete file;
        ::close(fd);
        push_error(__func__, H5E_CANTALLOC_g, "unable to allocate the file struct");
        return nullptr;
    }
    file->fd = fd;
    file->eoa = 0;
    file->eof = static_cast<haddr_t>(status.st_size);
    file->device = status.st_dev;
    file->inode = status.st_ino;
    file->failed = false;
    file->extras = extras;
    return &file->pub;
}

herr_t failsafe_close(H5FD_t* handle) {
    FailSafeFile* file = as_file(handle);
    // Linux releases the descriptor even when close() reports an error (NFS
    // may report a failed write here): record it, never retry.
    if (::close(file->fd) != 0 && !file->failed) {
        const int error = errno;
        record_failure(*file, error, "closing the file");
    }
    delete file->extras;
    delete file;
    return 0;
}

int failsafe_compare(const H5FD_t* a, const H5FD_t* b) {
    const FailSafeFile* f1 = as_file(a);
    const FailSafeFile* f2 = as_file(b);
    if (f1->device != f2->device) return f1->device < f2->device ? -1 : 1;
    if (f1->inode != f2->inode) return f1->inode < f2->inode ? -1 : 1;
    return 0;
}

herr_t failsafe_query(const H5FD_t*, unsigned long* flags) {
    if (flags != nullptr)
        *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
                 H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    return 0;
}

haddr_t failsafe_get_eoa(const H5FD_t* file, H5FD_mem_t) { return as_file(file)->eoa; }

herr_t failsafe_set_eoa(H5FD_t* file, H5FD_mem_t, haddr_t address) {
    as_file(file)->eoa = address;
    return 0;
}

haddr_t failsafe_get_eof(const H5FD_t* file, H5FD_mem_t) { return as_file(file)->eof; }

herr_t failsafe_get_handle(H5FD_t* file, hid_t, void** handle) {
    if (handle == nullptr) return -1;
    *handle = &as_file(file)->fd;
    return 0;
}

bool overflows(haddr_t address, std::size_t size) {
    return address == HADDR_UNDEF || address > failsafe_maxaddr || size > failsafe_maxaddr - address;
}

herr_t failsafe_read(H5FD_t* handle, H5FD_mem_t, hid_t, haddr_t address, std::size_t size, void* buffer) {
    FailSafeFile* file = as_file(handle);
    if (overflows(address, size)) {
        push_error(__func__, H5E_OVERFLOW_g, "address or size out of range");
        return -1;
    }
    auto* out = static_cast<unsigned char*>(buffer);
    haddr_t offset = address;
    std::size_t left = size;
    while (left > 0) {
        const ssize_t n = ::pread(file->fd, out, left, static_cast<off_t>(offset));
        if (n < 0) {
            const int error = errno;
            if (error == EINTR) continue;
            push_error(__func__, H5E_READERROR_g,
                       "file read failed: " + errno_text(error) + ", offset = " + std::to_string(offset) +
                           ", size = " + std::to_string(left));
            return -1;
        }
        if (n == 0) {  // past the end of the file: zeros, as sec2
            std::memset(out, 0, left);
            break;
        }
        out += n;
        offset += static_cast<haddr_t>(n);
        left -= static_cast<std::size_t>(n);
    }
    // Writes held in memory since a failure replace what the disk has.
    const haddr_t end = address + size;
    for (const HeldWrite& held : file->extras->held) {
        const haddr_t held_end = held.address + held.bytes.size();
        const haddr_t from = std::max(address, held.address);
        const haddr_t to = std::min(end, held_end);
        if (from < to)
            std::memcpy(static_cast<unsigned char*>(buffer) + (from - address), held.bytes.data() + (from - held.address),
                        static_cast<std::size_t>(to - from));
    }
    return 0;
}

herr_t failsafe_write(H5FD_t* handle, H5FD_mem_t, hid_t, haddr_t address, std::size_t size, const void* buffer) {
    FailSafeFile* file = as_file(handle);
    if (overflows(address, size)) {
        push_error(__func__, H5E_OVERFLOW_g, "address or size out of range");
        return -1;
    }
    const auto* in = static_cast<const unsigned char*>(buffer);
    if (!file->failed) {
        haddr_t offset = address;
        std::size_t left = size;
        while (left > 0) {
            const ssize_t n = ::pwrite(file->fd, in + (offset - address), left, static_cast<off_t>(offset));
            const int error = n < 0 ? errno : EIO;  // a regular file that accepts nothing: EIO
            if (n < 0 && error == EINTR) continue;
            if (n <= 0) {
                record_failure(*file, error,
                               "writing " + std::to_string(size) + " bytes at offset " + std::to_string(address));
                break;
            }
            offset += static_cast<haddr_t>(n);
            left -= static_cast<std::size_t>(n);
        }
    }
    if (file->failed) {
        try {
            file->extras->held.push_back({address, std::vector<unsigned char>(in, in + size)});
        } catch (const std::bad_alloc&) {
            push_error(__func__, H5E_CANTALLOC_g, "out of memory holding a write to a failed file");
            return -1;
        }
    }
    file->eof = std::max(file->eof, address + size);
    return 0;
}

herr_t failsafe_truncate(H5FD_t* handle, hid_t, hbool_t) {
    FailSafeFile* file = as_file(handle);
    if (file->eoa == file->eof) return 0;
    if (!file->failed) {
        int status = 0;
        do {
            status = ::ftruncate(file->fd, static_cast<off_t>(file->eoa));
        } while (status != 0 && errno == EINTR);
        if (status != 0) {
            const int error = errno;
            record_failure(*file, error, "setting the file size to " + std::to_string(file->eoa));
        }
    }
    file->eof = file->eoa;
    return 0;
}

// The file is a private temporary (created O_EXCL): no locking needed.
herr_t failsafe_lock(H5FD_t*, hbool_t) { return 0; }
herr_t failsafe_unlock(H5FD_t*) { return 0; }

H5FD_class_t failsafe_class() {
    H5FD_class_t c{};
#ifdef H5FD_CLASS_VERSION  // HDF5 1.14's class struct starts with a version and a value
    c.version = H5FD_CLASS_VERSION;
    c.value = 256 + 84;  // 256..511: the values HDF5 leaves to drivers outside the library
#endif
    c.name = "twinsim_failsafe_posix";
    c.maxaddr = failsafe_maxaddr;
    c.fc_degree = H5F_CLOSE_WEAK;
    c.fapl_size = sizeof(FailSafeInfo);
    c.fapl_get = failsafe_fapl_get;
    c.fapl_copy = failsafe_fapl_copy;
    c.fapl_free = failsafe_fapl_free;
    c.open = failsafe_open;
    c.close = failsafe_close;
    c.cmp = failsafe_compare;
    c.query = failsafe_query;
    c.get_eoa = failsafe_get_eoa;
    c.set_eoa = failsafe_set_eoa;
    c.get_eof = failsafe_get_eof;
    c.get_handle = failsafe_get_handle;
    c.read = failsafe_read;
    c.write = failsafe_write;
    c.truncate = failsafe_truncate;
    c.lock = failsafe_lock;
    c.unlock = failsafe_unlock;
    const H5FD_mem_t map[H5FD_MEM_NTYPES] = H5FD_FLMAP_DICHOTOMY;
    std::copy(std::begin(map), std::end(map), std::begin(c.fl_map));
    return c;
}

/// The driver's id, registered on first use (and again should the library
/// have been closed and reopened). Called under the library lock.
hid_t failsafe_driver(const std::string& path) {
    static hid_t id = -1;
    if (id >= 0 && H5Iis_valid(id) > 0) return id;
    static const H5FD_class_t driver_class = failsafe_class();
    id = H5FDregister(&driver_class);
    if (id < 0) throw_hdf5_error(path, "registering the fail-safe file driver");
    return id;
}

}  // namespace

Handle failsafe_file_access(std::shared_ptr<DiskFailure> failure, const std::string& path) {
    const hid_t driver = failsafe_driver(path);
    Handle access = plist_handle(H5Pcreate(H5P_FILE_ACCESS), path, "creating file properties");
    const FailSafeInfo info{std::move(failure)};
    check(H5Pset_driver(access.get(), driver, &info), path, "selecting the fail-safe file driver");
    return access;
}

void stored_layout(hid_t dataset, const std::string& path, std::string_view what, StoredSeriesChunks& out) {
    out.dims = {};
    out.chunk = {};
    out.filters.clear();
    Handle space = space_handle(H5Dget_space(dataset), path, what);
    hsize_t dims[3] = {0, 0, 0};
    if (H5Sget_simple_extent_ndims(space.get()) != 3) return;
    check(H5Sget_simple_extent_dims(space.get(), dims, nullptr), path, what);
    out.dims = {dims[0], dims[1], dims[2]};
    Handle plist = plist_handle(H5Dget_create_plist(dataset), path, what);
    if (H5Pget_layout(plist.get()) != H5D_CHUNKED) return;
    hsize_t chunk[3] = {0, 0, 0};
    if (H5Pget_chunk(plist.get(), 3, chunk) != 3) return;
    const int filters = H5Pget_nfilters(plist.get());
    if (filters < 0) throw_hdf5_error(path, std::string(what) + ": reading its filters");
    for (int i = 0; i < filters; ++i) {
        StoredSeriesChunks::Filter filter;
        std::array<unsigned, 16> values{};
        std::size_t count = values.size();
        const H5Z_filter_t id = H5Pget_filter2(plist.get(), static_cast<unsigned>(i), &filter.flags, &count,
                                               values.data(), 0, nullptr, nullptr);
        if (id < 0) throw_hdf5_error(path, std::string(what) + ": reading its filters");
        filter.id = static_cast<int>(id);
        // More parameters than read: a filter this library never writes; the
        // count makes the pipelines compare unequal rather than equal by truncation.
        filter.parameters.assign(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(std::min(count, values.size())));
        if (count > values.size()) filter.parameters.push_back(static_cast<unsigned>(count));
        out.filters.push_back(std::move(filter));
    }
    out.chunk = {chunk[0], chunk[1], chunk[2]};
}

}  // namespace twinsim::io::detail
