#include "twinsim/common/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace twinsim::detail {

void assertion_failed(const char* condition, const char* file, int line, std::string_view message) noexcept {
    // stdio, not iostreams: nothing here may throw or allocate much, the state is already broken.
    std::fprintf(stderr, "twinsim: internal error: %s:%d: TWINSIM_ASSERT(%s) failed", file, line, condition);
    if (!message.empty()) std::fprintf(stderr, ": %.*s", static_cast<int>(message.size()), message.data());
    std::fputs("\n(this is a bug in twinsim; please report it with the input that triggered it)\n", stderr);
    std::fflush(stderr);
    std::abort();
}

}  // namespace twinsim::detail
