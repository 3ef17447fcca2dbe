"""Codegen on its structured statements: expressions, nesting, naming, loops, guards.

Statements are built by hand here (no capture, no converters), so each test shows one rule of
the generated code's shape, and what breaks when it changes.
"""

from __future__ import annotations

import pytest
import torch
from torch import fx, nn

from fx2mlx.codegen.body import render_body
from fx2mlx.codegen.draft import layer_tree
from fx2mlx.codegen.init import render, slots
from fx2mlx.codegen.loops import fold_loops
from fx2mlx.codegen.optional import NotAChain, optional_call
from fx2mlx.codegen.order import init_order
from fx2mlx.codegen.scopes import Scope
from fx2mlx.codegen.statements import Kind, Stmt, op, returns
from fx2mlx.converters.registry import Ctor
from fx2mlx.expr import ATOM, Expr, binary, call, constant, hole, ref, unary


def text(expr: Expr) -> str:
    """``expr`` with every value read by its own name."""
    return expr.filled({name: Expr(name) for name in expr.reads()}).text


class Graph:
    """Graph values to hang statements on (``meta["val"]`` decides what may share a name)."""

    def __init__(self) -> None:
        self.graph = fx.Graph()

    def value(self, name: str, dtype: torch.dtype = torch.float32) -> fx.Node:
        node = self.graph.placeholder(name)
        node.meta["val"] = torch.empty(2, 3, dtype=dtype)
        return node


def layer(out: fx.Node, callee: str, *args: fx.Node, **kw: object) -> Stmt:
    return Stmt(Kind.CALL, [out], callee=callee, args=[ref(a) for a in args], **kw)  # type: ignore[arg-type]


def lines(stmts: list[Stmt], *params: tuple[fx.Node, str]) -> list[str]:
    return render_body(stmts, list(params), {}).lines


# -- expressions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, expected",
    [
        (binary("-", ref("a"), binary("-", ref("b"), ref("c"))), "a - (b - c)"),
        (binary("-", binary("-", ref("a"), ref("b")), ref("c")), "a - b - c"),
        (binary("*", binary("+", ref("a"), ref("b")), ref("c")), "(a + b) * c"),
        (binary("**", ref("a"), binary("**", ref("b"), ref("c"))), "a ** b ** c"),
        (binary("**", binary("**", ref("a"), ref("b")), ref("c")), "(a ** b) ** c"),
        (binary("**", unary("-", ref("a")), 2), "(-a) ** 2"),
        (unary("-", binary("**", ref("a"), 2)), "-a ** 2"),
        (binary("==", binary("<", ref("a"), ref("b")), ref("c")), "(a < b) == c"),
        (binary("&", binary("!=", ref("a"), 0), ref("b")), "(a != 0) & b"),
        (binary("|", ref("a"), binary("&", ref("b"), ref("c"))), "a | b & c"),
        (binary("*", ref("a"), -2), "a * -2"),
        (binary("**", ref("a"), -2), "a ** (-2)"),
        (binary("+", ref("a"), float("-inf")), "a + -float('inf')"),
    ],
)
def test_binary_parenthesizes_exactly_where_python_needs(expr: Expr, expected: str) -> None:
    assert text(expr) == expected
    env = {"a": 3, "b": 2, "c": 1}
    assert eval(text(expr), {"float": float}, env) == eval(expected, {"float": float}, env)


def test_a_value_takes_parentheses_only_where_it_is_placed() -> None:
    total = binary("+", ref("a"), ref("b"))
    receiver = Expr(f"{hole('x', ATOM)}.T")  # as converters place a method's receiver
    assert text(receiver.filled({"x": total})) == "(a + b).T"
    assert text(call("f", ref("x"), 0.5).filled({"x": total})) == "f(a + b, 0.5)"
    assert text(call("mx.where", binary(">", ref("a"), 0), ref("a"), 0.0)) == (
        "mx.where(a > 0, a, 0.0)"
    )


