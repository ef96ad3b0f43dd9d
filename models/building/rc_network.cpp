#include "models/building/rc_network.hpp"

#include <Eigen/Dense>
#include <Eigen/Sparse>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "twinsim/common/assert.hpp"
#include "twinsim/common/error.hpp"

namespace twinsim::models {

std::pair<double, double> phi12(double z) {
    if (std::abs(z) < 0.1) {
        // Taylor series: phi1 = sum z^k/(k+1)!, phi2 = sum z^k/(k+2)!.
        double term1 = 1.0, term2 = 0.5, p1 = 0.0, p2 = 0.0;
        for (int k = 0; k < 16; ++k) {
            p1 += term1;
            p2 += term2;
            term1 *= z / (k + 2);
            term2 *= z / (k + 3);
        }
        return {p1, p2};
    }
    const double e = std::expm1(z);
    return {e / z, (e - z) / (z * z)};
}

namespace {

/// One connected group of zones, integrated exactly (zero-order hold on the inputs).
struct ExactBlock {
    Eigen::Index offset = 0, size = 0;
    Eigen::MatrixXd phi;    ///< e^{A dt}
    Eigen::MatrixXd gamma;  ///< (int_0^dt e^{As} ds) C^{-1}: watts held over the step -> kelvin
    Eigen::VectorXd r1, r2; ///< sum_i h_i int T_air,i dt = r1 . x0 + r2 . u
};

}  // namespace

struct RcNetwork::Impl {
    double dt = 0.0;
    bool has_mass = false;
    bool exact = true;
    std::vector<Eigen::Index> air, mass;  ///< node of each zone's air and mass (-1: none)
    std::vector<std::vector<std::uint32_t>> groups;
    Eigen::VectorXd capacity, h_node, x, x_old, u, q, x_free, rhs;
    std::vector<double> g;  ///< self_response per zone
    std::vector<ExactBlock> blocks;
    std::vector<Eigen::Index> block_index;  ///< offset of each block, ascending
    std::vector<std::size_t> zone_block;    ///< the block of each zone (exact)
    /// per group: the dense air response (group_response()); empty when unavailable
    std::vector<std::vector<double>> group_g;
    /// Implicit integrator: (C + dt L) x = r solved per connected group with a
    /// banded Cholesky factor (the matrix is block diagonal by group), each
    /// group's nodes in a breadth-first order that keeps its band narrow (a
    /// row of rooms: 2 to 4 below the diagonal). The substitutions are chains
    /// of dependent operations, so groups of the same size and band are solved
    /// `lanes` at a time, interleaved (each operation on `lanes` independent
    /// groups: contiguous, vectorisable, no waiting on the previous row). One
    /// contiguous arena for every batch; `solver` is used instead when the
    /// bands would be too large.
    static constexpr std::size_t lanes = 8;
    struct BandBatch {
        std::uint32_t size = 0, band = 0, count = 0;  ///< rows, entries below the diagonal, groups (<= lanes)
        std::size_t factor = 0;  ///< offset in band_factor: size rows of band + 1 entries (the last: 1 / diagonal), each `lanes` wide
        std::size_t index = 0;   ///< offset in band_index: size rows of `lanes` node numbers (padding lanes repeat lane 0)
    };
    std::vector<BandBatch> band_batches;
    std::vector<double> band_factor;
    std::vector<std::uint32_t> band_index;
    std::vector<double> band_work;  ///< a batch's right-hand sides, row by row, `lanes` wide
    bool banded = false;
    Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> solver;

    bool factor_bands(const Eigen::SparseMatrix<double>& a, const std::vector<std::pair<Eigen::Index, Eigen::Index>>& ranges);

