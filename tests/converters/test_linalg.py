"""torch.linalg against mx.linalg on fresh random inputs, batched and not. Matrices are built
inside the model from the random input (SPD: a @ a.mT + n I; general: a + 3 sqrt(n) I) so that
every fresh input set is well conditioned too."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import fx2mlx
from fx2mlx.converters.linalg import check_lu

from ..helpers import AfterConv, Lambda, assert_converts

BATCHES = [(), (2,), (2, 3)]
N = 4


def _eye(a: torch.Tensor) -> torch.Tensor:
    return torch.eye(a.shape[-1], dtype=a.dtype)


def spd(a: torch.Tensor) -> torch.Tensor:
    """Symmetric positive definite, eigenvalues at least n."""
    return a @ a.mT + a.shape[-1] * _eye(a)


def wc(a: torch.Tensor) -> torch.Tensor:
    """A general (non-symmetric) matrix with singular values of about sqrt(n) or more."""
    return a + 3 * a.shape[-1] ** 0.5 * _eye(a)


def _mat(batch: tuple, m: int = N, n: int = N) -> torch.Tensor:
    return torch.randn(*batch, m, n)


def _refused(fn: Any, reason: str, *inputs: torch.Tensor) -> None:
    with pytest.raises(fx2mlx.UnsupportedError, match=reason):
        fx2mlx.convert(Lambda(fn).eval(), inputs)


INVERSES = {
    "linalg_inv": lambda a: torch.linalg.inv(wc(a)),
    "inverse": lambda a: torch.inverse(wc(a)),
    "inv_ex": lambda a: torch.linalg.inv_ex(wc(a)),  # info: zeros of the batch shape
    "det": lambda a: torch.linalg.det(wc(a)),
    "torch_det": lambda a: torch.det(wc(a)),
    "slogdet": lambda a: torch.linalg.slogdet(wc(a)),
    "slogdet_negative": lambda a: torch.linalg.slogdet(-spd(a[..., :3, :3])),
    "logdet": lambda a: torch.logdet(spd(a)),
    "logdet_negative_is_nan": lambda a: torch.isnan(torch.logdet(-spd(a[..., :3, :3]))).float(),
    "cholesky": lambda a: torch.linalg.cholesky(spd(a)),
    "cholesky_upper": lambda a: torch.linalg.cholesky(spd(a), upper=True),
    "cholesky_of_full_matrix": lambda a: torch.linalg.cholesky(spd(a) + torch.triu(a, 1)),
    "cholesky_ex": lambda a: torch.linalg.cholesky_ex(spd(a)).L,
    "cholesky_inverse": lambda a: torch.cholesky_inverse(torch.linalg.cholesky(spd(a))),
    "cholesky_inverse_upper": lambda a: torch.cholesky_inverse(
        torch.linalg.cholesky(spd(a), upper=True), upper=True
    ),
}


@pytest.mark.parametrize("batch", BATCHES, ids=str)
@pytest.mark.parametrize("name", INVERSES)
def test_inverse_det_cholesky(name: str, batch: tuple) -> None:
    conv = assert_converts(Lambda(INVERSES[name]), _mat(batch))
    assert "stream=mx.cpu" in conv.source  # MLX's linalg kernels run on the CPU only


SOLVES: dict[str, tuple[Any, tuple, tuple]] = {
    "matrix": (lambda a, b: torch.linalg.solve(wc(a), b), (2, N, N), (2, N, 3)),
    "vector": (lambda a, b: torch.linalg.solve(wc(a), b), (N, N), (N,)),
    "batched_vector": (lambda a, b: torch.linalg.solve(wc(a), b), (2, N, N), (2, N)),
    "broadcast_b": (lambda a, b: torch.linalg.solve(wc(a), b), (2, 3, N, N), (N, 2)),
    "broadcast_a": (lambda a, b: torch.linalg.solve(wc(a), b), (N, N), (2, N, 2)),
    "right": (lambda a, b: torch.linalg.solve(wc(a), b, left=False), (2, N, N), (2, 3, N)),
    "solve_ex": (lambda a, b: torch.linalg.solve_ex(wc(a), b), (2, N, N), (3, 2, N, 1)),
    "solve_ex_right": (lambda a, b: torch.linalg.solve_ex(wc(a), b, left=False), (N, N), (3, N)),
}


@pytest.mark.parametrize("name", SOLVES)
def test_solve(name: str) -> None:
    fn, a, b = SOLVES[name]
    assert_converts(Lambda(fn), (torch.randn(*a), torch.randn(*b)))


@pytest.mark.parametrize("unit", [False, True], ids=["", "unitriangular"])
@pytest.mark.parametrize("left", [True, False], ids=["left", "right"])
@pytest.mark.parametrize("upper", [True, False], ids=["upper", "lower"])
@pytest.mark.parametrize("batch", [(), (2,)], ids=str)
def test_solve_triangular(batch: tuple, upper: bool, left: bool, unit: bool) -> None:
    """The full matrix is passed: torch reads only the triangle (and not the diagonal when
    unitriangular), and so must the conversion."""

    def fn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        kw = dict(upper=upper, left=left, unitriangular=unit)
        return torch.linalg.solve_triangular(wc(a), b, **kw)

    b = torch.randn(*batch, N, 3) if left else torch.randn(3, N)  # broadcast against a's batch
    assert_converts(Lambda(fn), (_mat(batch), b))


QR = [  # a tall matrix's complete Q is refused: see the test below
    (mode, shape)
    for mode in ["reduced", "complete", "r"]
    for shape in [(N, N), (5, 3), (3, 5)]
    if not (mode == "complete" and shape[0] > shape[1])
]


@pytest.mark.parametrize("mode, shape", QR, ids=str)
@pytest.mark.parametrize("batch", [(), (2,)], ids=str)
def test_qr(batch: tuple, mode: str, shape: tuple) -> None:
    assert_converts(Lambda(lambda a: torch.linalg.qr(a, mode=mode)), _mat(batch, *shape))


def test_qr_complete_of_tall_matrix_is_refused() -> None:
    fn = lambda a: torch.linalg.qr(a, mode="complete")  # noqa: E731
    _refused(fn, "MLX's qr returns the reduced Q", _mat((2,), 5, 3))


SPECTRA = {
    "svdvals": lambda a: torch.linalg.svdvals(a),
    "svd_S": lambda a: torch.linalg.svd(a).S,
    "svd_S_reduced": lambda a: torch.linalg.svd(a, full_matrices=False).S,
    "eigvalsh": lambda a: torch.linalg.eigvalsh(a),  # a is not symmetric: L is read
    "eigvalsh_U": lambda a: torch.linalg.eigvalsh(a, UPLO="U"),
    "eigh_values": lambda a: torch.linalg.eigh(spd(a)).eigenvalues,
    "eigh_values_U": lambda a: torch.linalg.eigh(a, UPLO="U").eigenvalues,
}


@pytest.mark.parametrize("batch", BATCHES, ids=str)
@pytest.mark.parametrize("name", SPECTRA)
def test_singular_and_eigenvalues(name: str, batch: tuple) -> None:
    shape = (5, 3) if name.startswith("svd") else (N, N)
    assert_converts(Lambda(SPECTRA[name]), _mat(batch, *shape))


REFUSED = {
    "svd_U": (lambda a: torch.linalg.svd(a).U, "svd's U or Vh"),
    "svd_Vh": (lambda a: torch.linalg.svd(a, full_matrices=False).Vh, "svd's U or Vh"),
    "eigh_vectors": (lambda a: torch.linalg.eigh(spd(a)).eigenvectors, "eigh's eigenvectors"),
    "cholesky_ex_info": (lambda a: torch.linalg.cholesky_ex(spd(a)).info, "cholesky_ex's info"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused(name: str) -> None:
    """Singular and eigenvectors differ in sign between MLX and torch (LAPACK leaves the
    sign free); MLX's cholesky returns garbage instead of failing on a matrix that isn't
    positive definite, so there's no info to give."""
    fn, reason = REFUSED[name]
    _refused(fn, reason, _mat((2,)))


