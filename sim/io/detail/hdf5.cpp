#include "twinsim/io/detail/hdf5.hpp"

#include <sstream>

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

std::string read_string_attribute(hid_t object, const char* name, const std::string& path) {
    const std::string what = std::string("reading attribute ") + name;
    Handle attribute = attribute_handle(H5Aopen(object, name, default_plist), path, what);
    Handle file_type = type_handle(H5Aget_type(attribute.get()), path, what);
    if (H5Tget_class(file_type.get()) != H5T_STRING) throw_usage_error(path, "attribute " + std::string(name) + " is not a string");
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
    std::string value(size, '\0');
    check(H5Aread(attribute.get(), file_type.get(), value.data()), path, what);
    while (!value.empty() && value.back() == '\0') value.pop_back();
    return value;
}

std::uint64_t read_uint_attribute(hid_t object, const char* name, const std::string& path) {
    const std::string what = std::string("reading attribute ") + name;
    Handle attribute = attribute_handle(H5Aopen(object, name, default_plist), path, what);
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

}  // namespace twinsim::io::detail