    /// Solves batch b's blocks of (C + dt L) y = r: `load(node)` gives r at a
    /// node, `store(node, y)` receives the solution (padding lanes are not stored).
    template <class Load, class Store>
    void band_solve(const BandBatch& b, Load load, Store store) {
        constexpr std::size_t L = lanes;
        const std::uint32_t n = b.size, w = b.band;
        const std::size_t stride = std::size_t{w} + 1;
        const double* __restrict f = band_factor.data() + b.factor;
        const std::uint32_t* index = band_index.data() + b.index;
        double* __restrict y = band_work.data();
        for (std::size_t k = 0; k < std::size_t{n} * L; ++k) y[k] = load(index[k]);
        for (std::uint32_t i = 0; i < n; ++i) {  // L y = P r
            const double* row = f + i * stride * L;  // row[(w - k) L + lane] = L(i, i - k), row[w L + lane] = 1 / L(i, i)
            double* __restrict yi = y + std::size_t{i} * L;
            const std::uint32_t reach = std::min(i, w);
            for (std::uint32_t k = 1; k <= reach; ++k) {
                const double* fk = row + (w - k) * L;
                const double* yk = yi - std::size_t{k} * L;
                for (std::size_t l = 0; l < L; ++l) yi[l] -= fk[l] * yk[l];
            }
            for (std::size_t l = 0; l < L; ++l) yi[l] *= row[w * L + l];
        }
        for (std::uint32_t i = n; i-- > 0;) {  // L^T z = y
            double* __restrict yi = y + std::size_t{i} * L;
            const std::uint32_t reach = std::min(n - 1 - i, w);
            for (std::uint32_t k = 1; k <= reach; ++k) {
                const double* fk = f + ((i + k) * stride + (w - k)) * L;
                const double* yk = yi + std::size_t{k} * L;
                for (std::size_t l = 0; l < L; ++l) yi[l] -= fk[l] * yk[l];
            }
            const double* d = f + (i * stride + w) * L;
            for (std::size_t l = 0; l < L; ++l) yi[l] *= d[l];
        }
        for (std::uint32_t i = 0; i < n; ++i)
            for (std::uint32_t l = 0; l < b.count; ++l) store(index[i * L + l], y[i * L + l]);
    }