PINVS = {
    "default": lambda a: torch.linalg.pinv(a),
    "hermitian": lambda a: torch.linalg.pinv(spd(a), hermitian=True),
    "rank_deficient": lambda a: torch.linalg.pinv(a[..., :2] @ a[..., :2, :]),
    "rank_deficient_hermitian": lambda a: torch.linalg.pinv(
        a[..., :2] @ a[..., :2].mT, hermitian=True
    ),
    "atol": lambda a: torch.linalg.pinv(a, atol=1.5),
    "rtol": lambda a: torch.linalg.pinv(a, rtol=0.3),
    "atol_hermitian": lambda a: torch.linalg.pinv(a @ a.mT, atol=2.0, hermitian=True),
}


PINV_CASES = [  # a hermitian matrix is square
    (name, shape)
    for name in PINVS
    for shape in [(N, N), (5, 3), (3, 5)]
    if "hermitian" not in name or shape[0] == shape[1]
]


@pytest.mark.parametrize("name, shape", PINV_CASES, ids=str)
def test_pinv(name: str, shape: tuple) -> None:
    assert_converts(Lambda(PINVS[name]), _mat((2,), *shape))


def test_pinv_tensor_tolerances() -> None:
    fn = lambda a, t: torch.linalg.pinv(a, atol=t, rtol=t / 4)  # noqa: E731
    assert_converts(Lambda(fn), (_mat((2,), 5, 3), torch.rand(2) + 0.5))


ORDS = ["fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf")]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [(-2, -1), (0, 2), (2, 1)], ids=str)
@pytest.mark.parametrize("ord_", ORDS, ids=str)
def test_matrix_norm(ord_: Any, dim: tuple, keepdim: bool) -> None:
    fn = lambda a: torch.linalg.matrix_norm(a, ord_, dim=dim, keepdim=keepdim)  # noqa: E731
    assert_converts(Lambda(fn), torch.randn(2, 3, 5))