def test_expressions_say_what_they_read() -> None:
    expr = binary("+", call("f", ref("x"), ref("y")), ref("x"))
    assert expr.reads() == ["x", "y", "x"]
    assert expr.operands() == ["x"]  # only the one placed directly next to `+`
    assert ref("x").value() == "x" and expr.value() is None
    assert text(expr.renamed({"x": "z"})) == "f(z, y) + z"
    assert constant(-1.5).prec < Expr("x").prec


# -- statements ----------------------------------------------------------------------------


def test_a_call_statement_is_its_callee_and_arguments() -> None:
    g = Graph()
    x, mask, out = g.value("x"), g.value("mask"), g.value("out")
    s = layer(out, "self.attn", x, mask)
    assert s.reads() == ["x", "mask"]
    assert text(s.rhs()) == "self.attn(x, mask)"
    assert s.renamed({"mask": "m"}).reads() == ["x", "m"]
    assert s.reads() == ["x", "mask"]  # renaming gives a new statement


def test_a_chain_nests_and_reuses_the_dying_name() -> None:
    g = Graph()
    x, a, b, c = g.value("x"), g.value("a"), g.value("b"), g.value("c")
    stmts = [
        layer(a, "self.conv1", x),
        layer(b, "self.bn1", a),
        op(c, call("nn.relu", ref(b)), 0),
        returns(call("self.pool", ref(c))),
    ]
    assert lines(stmts, (x, "x")) == [
        "x = nn.relu(self.bn1(self.conv1(x)))",
        "return self.pool(x)",
    ]


def test_a_deep_operand_gets_the_name_not_the_whole_expression() -> None:
    g = Graph()
    x, out, c, b, s, r = (g.value(n) for n in ("x", "out", "c", "b", "s", "r"))
    stmts = [
        layer(c, "self.conv2", out),
        layer(b, "self.bn2", c),
        op(s, binary("+", ref(b), ref(x)), 0),
        op(r, call("nn.relu", ref(s)), 0),
        returns(ref(r)),
    ]
    assert lines(stmts, (out, "out"), (x, "identity")) == [
        "out = self.bn2(self.conv2(out))",
        "return nn.relu(out + identity)",
    ]


def test_source_names_and_no_numbered_copy_of_a_live_name() -> None:
    g = Graph()
    x, h, n, y = g.value("x"), g.value("h"), g.value("n"), g.value("y")
    line = ("model.py", 7, "forward")
    stmts = [
        op(h, binary("+", ref(x), call("self.attn", ref(x))), 0, hint="x"),
        layer(n, "self.mlp", h, hint="x", line=line),  # computed on the way to line 7's x
        op(y, binary("+", ref(h), call("self.proj", ref(n))), 0, hint="x", line=line),
        returns(binary("+", binary("*", binary("*", ref(y), ref(h)), ref(n)), ref(y))),
    ]
    assert lines(stmts, (x, "x")) == [
        "x = x + self.attn(x)",
        "y = self.mlp(x)",  # not x2: it reads x, and isn't what line 7 assigns
        "x2 = x + self.proj(y)",  # line 7's own result, while x lives: numbered
        "return x2 * x * y + x2",
    ]


def test_ids_never_name_hidden_states() -> None:
    g = Graph()
    ids, h = g.value("tokens", torch.int64), g.value("h")
    stmts = [layer(h, "self.embed", ids), returns(binary("*", ref(h), ref(h)))]
    assert lines(stmts, (ids, "tokens")) == ["y = self.embed(tokens)", "return y * y"]


