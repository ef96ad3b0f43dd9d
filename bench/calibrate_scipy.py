"""The peer of `twinsim-bench calibrate`: the same calibration problem solved
with scipy.optimize.least_squares on the same RC network written in NumPy.

The benchmark writes the problem (bench/calibrate_benchmark.cpp) as JSON:
the rooms' areas, volumes and network values, the adjacent pairs, the step,
the outdoor temperature and every room's gains and recorded cooling per step,
the recorded temperatures, and which rooms' ua_per_area to fit (start value,
bounds). This script builds the exact discretisation of C dx/dt = -L x + u
(zero-order hold over a step) through the eigen-decomposition of the
symmetric form, simulates the whole network with one matrix-vector product
per step, and fits with least_squares in its fastest idiomatic form for this
problem: the trust-region reflective method with the Jacobian's sparsity
given (jac_sparsity), so that SciPy perturbs structurally independent columns
together (the rooms of different levels), and 'jac' scaling.

Prints one JSON line: seconds and CPU seconds of the fit (this process),
the fitted values, the cost and the number of function evaluations.
"""

import argparse
import json
import resource
import time

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse


def cpu_seconds():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


class Network:
    def __init__(self, p):
        self.dt = p["step"]
        self.area = np.array(p["area"])
        self.volume = np.array(p["volume"])
        self.air_capacity = np.array(p["air_heat_capacity"])
        self.mass_capacity = np.array(p["mass_capacity"])
        self.air_mass = np.array(p["air_mass_conductance"])
        self.ua = np.array(p["ua_per_area"])
        self.pairs = np.array(p["adjacent"], dtype=int).reshape(-1, 2)
        self.h_adj = p["adjacent_conductance"]
        self.rf = p["radiant_fraction"]
        self.outdoor = np.array(p["outdoor"])                     # (steps,)
        self.gains = np.array(p["gains"])                         # (zones, steps) W
        self.cooling = np.array(p["cooling"])                     # (zones, steps) W
        self.recorded = np.array(p["recorded"])                   # (zones, steps + 1) degC
        self.fitted = np.array(p["fitted"], dtype=int)
        self.nz = len(self.area)
        nz = self.nz
        # Nodes: air 0..nz-1, mass nz..2nz-1.
        self.air = np.arange(nz)
        self.mass = nz + np.arange(nz)
        # Inputs that do not depend on the fitted values: gains and cooling per node and step.
        self.u_fixed = np.zeros((2 * nz, len(self.outdoor)))
        self.u_fixed[self.air] = (1.0 - self.rf) * self.gains - self.cooling
        self.u_fixed[self.mass] = self.rf * self.gains

    def simulate(self, ua_fitted):
        nz, dt = self.nz, self.dt
        ua = self.ua.copy()
        ua[self.fitted] = ua_fitted
        h_out = ua * self.area
        h_am = self.air_mass * self.area
        cap = np.concatenate([self.volume * self.air_capacity, self.mass_capacity * self.area])
        L = np.zeros((2 * nz, 2 * nz))
        L[self.air, self.air] += h_out + h_am
        L[self.mass, self.mass] += h_am
        L[self.air, self.mass] -= h_am
        L[self.mass, self.air] -= h_am
        a, b = self.pairs[:, 0], self.pairs[:, 1]
        np.add.at(L, (a, a), self.h_adj)
        np.add.at(L, (b, b), self.h_adj)
        np.add.at(L, (a, b), -self.h_adj)
        np.add.at(L, (b, a), -self.h_adj)
        d = 1.0 / np.sqrt(cap)
        lam, V = scipy.linalg.eigh(-(d[:, None] * L * d[None, :]))
        z = lam * dt
        phi1 = np.where(np.abs(z) > 1e-12, np.expm1(z) / np.where(z == 0, 1, z), 1.0) * dt
        W = d[:, None] * V
        Phi = W @ (np.exp(z)[:, None] * (V.T / d[None, :]))
        Gamma = W @ (phi1[:, None] * W.T)
        u = self.u_fixed.copy()
        u[self.air] += h_out[:, None] * self.outdoor[None, :]
        forced = Gamma @ u                                        # (nodes, steps)
        x = np.concatenate([self.recorded[:, 0], self.recorded[:, 0]])
        out = np.empty((nz, forced.shape[1]))
        for k in range(forced.shape[1]):
            x = Phi @ x + forced[:, k]
            out[:, k] = x[:nz]
        return out

    def residuals(self, ua_fitted):
        return (self.simulate(ua_fitted) - self.recorded[:, 1:]).ravel()

    def sparsity(self, groups):
        """Rows (zone-major) each fitted column can move: the rooms of its group."""
        steps = self.recorded.shape[1] - 1
        group_of = np.empty(self.nz, dtype=int)
        for g, members in enumerate(groups):
            group_of[members] = g
        rows, cols = [], []
        for j, zone in enumerate(self.fitted):
            for other in np.flatnonzero(group_of == group_of[zone]):
                rows.append(np.arange(other * steps, (other + 1) * steps))
                cols.append(np.full(steps, j))
        rows = np.concatenate(rows)
        cols = np.concatenate(cols)
        return scipy.sparse.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                                       shape=(self.nz * steps, len(self.fitted)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("problem")
    args = parser.parse_args()
    with open(args.problem) as f:
        p = json.load(f)
    net = Network(p)
    sparsity = net.sparsity(p["groups"])
    x0 = np.array(p["initial"])
    lower, upper = np.array(p["lower"]), np.array(p["upper"])
    c0, t0 = cpu_seconds(), time.perf_counter()
    fit = scipy.optimize.least_squares(net.residuals, x0, bounds=(lower, upper), jac_sparsity=sparsity,
                                       method="trf", x_scale="jac", ftol=1e-10, xtol=1e-10, gtol=1e-10)
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    print(json.dumps({
        "peer": "scipy.optimize.least_squares (trf, jac_sparsity, x_scale='jac', 2-point differences) on the "
                "network in NumPy (eigh-based exact discretisation, one matvec per step)",
        "seconds": seconds, "cpu_seconds": cpu, "values": fit.x.tolist(), "cost_k2": 2.0 * fit.cost,
        "function_evaluations": int(fit.nfev), "jacobian_evaluations": int(fit.njev or 0),
        "status": int(fit.status)}))


if __name__ == "__main__":
    main()
