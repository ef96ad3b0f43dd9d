"""Lifetime models (models/equipment/lifetime.md): the Pythonic front of the C++ fits.

``WeibullLife``, ``fit_weibull`` and the result classes come straight from the
compiled module; ``fit_weibull_aft`` only turns a mapping or a DataFrame of
covariates into the row-major matrix the C++ fit takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._core import WeibullAftFit, _fit_weibull_aft


def fit_weibull_aft(times, failed=None, covariates=None, names: Sequence[str] | None = None) -> WeibullAftFit:
    """Fit the Weibull accelerated-failure-time model ln eta = b0 + sum b_j x_j.

    times: failure or censoring times; failed: True where the unit failed, False
    where it was still running (right-censored), None for all failed;
    covariates: a mapping {name: values} or a pandas DataFrame (one column per
    covariate), or a 2-D array of shape (n, p) with ``names``. Raises
    LifetimeError (a ValueError) for unusable data, e.g. a constant covariate.
    """
    times = np.asarray(times, dtype=float)
    if covariates is None:
        matrix, names = np.empty((len(times), 0)), []
    elif isinstance(covariates, Mapping) or hasattr(covariates, "columns"):
        columns = list(covariates.keys()) if isinstance(covariates, Mapping) else list(covariates.columns)
        if names is not None:
            raise ValueError("names is only for a 2-D array of covariates; a mapping or DataFrame names its columns")
        names = [str(c) for c in columns]
        matrix = np.column_stack([np.asarray(covariates[c], dtype=float) for c in columns]) if columns else \
            np.empty((len(times), 0))
    else:
        matrix = np.asarray(covariates, dtype=float)
        if matrix.ndim == 1:
            matrix = matrix[:, None]
        if names is None:
            names = [f"x{j}" for j in range(matrix.shape[1])]
    return _fit_weibull_aft(times, failed, np.ascontiguousarray(matrix), list(names))