def test_a_comment_stays_with_its_source_line() -> None:
    g = Graph()
    t, e, p, s, enc = (g.value(n) for n in ("t", "e", "p", "s", "enc"))
    line, other = ("m.py", 3, "forward"), ("m.py", 4, "forward")
    stmts = [
        layer(e, "self.embed", t, line=line, hint="x"),
        op(p, Expr("self.pos[:, :12]"), 0, line=line, comment="12 = t.shape[1] when traced"),
        op(s, binary("+", ref(e), ref(p)), 0, line=line, hint="x"),
        layer(enc, "self.encoder", s, line=other, hint="x"),
        returns(call("self.head", ref(enc))),
    ]
    assert lines(stmts, (t, "tokens")) == [
        "x = self.embed(tokens) + self.pos[:, :12]  # 12 = t.shape[1] when traced",
        "return self.head(self.encoder(x))",
    ]


def test_consecutive_statements_share_one_note() -> None:
    g = Graph()
    x, a, b = g.value("x"), g.value("a"), g.value("b")
    note = "7 = x.shape[1] when traced"
    stmts = [
        op(a, Expr(f"{ref(x).text}.reshape(2, 7)"), 0, comment=note, hint="a"),
        op(b, Expr(f"{ref(x).text}.reshape(7, 2)"), 1, comment=note, hint="b"),
        returns(binary("+", binary("*", ref(a), ref(b)), binary("/", ref(b), ref(a)))),
    ]
    assert lines(stmts, (x, "x")) == [
        f"# {note}",
        "a = x.reshape(2, 7)",
        "b = x.reshape(7, 2)",
        "return a * b + b / a",
    ]


# -- loops and optional submodules -----------------------------------------------------------


class Blocks(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Dropout(), nn.Linear(2, 2)])
        self.downsample = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))


def chain(g: Graph, x: fx.Node, path: str, indices: list[int], mask: fx.Node) -> list[Stmt]:
    stmts, cur = [], x
    for i in indices:
        out = g.value(f"{path}_{i}")
        stmts.append(
            Stmt(Kind.CALL, [out], callee="unused", args=[ref(cur), ref(mask)], path=f"{path}.{i}")
        )
        cur = out
    return stmts


def test_a_chain_over_a_whole_list_is_a_loop_that_reassigns_its_input() -> None:
    g = Graph()
    src, mask = g.value("src"), g.value("mask")
    stmts = chain(g, src, "layers", [0, 2], mask)  # the Dropout does nothing in eval mode
    folded = fold_loops([*stmts, returns(ref(stmts[-1].outs[0]))], Scope(("@root", ""), Blocks()))
    assert [s.kind for s in folded] == [Kind.LOOP, Kind.RETURN]
    assert folded[0].callee == "self.layers" and folded[0].reads() == ["src", "mask"]
    assert lines(folded, (src, "src"), (mask, "mask")) == [
        "for layer in self.layers:",
        "    src = layer(src, mask)",
        "return src",
    ]


def test_a_chain_that_skips_a_real_layer_is_not_a_loop() -> None:
    g = Graph()
    src, mask = g.value("src"), g.value("mask")
    blocks = Blocks()
    blocks.layers[1] = nn.Linear(2, 2)
    stmts = chain(g, src, "layers", [0, 2], mask)
    folded = fold_loops([*stmts, returns(ref(stmts[-1].outs[0]))], Scope(("@root", ""), blocks))
    assert [s.kind for s in folded] == [Kind.CALL, Kind.CALL, Kind.RETURN]


def item(out: fx.Node, path: str, src: fx.Node) -> Stmt:
    """A call of ``self.<path>`` (a list item) on ``src``."""
    return Stmt(Kind.CALL, [out], callee="unused", args=[ref(src)], path=path, hint="identity")