    const ExactBlock& block_of(Eigen::Index node) const {
        const auto it = std::upper_bound(block_index.begin(), block_index.end(), node);
        return blocks[static_cast<std::size_t>(it - block_index.begin() - 1)];
    }
};

namespace {

/// The most numbers the groups' band factors may hold together (else the sparse factorisation).
constexpr std::size_t max_band_entries = std::size_t{16} << 20;

}  // namespace

/// Factors each group's block of `a` (= C + dt L, symmetric positive definite,
/// block diagonal by group) as a banded Cholesky factor in a breadth-first
/// node order (reverse Cuthill-McKee without the reversal: from a node of
/// least degree, neighbours by ascending degree). False when the bands would
/// hold more than max_band_entries numbers; throws twinsim::Error when a block
/// is not positive definite.
bool RcNetwork::Impl::factor_bands(const Eigen::SparseMatrix<double>& a,
                                   const std::vector<std::pair<Eigen::Index, Eigen::Index>>& ranges) {
    Impl& m = *this;
    struct BandGroup {
        std::uint32_t begin = 0, size = 0;  ///< the group's nodes (contiguous)
        std::uint32_t band = 0;             ///< entries below the diagonal in a row of its factor
        std::size_t factor = 0;             ///< offset in `factor`: size rows of band + 1 entries (the last: 1 / diagonal)
        std::size_t order = 0;              ///< offset in `order_all`: its node offsets in band order
    };
    std::vector<BandGroup> bands;
    std::vector<std::uint32_t> order_all;
    std::vector<std::vector<std::uint32_t>> neighbours;
    std::vector<std::uint32_t> position, order;
    std::size_t entries = 0, largest = 0;
    for (const auto& [offset, size] : ranges) {
        const auto n = static_cast<std::uint32_t>(size);
        neighbours.assign(n, {});
        for (std::uint32_t col = 0; col < n; ++col)
            for (Eigen::SparseMatrix<double>::InnerIterator it(a, offset + col); it; ++it)
                if (it.row() != offset + col) neighbours[col].push_back(static_cast<std::uint32_t>(it.row() - offset));
        for (auto& list : neighbours)
            std::sort(list.begin(), list.end(), [&](std::uint32_t p, std::uint32_t o) {
                return neighbours[p].size() != neighbours[o].size() ? neighbours[p].size() < neighbours[o].size() : p < o;
            });
        // Breadth-first from a node of least degree (a group is connected).
        order.clear();
        position.assign(n, std::numeric_limits<std::uint32_t>::max());
        std::uint32_t start = 0;
        for (std::uint32_t k = 1; k < n; ++k)
            if (neighbours[k].size() < neighbours[start].size()) start = k;
        for (std::uint32_t seed = start, scanned = 0; order.size() < n;) {
            if (position[seed] == std::numeric_limits<std::uint32_t>::max()) {
                position[seed] = static_cast<std::uint32_t>(order.size());
                order.push_back(seed);
            }
            for (; scanned < order.size(); ++scanned)
                for (const std::uint32_t next : neighbours[order[scanned]])
                    if (position[next] == std::numeric_limits<std::uint32_t>::max()) {
                        position[next] = static_cast<std::uint32_t>(order.size());
                        order.push_back(next);
                    }
            for (seed = 0; seed < n && position[seed] != std::numeric_limits<std::uint32_t>::max(); ++seed) {
            }
        }
        std::uint32_t band = 0;
        for (std::uint32_t p = 0; p < n; ++p)
            for (const std::uint32_t o : neighbours[p]) band = std::max(band, position[p] > position[o] ? position[p] - position[o] : position[o] - position[p]);
        BandGroup bg;
        bg.begin = static_cast<std::uint32_t>(offset);
        bg.size = n;
        bg.band = band;
        bg.factor = entries;
        bg.order = order_all.size();
        entries += std::size_t{n} * (band + 1);
        if (entries > max_band_entries) return false;
        order_all.insert(order_all.end(), order.begin(), order.end());
        bands.push_back(bg);
        largest = std::max<std::size_t>(largest, n);
    }
    // Cholesky in band storage: row i holds L(i, i - band .. i - 1), then 1 / L(i, i).
    std::vector<double> factor(entries, 0.0);
    for (const BandGroup& bg : bands) {
        const std::uint32_t n = bg.size, w = bg.band;
        const std::size_t stride = std::size_t{w} + 1;
        double* f = factor.data() + bg.factor;
        const std::uint32_t* ord = order_all.data() + bg.order;
        position.assign(n, 0);
        for (std::uint32_t i = 0; i < n; ++i) position[ord[i]] = i;
        // the block in band order (lower part): f[i * stride + w - k] = A(i, i - k), diagonal at w
        for (std::uint32_t col = 0; col < n; ++col)
            for (Eigen::SparseMatrix<double>::InnerIterator it(a, bg.begin + col); it; ++it) {
                const std::uint32_t r = position[static_cast<std::uint32_t>(it.row() - bg.begin)], c = position[col];
                if (r >= c) f[r * stride + (w - (r - c))] = it.value();
            }
        for (std::uint32_t i = 0; i < n; ++i) {
            double* row = f + i * stride;
            const std::uint32_t first = i >= w ? i - w : 0;
            for (std::uint32_t j = first; j < i; ++j) {  // L(i, j) = (A(i, j) - sum_k L(i, k) L(j, k)) / L(j, j)
                const double* rj = f + j * stride;
                double sum = row[w - (i - j)];
                for (std::uint32_t k = first; k < j; ++k) sum -= row[w - (i - k)] * rj[w - (j - k)];
                row[w - (i - j)] = sum * rj[w];
            }
            double diagonal = row[w];
            for (std::uint32_t k = first; k < i; ++k) diagonal -= row[w - (i - k)] * row[w - (i - k)];
            if (!(diagonal > 0.0)) throw Error("thermal_zones: factorisation of the network failed");
            row[w] = 1.0 / std::sqrt(diagonal);
        }
    }
    // Groups of the same size and band, `lanes` at a time, interleaved.
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::size_t>> shapes;
    for (std::size_t k = 0; k < bands.size(); ++k) shapes[{bands[k].size, bands[k].band}].push_back(k);
    constexpr std::size_t L = lanes;
    for (const auto& [shape, members] : shapes) {
        const auto [n, w] = shape;
        const std::size_t stride = std::size_t{w} + 1;
        for (std::size_t first = 0; first < members.size(); first += L) {
            BandBatch batch;
            batch.size = n;
            batch.band = w;
            batch.count = static_cast<std::uint32_t>(std::min(L, members.size() - first));
            batch.factor = m.band_factor.size();
            batch.index = m.band_index.size();
            m.band_factor.resize(batch.factor + std::size_t{n} * stride * L, 0.0);
            m.band_index.resize(batch.index + std::size_t{n} * L, 0);
            for (std::size_t l = 0; l < L; ++l) {
                const bool real = l < batch.count;
                const BandGroup& bg = bands[members[first + (real ? l : 0)]];
                for (std::uint32_t i = 0; i < n; ++i) {
                    m.band_index[batch.index + i * L + l] = bg.begin + order_all[bg.order + i];
                    for (std::size_t e = 0; e < stride; ++e)
                        m.band_factor[batch.factor + (i * stride + e) * L + l] =
                            real ? factor[bg.factor + i * stride + e] : (e == w ? 1.0 : 0.0);
                }
            }
            m.band_batches.push_back(batch);
        }
    }
    m.band_work.assign(largest * L, 0.0);
    return true;
}

RcNetwork::RcNetwork(const Zones& zones, double dt, Integrator integrator, double max_exact_states)
    : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    const std::size_t nz = zones.air_capacity.size();
    m.dt = dt;
    m.has_mass = !zones.mass_capacity.empty();

