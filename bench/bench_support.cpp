#include "bench_support.hpp"

#include <algorithm>
#include <iostream>

namespace twinsim::bench {

Stats stats(std::vector<double> seconds) {
    std::sort(seconds.begin(), seconds.end());
    const std::size_t n = seconds.size();
    const double median = n % 2 == 1 ? seconds[n / 2] : (seconds[n / 2 - 1] + seconds[n / 2]) / 2.0;
    return {seconds.front(), median};
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

}  // namespace twinsim::bench