@pytest.mark.parametrize("ord_", [None, "nuc", 2, -1], ids=str)
def test_linalg_norm_of_matrices(ord_: Any) -> None:
    assert_converts(Lambda(lambda a: torch.linalg.norm(a, ord_, dim=(1, 2))), torch.randn(2, 3, 5))


@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 5])
@pytest.mark.parametrize("batch", BATCHES, ids=str)
def test_matrix_power(batch: tuple, n: int) -> None:
    # scaled so that a fifth power stays near 1 and the inverse well conditioned
    fn = lambda a: torch.linalg.matrix_power(wc(a) / (4 * N**0.5), n)  # noqa: E731
    assert_converts(Lambda(fn), _mat(batch))


CROSS = {
    "linalg_cross": (lambda a, b: torch.linalg.cross(a, b), (2, 4, 3), (2, 4, 3)),
    "broadcast": (lambda a, b: torch.linalg.cross(a, b), (2, 4, 3), (1, 4, 3)),
    "dim": (lambda a, b: torch.linalg.cross(a, b, dim=1), (2, 3, 4), (2, 3, 4)),
    "torch_cross": (lambda a, b: torch.cross(a, b, dim=0), (3, 5), (3, 5)),
}


@pytest.mark.parametrize("name", CROSS)
def test_cross(name: str) -> None:
    fn, a, b = CROSS[name]
    conv = assert_converts(Lambda(fn), (torch.randn(*a), torch.randn(*b)))
    assert "mx.linalg.cross(" in conv.source


@pytest.mark.parametrize("dim", [-1, 0])
def test_vecdot(dim: int) -> None:
    fn = lambda x, y: torch.linalg.vecdot(x, y, dim=dim)  # noqa: E731
    assert_converts(Lambda(fn), (torch.randn(4, 3, 5), torch.randn(3, 5)))


@pytest.mark.parametrize("shape", [(N, N), (5, 3), (3, 5)], ids=str)
@pytest.mark.parametrize("batch", [(), (2,)], ids=str)
@pytest.mark.parametrize("name", ["lu_factor", "lu"])
def test_lu(name: str, batch: tuple, shape: tuple) -> None:
    """Pivots (1-based int32 row swaps) and P (a = P @ L @ U) exactly as torch gives them."""
    assert_converts(Lambda(getattr(torch.linalg, name)), _mat(batch, *shape))


def test_lu_reconstructs_after_conversion() -> None:
    def fn(a: torch.Tensor) -> torch.Tensor:
        p, lower, upper = torch.linalg.lu(a)
        return p @ lower @ upper - a

    assert_converts(Lambda(fn), _mat((2,), 5, 3))


AFTER_CONV = {
    "det": lambda y: torch.linalg.det(wc(y)),
    "matrix_norm": lambda y: torch.linalg.matrix_norm(y, 2, dim=(1, 3)),
    "svdvals": lambda y: torch.linalg.svdvals(y),
}


@pytest.mark.parametrize("name", AFTER_CONV)
def test_after_conv(name: str) -> None:
    """A channels-last tensor goes back to PyTorch's layout: matrices are its last two dims."""
    assert_converts(AfterConv(AFTER_CONV[name]), torch.randn(2, 3, 5, 5))


def test_lu_without_pivoting_is_refused() -> None:
    """torch's CPU LU raises on pivot=False, so no model reaches the check on this machine:
    it is called on a hand-built node."""
    graph = torch.fx.Graph()
    a = graph.placeholder("a")
    for op in (torch.ops.aten.linalg_lu.default, torch.ops.aten.linalg_lu_factor.default):
        node = graph.call_function(op, (a,), {"pivot": False})
        assert "MLX's lu always pivots" in (check_lu(node) or "")


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: torch.linalg.matrix_norm(a, 1),
        lambda a: torch.linalg.matrix_norm(a, float("inf"), keepdim=True),
        lambda a: torch.linalg.norm(a, 2, dim=(-2, -1)),
        lambda a: torch.linalg.pinv(a, hermitian=True) if a.shape[-1] == a.shape[-2] else a,
        lambda a: torch.linalg.pinv(a),
    ],
    ids=["norm1", "norm_inf_keepdim", "norm2", "pinv_hermitian", "pinv"],
)
@pytest.mark.parametrize("shape", [(5, 0), (3, 0, 0), (2, 0, 4)], ids=str)
def test_empty_matrices(fn: object, shape: tuple) -> None:
    """A norm of no entries is 0, a pseudo-inverse of none is empty (MLX's max refuses an
    empty axis)."""
    assert_converts(Lambda(fn), torch.randn(*shape))


def test_tensorinv_through_its_decomposition() -> None:
    """The decomposition checks the inverse for errors with a side effect (an effect token
    input and a with_effects call): the generated model takes only the user's input."""
    x = torch.randn(12, 12) + 12 * torch.eye(12)
    conv = assert_converts(Lambda(lambda t: torch.linalg.tensorinv(t, ind=2)), x.reshape(4, 3, 12))
    assert "token" not in conv.source