    // --- connected groups (union-find over the adjacency)
    std::vector<std::uint32_t> parent(nz);
    std::iota(parent.begin(), parent.end(), 0u);
    auto find = [&](std::uint32_t x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];
        return x;
    };
    for (const auto& [x, y] : zones.adjacent) parent[find(x)] = find(y);
    std::map<std::uint32_t, std::vector<std::uint32_t>> groups;
    for (std::uint32_t i = 0; i < nz; ++i) groups[find(i)].push_back(i);

    // --- node numbering: groups contiguous, each zone's air node then its mass node
    const std::size_t per_zone = m.has_mass ? 2 : 1;
    const auto n = static_cast<Eigen::Index>(nz * per_zone);
    m.air.assign(nz, 0);
    m.mass.assign(nz, -1);
    std::vector<std::pair<Eigen::Index, Eigen::Index>> ranges;
    std::size_t largest = 0;
    {
        Eigen::Index next = 0;
        for (const auto& [root, members] : groups) {
            const Eigen::Index begin = next;
            for (const std::uint32_t i : members) {
                m.air[i] = next++;
                if (m.has_mass) m.mass[i] = next++;
            }
            ranges.emplace_back(begin, next - begin);
            m.groups.push_back(members);
            largest = std::max(largest, static_cast<std::size_t>(next - begin));
        }
    }
    m.capacity = Eigen::VectorXd::Zero(n);
    m.h_node = Eigen::VectorXd::Zero(n);
    std::vector<Eigen::Triplet<double>> lt;  // the conductance matrix L (symmetric)
    for (std::size_t i = 0; i < nz; ++i) {
        m.capacity[m.air[i]] = zones.air_capacity[i];
        m.h_node[m.air[i]] = zones.to_outdoor[i];
        lt.emplace_back(m.air[i], m.air[i], zones.to_outdoor[i]);
        if (m.has_mass) {
            const double h_am = zones.air_to_mass[i];
            m.capacity[m.mass[i]] = zones.mass_capacity[i];
            lt.emplace_back(m.air[i], m.air[i], h_am);
            lt.emplace_back(m.mass[i], m.mass[i], h_am);
            lt.emplace_back(m.air[i], m.mass[i], -h_am);
            lt.emplace_back(m.mass[i], m.air[i], -h_am);
        }
    }
    for (const auto& [x, y] : zones.adjacent) {
        const double h = zones.adjacent_conductance;
        lt.emplace_back(m.air[x], m.air[x], h);
        lt.emplace_back(m.air[y], m.air[y], h);
        lt.emplace_back(m.air[x], m.air[y], -h);
        lt.emplace_back(m.air[y], m.air[x], -h);
    }
    Eigen::SparseMatrix<double> L(n, n);
    L.setFromTriplets(lt.begin(), lt.end());

    // automatic: exact for building-sized networks; campus-sized ones (more than ten
    // times max_exact_states nodes in all) take the O(n) implicit integrator.
    m.exact = integrator == Integrator::exact ||
              (integrator == Integrator::automatic && static_cast<double>(largest) <= max_exact_states &&
               static_cast<double>(n) <= 10.0 * max_exact_states);

    m.g.assign(nz, 0.0);
    if (m.exact) {
        for (std::size_t r = 0; r < ranges.size(); ++r) {
            const auto [offset, size] = ranges[r];
            ExactBlock b;
            b.offset = offset;
            b.size = size;
            Eigen::MatrixXd block = Eigen::MatrixXd::Zero(size, size);  // L restricted to the group (no coupling outside it)
            for (Eigen::Index col = offset; col < offset + size; ++col)
                for (Eigen::SparseMatrix<double>::InnerIterator it(L, col); it; ++it)
                    block(it.row() - offset, col - offset) = it.value();
            const Eigen::VectorXd d = m.capacity.segment(offset, size).cwiseSqrt().cwiseInverse();  // C^{-1/2}
            const Eigen::MatrixXd s = -(d.asDiagonal() * block * d.asDiagonal());
            Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(s);
            if (eig.info() != Eigen::Success) throw Error("thermal_zones: eigen-decomposition of the network failed");
            Eigen::VectorXd e(size), p1(size), p2(size);
            for (Eigen::Index k = 0; k < size; ++k) {
                const double z = eig.eigenvalues()[k] * dt;
                const auto [f1, f2] = phi12(z);
                e[k] = std::exp(z);
                p1[k] = f1 * dt;
                p2[k] = f2 * dt * dt;
            }
            const Eigen::MatrixXd w = d.asDiagonal() * eig.eigenvectors();                         // C^{-1/2} V
            const Eigen::MatrixXd vt_dinv = eig.eigenvectors().transpose() * d.cwiseInverse().asDiagonal();  // V^T C^{1/2}
            b.phi = w * e.asDiagonal() * vt_dinv;
            b.gamma = w * p1.asDiagonal() * w.transpose();
            const Eigen::VectorXd h = m.h_node.segment(offset, size);
            // r1 = Psi^T h with Psi = W diag(p1) V^T C^{1/2}; r2 = (Theta C^{-1})^T h = W diag(p2) W^T h.
            b.r1 = vt_dinv.transpose() * (p1.asDiagonal() * (w.transpose() * h));
            b.r2 = w * (p2.asDiagonal() * (w.transpose() * h));
            m.blocks.push_back(std::move(b));
        }
        for (const ExactBlock& b : m.blocks) m.block_index.push_back(b.offset);
        m.zone_block.resize(nz);
        for (std::size_t i = 0; i < nz; ++i) {
            const ExactBlock& b = m.block_of(m.air[i]);
            const Eigen::Index k = m.air[i] - b.offset;
            m.g[i] = b.gamma(k, k);
            m.zone_block[i] = static_cast<std::size_t>(&b - m.blocks.data());
        }
        // The groups' air responses (the thermostats' matrices): Gamma's air rows and columns.
        m.group_g.resize(m.groups.size());
        for (std::size_t k = 0; k < m.groups.size(); ++k) {
            const std::vector<std::uint32_t>& members = m.groups[k];
            const ExactBlock& b = m.blocks[k];
            const std::size_t nm = members.size();
            std::vector<double>& gk = m.group_g[k];
            gk.resize(nm * nm);
            for (std::size_t r = 0; r < nm; ++r)
                for (std::size_t c = 0; c < nm; ++c) gk[r * nm + c] = b.gamma(m.air[members[r]] - b.offset, m.air[members[c]] - b.offset);
        }
    } else {
        Eigen::SparseMatrix<double> a = L * dt;
        for (Eigen::Index k = 0; k < n; ++k) a.coeffRef(k, k) += m.capacity[k];
        a.makeCompressed();
        m.banded = m.factor_bands(a, ranges);
        if (!m.banded) {
            m.solver.compute(a);
            if (m.solver.info() != Eigen::Success) throw Error("thermal_zones: factorisation of the network failed");
        }
        // The controller's response of a zone to its own cooling: its air/mass block alone.
        for (std::size_t i = 0; i < nz; ++i) {
            const double maa = a.coeff(m.air[i], m.air[i]);
            if (m.has_mass) {
                const double mmm = a.coeff(m.mass[i], m.mass[i]), mam = a.coeff(m.air[i], m.mass[i]);
                m.g[i] = dt * mmm / (maa * mmm - mam * mam);
            } else {
                m.g[i] = dt / maa;
            }
        }
        // Small groups: each group's air response dt (C + dt L)^-1 restricted to its air
        // nodes, dense (a group's nodes are contiguous and the matrix is block diagonal by group).
        std::size_t largest_zones = 0, entries = 0;
        for (const auto& members : m.groups) {
            largest_zones = std::max(largest_zones, members.size());
            entries += members.size() * members.size();
        }
        if (largest_zones <= max_group_response_zones && entries <= max_group_response_entries) {
            m.group_g.resize(m.groups.size());
            for (std::size_t k = 0; k < m.groups.size(); ++k) {
                const auto [offset, size] = ranges[k];
                Eigen::MatrixXd block = Eigen::MatrixXd::Zero(size, size);
                for (Eigen::Index col = offset; col < offset + size; ++col)
                    for (Eigen::SparseMatrix<double>::InnerIterator it(a, col); it; ++it)
                        block(it.row() - offset, col - offset) = it.value();
                const Eigen::LLT<Eigen::MatrixXd> llt(block);
                if (llt.info() != Eigen::Success) throw Error("thermal_zones: factorisation of the network failed");
                const std::vector<std::uint32_t>& members = m.groups[k];
                const std::size_t nm = members.size();
                Eigen::MatrixXd unit = Eigen::MatrixXd::Zero(size, static_cast<Eigen::Index>(nm));
                for (std::size_t c = 0; c < nm; ++c) unit(m.air[members[c]] - offset, static_cast<Eigen::Index>(c)) = 1.0;
                const Eigen::MatrixXd inverse = llt.solve(unit);
                std::vector<double>& gk = m.group_g[k];
                gk.resize(nm * nm);
                for (std::size_t r = 0; r < nm; ++r)
                    for (std::size_t c = 0; c < nm; ++c)
                        gk[r * nm + c] = dt * inverse(m.air[members[r]] - offset, static_cast<Eigen::Index>(c));
            }
        }
    }
    m.x = Eigen::VectorXd::Zero(n);
    m.u = Eigen::VectorXd::Zero(n);
    m.q = Eigen::VectorXd::Zero(n);
    m.x_free = Eigen::VectorXd::Zero(n);
    m.rhs = Eigen::VectorXd::Zero(n);
}