def test_an_optional_submodule_is_guarded_and_may_hold_a_loop() -> None:
    g = Graph()
    x, c, out, d0, d1, total, r = (g.value(n) for n in ("x", "c", "out", "d0", "d1", "t", "r"))
    stmts = [
        layer(c, "self.conv", x, hint="out"),
        layer(out, "self.bn", c, hint="out"),
        item(d0, "downsample.0", x),
        item(d1, "downsample.1", d0),
        op(total, binary("+", ref(out), ref(d1)), 3),
        op(r, call("nn.relu", ref(total)), 4),
    ]
    scope = Scope(("@root", ""), Blocks())
    stmts = optional_call(stmts, scope, "downsample", guarded=True)
    assert [s.kind for s in stmts] == [Kind.CALL, Kind.CALL, Kind.GUARD, Kind.OP, Kind.OP]
    stmts = fold_loops([*stmts, returns(ref(r))], scope)
    assert [s.kind for s in stmts[2].body] == [Kind.LOOP]
    assert lines(stmts, (x, "x")) == [
        "out = self.bn(self.conv(x))",
        "identity = x",
        "if 'downsample' in self:",  # black makes the quotes double
        "    for layer in self.downsample:",
        "        identity = layer(identity)",
        "return nn.relu(out + identity)",
    ]


def test_an_absent_optional_submodule_is_its_input() -> None:
    g = Graph()
    x, d0, d1 = g.value("x"), g.value("d0"), g.value("d1")
    stmts = [item(d0, "downsample.0", x), item(d1, "downsample.1", d0), returns(ref(d1))]
    stmts = optional_call(stmts, Scope(("@root", ""), Blocks()), "downsample", guarded=False)
    assert [s.kind for s in stmts] == [Kind.ALIAS, Kind.RETURN]
    assert lines(stmts, (x, "x")) == ["return x"]


def test_an_optional_submodule_read_halfway_is_not_a_chain() -> None:
    g = Graph()
    x, a, b = g.value("x"), g.value("a"), g.value("b")
    stmts = [
        Stmt(Kind.CALL, [a], callee="unused", args=[ref(x)], path="downsample.0"),
        Stmt(Kind.CALL, [b], callee="unused", args=[ref(a)], path="downsample.1"),
        returns(binary("+", ref(a), ref(b))),
    ]
    with pytest.raises(NotAChain):
        optional_call(stmts, Scope(("@root", ""), Blocks()), "downsample", guarded=True)


def test_the_batch_size_read_often_is_named_once() -> None:
    g = Graph()
    x, a, b, c = g.value("x"), g.value("a"), g.value("b"), g.value("c")
    dim = ref("x.shape[0]").text
    stmts = [
        op(a, Expr(f"{ref(x).text}.reshape({dim}, -1)"), 0, hint="a"),
        op(b, Expr(f"{ref(a).text}.reshape({dim}, 3, -1)"), 1, hint="b"),
        op(c, Expr(f"{ref(b).text}.reshape({dim}, 2, -1)"), 2, hint="c"),
        returns(binary("*", ref(c), ref(a))),
    ]
    dims = {"x.shape[0]": ("x", 0)}
    body = render_body(stmts, [(x, "x")], {"x.shape[0]": Expr("x.shape[0]")}, {}, dims)
    assert body.lines[0] == "B = x.shape[0]"
    assert "x.shape[0]" not in "\n".join(body.lines[1:])


# -- constructors ------------------------------------------------------------------------------


class Ordered(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(3, 2)
        self.pos = nn.Parameter(torch.zeros(2))
        self.register_buffer("mask", torch.ones(2))
        self.head = nn.Linear(2, 2)


def test_attributes_come_in_init_order() -> None:
    assert list(init_order(Ordered)) == ["embed", "pos", "mask", "head"]
    assert init_order(nn.Module) == {}


def test_a_bare_kernel_size_is_passed_by_keyword() -> None:
    ctor = Ctor("nn.Conv2d", [("in_channels", 3), ("out_channels", 8), ("kernel_size", 3)])
    conv = Ctor(ctor.fn, ctor.args, [("stride", 2), ("bias", True)], {"stride": 1, "bias": True})
    tree = layer_tree(conv)
    omit = {id(slot) for slot in slots(tree) if slot.value == slot.default}
    assert render(tree, omit) == "nn.Conv2d(3, 8, kernel_size=3, stride=2)"
