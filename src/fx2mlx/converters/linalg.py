"""Linear algebra (torch.linalg) on ``mx.linalg``: inverses, determinants, solves,
factorizations, matrix norms and powers. Matrices are the last two dims, so the layout is
PyTorch's. MLX computes these decompositions on the CPU only (on a GPU stream it raises), so
the generated calls name ``stream=mx.cpu``."""

from __future__ import annotations

import operator

import torch
from torch import fx

from ..emit_ctx import EmitCtx, dtype_expr, op_args
from ..expr import ATOM, Expr, call
from ..layout import canonical
from .registry import register_op

aten = torch.ops.aten
CPU = "mx.cpu"


def _used_outputs(node: fx.Node) -> set[int]:
    """Indices of a multi-output op's outputs that something reads."""
    used: set[int] = set()
    for user in node.users:
        if user.target is not operator.getitem:
            return set(range(8))  # the tuple itself is used: every output counts
        if user.users:
            used.add(op_args(user)["b"])
    return used


def _statically_empty(value: object, dims: list[int]) -> bool:
    """Whether one of ``dims`` of a graph value is a fixed 0 (not a symbolic size)."""
    val = value.meta.get("val") if isinstance(value, fx.Node) else None
    shape = tuple(val.shape) if isinstance(val, torch.Tensor) else ()
    return len(shape) >= len(dims) and any(
        isinstance(shape[d], int) and shape[d] == 0 for d in dims
    )


def check_lapack(node: fx.Node) -> str | None:
    """MLX's LAPACK calls crash the whole process (SIGFPE) on a matrix with no entries."""
    tensors = [a for a in op_args(node).values() if isinstance(a, fx.Node)]
    if tensors and _statically_empty(tensors[0], [-2, -1]):
        return "an empty matrix (MLX's LAPACK call crashes the process on one)"
    return None


@register_op(aten.linalg_inv.default, aten.inverse.default, layout=canonical, check=check_lapack)
def inv(node: fx.Node, ctx: EmitCtx) -> Expr:
    name = "A" if "A" in ctx.args else "self"
    return call("mx.linalg.inv", ctx.a(name), stream=CPU)


def _zero_info(ctx: EmitCtx, value: Expr) -> Expr:
    """``(value, info)`` of an ``_ex`` op: MLX raises where LAPACK reports a zero pivot, so
    whatever it returns had info 0 (one int32 per matrix of A)."""
    ctx.comment("MLX raises on a singular matrix: what it returns has info 0")
    info = f"mx.zeros({ctx.a('A', ATOM)}.shape[:-2], dtype=mx.int32)"
    return Expr(f"({value.text}, {info})", ATOM)