RcNetwork::RcNetwork(RcNetwork&&) noexcept = default;
RcNetwork& RcNetwork::operator=(RcNetwork&&) noexcept = default;
RcNetwork::~RcNetwork() = default;

bool RcNetwork::exact() const noexcept { return impl_->exact; }
bool RcNetwork::has_mass() const noexcept { return impl_->has_mass; }
std::size_t RcNetwork::zones() const noexcept { return impl_->air.size(); }
std::size_t RcNetwork::states() const noexcept { return static_cast<std::size_t>(impl_->x.size()); }
const std::vector<std::vector<std::uint32_t>>& RcNetwork::groups() const noexcept { return impl_->groups; }

void RcNetwork::set_temperatures(std::span<const double> air) {
    Impl& m = *impl_;
    TWINSIM_ASSERT(air.size() == m.air.size(), "one temperature per zone");
    for (std::size_t i = 0; i < air.size(); ++i) {
        m.x[m.air[i]] = air[i];
        if (m.has_mass) m.x[m.mass[i]] = air[i];
    }
}

double RcNetwork::air_temperature(std::uint32_t zone) const { return impl_->x[impl_->air[zone]]; }

double RcNetwork::mass_temperature(std::uint32_t zone) const {
    return impl_->has_mass ? impl_->x[impl_->mass[zone]] : std::numeric_limits<double>::quiet_NaN();
}

