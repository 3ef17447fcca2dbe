"""Generated-code sources for linear algebra where MLX's ``mx.linalg`` differs from torch
(broadcasting, vector right-hand sides, pivots, tolerances); helpers.py registers them in
``HELPERS``. MLX runs these decompositions on the CPU only, hence ``stream=mx.cpu``."""

from __future__ import annotations

BATCH_BROADCAST = '''
def batch_broadcast(a, b):
    """Broadcast the batch dims of two stacks of matrices (mx.linalg doesn't)."""
    batch = mx.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return mx.broadcast_to(a, batch + a.shape[-2:]), mx.broadcast_to(b, batch + b.shape[-2:])
'''

SOLVE = '''
def solve(a, b, left=True):
    """torch.linalg.solve: b may be a (batch of) vector(s); left=False solves x @ a = b."""
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    if vector:
        b = b[..., None]  # a column, as torch makes it
    elif not left:
        b = b.swapaxes(-1, -2)  # x @ a = b  <=>  a.T @ x.T = b.T
    if not left:
        a = a.swapaxes(-1, -2)
    x = mx.linalg.solve(*batch_broadcast(a, b), stream=mx.cpu)
    if vector:
        return x[..., 0]
    return x if left else x.swapaxes(-1, -2)
'''

SOLVE_TRIANGULAR = '''
def solve_triangular(a, b, upper, left=True, unitriangular=False):
    """torch.linalg.solve_triangular: only a's triangle is read; left=False solves x @ a = b."""
    if unitriangular:
        n = a.shape[-1]
        strict = mx.triu(a, 1) if upper else mx.tril(a, -1)
        a = strict + mx.eye(n, dtype=a.dtype)
    if not left:  # x @ a = b  <=>  a.T @ x.T = b.T, and a.T is triangular the other way
        a, b, upper = a.swapaxes(-1, -2), b.swapaxes(-1, -2), not upper
    x = mx.linalg.solve_triangular(*batch_broadcast(a, b), upper=upper, stream=mx.cpu)
    return x if left else x.swapaxes(-1, -2)
'''

LOGDET = '''
def logdet(a):
    """torch.logdet: log|det a|, NaN where the determinant is negative."""
    sign, logabsdet = mx.linalg.slogdet(a, stream=mx.cpu)
    return mx.where(sign < 0, mx.nan, logabsdet)
'''

MATRIX_POWER = '''
def matrix_power(a, n):
    """torch.linalg.matrix_power: binary powers of a, or of its inverse when n < 0."""
    if n == 0:
        return mx.broadcast_to(mx.eye(a.shape[-1], dtype=a.dtype), a.shape)
    if n < 0:
        a, n = mx.linalg.inv(a, stream=mx.cpu), -n
    result = None
    while n > 0:
        if n % 2:
            result = a if result is None else result @ a
        n //= 2
        if n:
            a = a @ a
    return result
'''

PINV = '''
def pinv(a, atol=None, rtol=None, hermitian=False):
    """torch.linalg.pinv: singular values (|eigenvalues| if hermitian) at most
    max(atol, rtol * the largest) count as zero; rtol defaults to eps * max(m, n), or to 0
    where atol > 0. The result doesn't depend on the signs of the singular vectors."""
    zero = mx.array(0, dtype=a.dtype)
    if rtol is None:
        rtol = mx.array(mx.finfo(a.dtype).eps * max(a.shape[-2:]), dtype=a.dtype)
        rtol = rtol if atol is None else mx.where(atol > 0, zero, rtol)
    atol = zero if atol is None else atol
    if hermitian:
        w, v = mx.linalg.eigh(a, stream=mx.cpu)
        largest = mx.max(mx.abs(w), axis=-1, keepdims=True)
        tol = mx.maximum(mx.expand_dims(atol, -1), mx.expand_dims(rtol, -1) * largest)
        return (v * mx.where(mx.abs(w) > tol, 1 / w, zero)[..., None, :]) @ v.swapaxes(-1, -2)
    u, s, vt = mx.linalg.svd(a, stream=mx.cpu)
    k = min(a.shape[-2:])
    tol = mx.maximum(mx.expand_dims(atol, -1), mx.expand_dims(rtol, -1) * s[..., :1])
    inv_s = mx.where(s > tol, 1 / s, zero)
    return (vt[..., :k, :].swapaxes(-1, -2) * inv_s[..., None, :]) @ u[..., :k].swapaxes(-1, -2)
'''

LU = '''
def lu(a):
    """torch.linalg.lu: MLX gives row indices p with a = l[p] @ u; torch the permutation
    matrix P with a = P @ l @ u, so P[i, j] = (p[i] == j)."""
    p, l, u = mx.linalg.lu(a, stream=mx.cpu)
    return (p[..., :, None] == mx.arange(a.shape[-2])).astype(a.dtype), l, u
'''

LU_FACTOR = '''
def lu_factor(a):
    """torch.linalg.lu_factor: LAPACK's row swaps, 1-based int32 as torch gives them (MLX's
    are 0-based uint32)."""
    lu, pivots = mx.linalg.lu_factor(a, stream=mx.cpu)
    return lu, (pivots + 1).astype(mx.int32)
'''

LINALG_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "batch_broadcast": (BATCH_BROADCAST, ()),
    "solve": (SOLVE, ("batch_broadcast",)),
    "solve_triangular": (SOLVE_TRIANGULAR, ("batch_broadcast",)),
    "logdet": (LOGDET, ()),
    "matrix_power": (MATRIX_POWER, ()),
    "pinv": (PINV, ()),
    "lu": (LU, ()),
    "lu_factor": (LU_FACTOR, ()),
}