@register_op(aten.linalg_inv_ex.default, layout=canonical, check=check_lapack)
def inv_ex(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _zero_info(ctx, call("mx.linalg.inv", ctx.a("A"), stream=CPU))


@register_op(aten.linalg_det.default, aten.det.default, layout=canonical, check=check_lapack)
def det(node: fx.Node, ctx: EmitCtx) -> Expr:
    name = "A" if "A" in ctx.args else "self"
    return call("mx.linalg.det", ctx.a(name), stream=CPU)


@register_op(
    aten.linalg_slogdet.default, aten.slogdet.default, layout=canonical, check=check_lapack
)
def slogdet(node: fx.Node, ctx: EmitCtx) -> Expr:
    name = "A" if "A" in ctx.args else "self"
    return call("mx.linalg.slogdet", ctx.a(name), stream=CPU)


@register_op(aten.logdet.default, layout=canonical, check=check_lapack)
def logdet(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call(ctx.helper("logdet"), ctx.a("self"))


@register_op(aten.linalg_solve.default, layout=canonical, check=check_lapack)
def solve(node: fx.Node, ctx: EmitCtx) -> Expr:
    left = [] if ctx.arg("left") else ["False"]
    return call(ctx.helper("solve"), ctx.a("A"), ctx.a("B"), *left)


@register_op(aten.linalg_solve_ex.default, layout=canonical, check=check_lapack)
def solve_ex(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _zero_info(ctx, solve(node, ctx))


@register_op(aten.linalg_solve_triangular.default, layout=canonical, check=check_lapack)
def solve_triangular(node: fx.Node, ctx: EmitCtx) -> Expr:
    kwargs = {"upper": repr(bool(ctx.arg("upper")))}
    if not ctx.arg("left"):
        kwargs["left"] = "False"
    if ctx.arg("unitriangular"):
        kwargs["unitriangular"] = "True"
    return call(ctx.helper("solve_triangular"), ctx.a("self"), ctx.a("B"), **kwargs)


def _upper(ctx: EmitCtx) -> dict[str, str]:
    return {"upper": "True"} if ctx.arg("upper") else {}


@register_op(aten.linalg_cholesky.default, layout=canonical, check=check_lapack)
def cholesky(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.linalg.cholesky", ctx.a("self"), **_upper(ctx), stream=CPU)


def check_cholesky_ex(node: fx.Node) -> str | None:
    if (empty := check_lapack(node)) is not None:
        return empty
    if 1 in _used_outputs(node):
        return "cholesky_ex's info output (MLX's cholesky reports no failure)"
    return None


@register_op(aten.linalg_cholesky_ex.default, layout=canonical, check=check_cholesky_ex)
def cholesky_ex(node: fx.Node, ctx: EmitCtx) -> Expr:
    factor = call("mx.linalg.cholesky", ctx.a("self"), **_upper(ctx), stream=CPU)
    return Expr(f"({factor.text}, None)", ATOM)  # info: unused (the check refuses it)


@register_op(aten.cholesky_inverse.default, layout=canonical, check=check_lapack)
def cholesky_inverse(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.linalg.cholesky_inv", ctx.a("self"), **_upper(ctx), stream=CPU)


def check_qr(node: fx.Node) -> str | None:
    if (empty := check_lapack(node)) is not None:
        return empty
    m, n = op_args(node)["A"].meta["val"].shape[-2:]
    if op_args(node)["mode"] == "complete" and m > n:
        return "qr(mode='complete') of a tall matrix (MLX's qr returns the reduced Q)"
    return None


@register_op(aten.linalg_qr.default, layout=canonical, check=check_qr)
def qr(node: fx.Node, ctx: EmitCtx) -> Expr:
    # complete equals reduced when m <= n (the check refuses the rest); MLX's Q and R have
    # torch's signs: both come from LAPACK's Householder QR
    factors = call("mx.linalg.qr", ctx.a("A"), stream=CPU)
    if ctx.arg("mode") != "r":
        return factors
    empty = f"mx.zeros((0,), dtype={dtype_expr(ctx.dtype(ctx.arg('A')))})"
    return Expr(f"({empty}, {factors.text}[1])", ATOM)  # mode='r': torch's Q is empty


def check_svd(node: fx.Node) -> str | None:
    if (empty := check_lapack(node)) is not None:
        return empty
    if _used_outputs(node) & {0, 2}:
        return "svd's U or Vh (MLX's singular vectors can differ from torch's in sign)"
    return None


@register_op(aten.linalg_svd.default, aten._linalg_svd.default, layout=canonical, check=check_svd)
def svd(node: fx.Node, ctx: EmitCtx) -> Expr:
    values = call("mx.linalg.svd", ctx.a("A"), compute_uv="False", stream=CPU)
    return Expr(f"(None, {values.text}, None)", ATOM)  # U, Vh: unused (the check refuses them)


@register_op(aten.linalg_svdvals.default, layout=canonical, check=check_lapack)
def svdvals(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.linalg.svd", ctx.a("A"), compute_uv="False", stream=CPU)


def _uplo(ctx: EmitCtx) -> dict[str, str]:
    return {"UPLO": repr(ctx.arg("UPLO"))} if ctx.arg("UPLO") != "L" else {}


def check_eigh(node: fx.Node) -> str | None:
    if (empty := check_lapack(node)) is not None:
        return empty
    if 1 in _used_outputs(node):
        return "eigh's eigenvectors (MLX's can differ from torch's in sign)"
    return None


@register_op(
    aten.linalg_eigh.default, aten._linalg_eigh.default, layout=canonical, check=check_eigh
)
def eigh(node: fx.Node, ctx: EmitCtx) -> Expr:
    name = "A" if "A" in ctx.args else "self"  # _linalg_eigh, what linalg_eigh decomposes to
    values = call("mx.linalg.eigvalsh", ctx.a(name), **_uplo(ctx), stream=CPU)
    return Expr(f"({values.text}, None)", ATOM)  # eigenvectors: unused (the check refuses them)


@register_op(aten.linalg_eigvalsh.default, layout=canonical, check=check_lapack)
def eigvalsh(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.linalg.eigvalsh", ctx.a("self"), **_uplo(ctx), stream=CPU)


def _empty(ctx: EmitCtx, dims: list[int]) -> bool:
    """torch's norm of no entries is 0 and its pseudo-inverse is empty, where MLX's max
    refuses an empty axis."""
    return _statically_empty(ctx.arg("self"), dims)


@register_op(aten.linalg_pinv.atol_rtol_tensor, layout=canonical)
def pinv(node: fx.Node, ctx: EmitCtx) -> Expr:
    if _empty(ctx, [-2, -1]):
        return Expr(f"{ctx.a('self', ATOM)}.swapaxes(-1, -2)")  # (..., n, m) with no entries
    kwargs = {k: ctx.a(k) for k in ("atol", "rtol") if ctx.arg(k) is not None}
    if ctx.arg("hermitian"):
        kwargs["hermitian"] = "True"
    return call(ctx.helper("pinv"), ctx.a("self"), **kwargs)


@register_op(aten.linalg_cross.default, layout=canonical)
def cross(node: fx.Node, ctx: EmitCtx) -> Expr:
    # mx.linalg.cross broadcasts like torch; it is built from ops, so any stream runs it
    return call("mx.linalg.cross", ctx.a("self"), ctx.a("other"), axis=ctx.x(ctx.arg("dim")))


_SPECTRAL = {"nuc", 2, -2, -2.0}  # norms from the singular values: CPU only in MLX


@register_op(aten.linalg_matrix_norm.default, aten.linalg_matrix_norm.str_ord, layout=canonical)
def matrix_norm(node: fx.Node, ctx: EmitCtx) -> Expr:
    x, ord_ = ctx.a("self", ATOM), ctx.arg("ord")
    if ctx.arg("dtype") is not None:  # torch converts the input first
        x = f"{x}.astype({dtype_expr(ctx.arg('dtype'))})"
    r = ctx.rank(ctx.arg("self"))
    kwargs = {"axis": ctx.x(tuple(d % r for d in ctx.arg("dim")))}
    if ctx.arg("keepdim"):
        kwargs["keepdims"] = "True"
    if _empty(ctx, list(ctx.arg("dim"))):  # zeros of the norm's shape: a sum of no entries
        return call("mx.zeros_like", call("mx.sum", x, **kwargs))
    if ord_ in _SPECTRAL:
        kwargs["stream"] = CPU
    return call("mx.linalg.norm", x, _ord_text(ord_), **kwargs)


def _ord_text(ord_: str | float) -> str:
    if isinstance(ord_, float) and abs(ord_) == float("inf"):
        return "mx.inf" if ord_ > 0 else "-mx.inf"  # repr() would write a bare inf
    return repr(ord_)


@register_op(aten.linalg_matrix_power.default, layout=canonical, check=check_lapack)
def matrix_power(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call(ctx.helper("matrix_power"), ctx.a("self"), ctx.x(ctx.arg("n")))


def check_lu(node: fx.Node) -> str | None:
    if (empty := check_lapack(node)) is not None:
        return empty
    if not op_args(node)["pivot"]:
        return "LU without pivoting (MLX's lu always pivots)"
    return None


@register_op(aten.linalg_lu.default, layout=canonical, check=check_lu)
def lu(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call(ctx.helper("lu"), ctx.a("A"))


@register_op(aten.linalg_lu_factor.default, layout=canonical, check=check_lu)
def lu_factor(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call(ctx.helper("lu_factor"), ctx.a("A"))