void RcNetwork::hold_inputs(std::span<const double> air_watts, std::span<const double> mass_watts) {
    Impl& m = *impl_;
    TWINSIM_ASSERT(air_watts.size() == m.air.size() && (!m.has_mass || mass_watts.size() == m.air.size()),
                   "one input per zone and node");
    m.u.setZero();
    for (std::size_t i = 0; i < air_watts.size(); ++i) {
        m.u[m.air[i]] += air_watts[i];
        if (m.has_mass) m.u[m.mass[i]] += mass_watts[i];
    }
    // Free response (no sinks) at the end of the step.
    if (m.exact) {
        for (const ExactBlock& b : m.blocks)
            m.x_free.segment(b.offset, b.size).noalias() =
                b.phi * m.x.segment(b.offset, b.size) + b.gamma * m.u.segment(b.offset, b.size);
    } else if (m.banded) {
        const double dt = m.dt;
        const double* cap = m.capacity.data();
        const double* x = m.x.data();
        const double* u = m.u.data();
        double* free = m.x_free.data();
        for (const Impl::BandBatch& b : m.band_batches)
            m.band_solve(b, [&](std::uint32_t k) { return cap[k] * x[k] + dt * u[k]; },
                         [&](std::uint32_t k, double v) { free[k] = v; });
    } else {
        m.rhs = m.capacity.cwiseProduct(m.x) + m.dt * m.u;
        m.x_free = m.solver.solve(m.rhs);
    }
}

