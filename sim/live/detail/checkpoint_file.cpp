#include "twinsim/live/detail/checkpoint_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "twinsim/common/hash.hpp"
#include "twinsim/graph/snapshot_serialization.hpp"

namespace twinsim::live::detail {

namespace {

constexpr char magic[8] = {'T', 'W', 'S', 'C', 'K', 'P', 'T', '\n'};
constexpr std::uint32_t checkpoint_version = 1;
constexpr std::size_t header_size = 40;  // magic, u32 version, u32 zero, u64 batch, u64 length, u64 FNV-1a

void put_u32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_u64(std::string_view in, std::size_t at) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
    return v;
}
std::uint32_t get_u32(std::string_view in, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
    return v;
}

std::string os_error(int err) { return std::strerror(err); }

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::string checkpoint_name(std::uint64_t batch) {
    std::string digits = std::to_string(batch);
    return "checkpoint-" + std::string(20 - digits.size(), '0') + digits + ".ckpt";
}

std::optional<std::uint64_t> checkpoint_batch(const std::string& name) {
    if (name.size() != 36 || name.compare(0, 11, "checkpoint-") != 0 || name.compare(31, 5, ".ckpt") != 0)
        return std::nullopt;
    std::uint64_t v = 0;
    for (std::size_t i = 11; i < 31; ++i) {
        if (name[i] < '0' || name[i] > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(name[i] - '0');
    }
    return v;
}

void sync_directory(const std::filesystem::path& dir) {
    Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd < 0 || ::fsync(d.fd) != 0)
        throw std::runtime_error("syncing the directory " + dir.string() + " failed (" + os_error(errno) + ")");
}

std::filesystem::path write_checkpoint(const std::filesystem::path& dir, std::uint64_t batch,
                                       const graph::Snapshot& snapshot) {
    const std::string body = graph::serialize(snapshot);
    std::string header;
    header.append(magic, sizeof magic);
    put_u32(header, checkpoint_version);
    put_u32(header, 0);
    put_u64(header, batch);
    put_u64(header, body.size());
    put_u64(header, fnv1a64(body));
    const std::filesystem::path final_path = dir / checkpoint_name(batch);
    const std::filesystem::path temp = dir / (checkpoint_name(batch) + ".part");
    auto failed = [&](const std::string& doing, int err) {
        ::unlink(temp.c_str());
        return std::runtime_error(doing + " the checkpoint " + temp.string() + " failed: " +
                                  (err == ENOSPC ? "the disk is full" : "the operating system refused") + " (" +
                                  os_error(err) + ")");
    };
    {
        Fd f{::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
        if (f.fd < 0) throw failed("creating", errno);
        for (const std::string* part : {static_cast<const std::string*>(&header), &body}) {
            std::size_t done = 0;
            while (done < part->size()) {
                const ssize_t n = ::write(f.fd, part->data() + done, part->size() - done);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    throw failed("writing", errno);
                }
                done += static_cast<std::size_t>(n);
            }
        }
        if (::fsync(f.fd) != 0) throw failed("syncing", errno);
        const int fd = f.fd;
        f.fd = -1;
        if (::close(fd) != 0) throw failed("closing", errno);
    }
    if (::rename(temp.c_str(), final_path.c_str()) != 0) throw failed("renaming", errno);
    sync_directory(dir);
    return final_path;
}

graph::Snapshot read_checkpoint(const std::filesystem::path& file, std::uint64_t batch) {
    std::string bytes;
    {
        Fd f{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
        if (f.fd < 0) throw std::runtime_error("it cannot be opened (" + os_error(errno) + ")");
        struct stat st {};
        if (::fstat(f.fd, &st) != 0) throw std::runtime_error("it cannot be read (" + os_error(errno) + ")");
        bytes.resize(static_cast<std::size_t>(st.st_size));
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::read(f.fd, bytes.data() + done, bytes.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw std::runtime_error("it cannot be read (" + os_error(errno) + ")");
            if (n == 0) break;
            done += static_cast<std::size_t>(n);
        }
        bytes.resize(done);
    }
    return parse_checkpoint(bytes, batch);
}

graph::Snapshot parse_checkpoint(std::string_view bytes, std::uint64_t batch) {
    if (bytes.size() < header_size)
        throw std::runtime_error("it is truncated: " + std::to_string(bytes.size()) + " bytes, shorter than its header");
    if (std::memcmp(bytes.data(), magic, sizeof magic) != 0) throw std::runtime_error("it is not a twinsim checkpoint");
    const std::uint32_t version = get_u32(bytes, 8);
    if (version != checkpoint_version)
        throw std::runtime_error("it has format version " + std::to_string(version) + ", this build reads " +
                                 std::to_string(checkpoint_version));
    if (get_u64(bytes, 16) != batch)
        throw std::runtime_error("it holds batch " + std::to_string(get_u64(bytes, 16)) + " but is named for batch " +
                                 std::to_string(batch));
    const std::uint64_t length = get_u64(bytes, 24);
    if (length != bytes.size() - header_size)
        throw std::runtime_error("it is truncated or padded: its header announces " + std::to_string(length) +
                                 " bytes of snapshot, the file holds " + std::to_string(bytes.size() - header_size));
    const std::string_view body(bytes.data() + header_size, length);
    if (fnv1a64(body) != get_u64(bytes, 32)) throw std::runtime_error("it is damaged: its checksum does not match");
    try {
        return graph::deserialize(body);
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("its snapshot is invalid: ") + e.what());
    }
}

}  // namespace twinsim::live::detail