double RcNetwork::free_air_temperature(std::uint32_t zone) const { return impl_->x_free[impl_->air[zone]]; }

double RcNetwork::self_response(std::uint32_t zone) const { return impl_->g[zone]; }

double RcNetwork::response(std::uint32_t to, std::uint32_t from) const {
    const Impl& m = *impl_;
    TWINSIM_ASSERT(m.exact, "response() reads the exact integrator's blocks");
    if (m.zone_block[to] != m.zone_block[from]) return 0.0;
    const ExactBlock& b = m.blocks[m.zone_block[from]];
    return b.gamma(m.air[to] - b.offset, m.air[from] - b.offset);
}

void RcNetwork::sink_response(std::span<const double> zone_watts, std::vector<double>& air_drop) const {
    Impl& m = *impl_;
    TWINSIM_ASSERT(!m.exact, "sink_response() solves with the implicit integrator's factorisation");
    m.q.setZero();
    for (std::size_t i = 0; i < zone_watts.size(); ++i) m.q[m.air[i]] = zone_watts[i];
    m.rhs = m.dt * m.q;
    if (m.banded) {
        double* r = m.rhs.data();
        for (const Impl::BandBatch& b : m.band_batches)
            m.band_solve(b, [&](std::uint32_t k) { return r[k]; }, [&](std::uint32_t k, double v) { r[k] = v; });
    } else {
        m.rhs = m.solver.solve(m.rhs).eval();
    }
    air_drop.resize(zone_watts.size());
    for (std::size_t i = 0; i < zone_watts.size(); ++i) air_drop[i] = m.rhs[m.air[i]];
}

bool RcNetwork::has_group_responses() const noexcept { return !impl_->group_g.empty() || impl_->groups.empty(); }

std::span<const double> RcNetwork::group_response(std::size_t group) const {
    const Impl& m = *impl_;
    TWINSIM_ASSERT(group < m.group_g.size(), "group_response() of a network with group responses, of one of its groups");
    return m.group_g[group];
}

RcNetwork::StepResult RcNetwork::advance(std::span<const double> zone_watts, double outdoor_heat_rate) {
    Impl& m = *impl_;
    TWINSIM_ASSERT(zone_watts.size() == m.air.size(), "one sink per zone");
    // A heat sink at each air node, held over the step.
    m.q.setZero();
    bool any = false;
    for (std::size_t i = 0; i < zone_watts.size(); ++i) {
        m.q[m.air[i]] = zone_watts[i];
        any = any || zone_watts[i] > 0.0;
    }
    m.x_old = m.x;
    StepResult out;
    if (m.exact) {
        double loss = 0.0;
        for (const ExactBlock& b : m.blocks) {
            auto seg = m.x.segment(b.offset, b.size);
            const auto qs = m.q.segment(b.offset, b.size);
            loss += b.r1.dot(seg) + b.r2.dot(m.u.segment(b.offset, b.size) - qs);
            if (qs.any())
                seg.noalias() = m.x_free.segment(b.offset, b.size) - b.gamma * qs;
            else
                seg = m.x_free.segment(b.offset, b.size);
        }
        loss -= outdoor_heat_rate * m.dt;
        out.outdoor_loss = loss;
    } else if (m.banded) {
        // x = x_free - (C + dt L)^-1 dt q (a batch without a sink keeps x_free).
        m.x = m.x_free;
        const double dt = m.dt;
        const double* q = m.q.data();
        double* x = m.x.data();
        for (const Impl::BandBatch& b : m.band_batches) {
            const std::uint32_t* index = m.band_index.data() + b.index;
            bool sink = false;
            for (std::size_t k = 0; k < std::size_t{b.size} * Impl::lanes; ++k) sink = sink || q[index[k]] != 0.0;
            if (sink)
                m.band_solve(b, [&](std::uint32_t k) { return dt * q[k]; }, [&](std::uint32_t k, double v) { x[k] -= v; });
        }
        out.outdoor_loss = m.dt * (m.h_node.dot(m.x) - outdoor_heat_rate);
    } else {
        if (any) {
            m.rhs = m.dt * m.q;
            m.x = m.x_free - m.solver.solve(m.rhs);
        } else {
            m.x = m.x_free;
        }
        out.outdoor_loss = m.dt * (m.h_node.dot(m.x) - outdoor_heat_rate);
    }
    out.stored = m.capacity.dot(m.x - m.x_old);
    return out;
}

}  // namespace twinsim::models
