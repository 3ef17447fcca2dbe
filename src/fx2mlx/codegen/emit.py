"""Assemble ``model.py``: classes from the planner, helpers, template, then ``black``."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import black
import jinja2
from torch import fx
from torch.utils import _pytree as pytree

from ..capture import Captured
from ..converters import helpers as helper_sources
from ..errors import Fx2MlxError
from ..expr import Expr, hole, literal
from ..meta import LAYER
from ..report import BakedDim
from .dedup import ClassDef, ClassPlanner
from .docstring import DocSpec, class_doc, module_doc
from .draft import Drafter
from .returns import container, output_annotation
from .sanitize import sanitize_lines
from .scopes import build_scopes
from .size_guards import size_guards
from .streaming import stream_view
from .text import docstring_text

BLACK_MODE = black.Mode(line_length=100)


@dataclass
class Emitted:
    source: str
    declared: list[str]
    classes: list[ClassDef]


def _templates_dir() -> Path:
    packaged = resources.files("fx2mlx") / "templates"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "templates"


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_templates_dir())),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["docstring"] = docstring_text  # the template's only way to write prose
    return env


def _output_leaf(value: Any) -> str:
    return hole(value) if isinstance(value, fx.Node) else literal(value)


def render_outputs(spec: pytree.TreeSpec, leaves: list[Any]) -> str:
    """The ``return`` expression for the model's output structure."""
    it = iter(leaves)

    def walk(s: pytree.TreeSpec, top: bool = False) -> str:
        if s.is_leaf():
            return _output_leaf(next(it))
        kids = [walk(c) for c in s.children()]
        kind = container(s.type)
        if kind == "None":
            return "None"
        if kind == "list":
            return "[" + ", ".join(kids) + "]"
        if kind == "tuple":  # a top-level tuple reads `return a, b`
            inner = ", ".join(kids) + ("," if len(kids) == 1 else "")
            return inner if top and len(kids) > 1 else f"({inner})"
        # dicts and ModelOutputs: their pytree context is the list of keys
        return "{" + ", ".join(f"{_key(k)}: {v}" for k, v in zip(s.context, kids)) + "}"

    return walk(spec, top=True)


def _key(key: object) -> str:
    """An output dict key as source; only plain constants (a key object's own ``repr`` could
    write anything into the file)."""
    try:
        return literal(key)
    except TypeError:
        raise Fx2MlxError(
            f"an output dict key of type {type(key).__name__} can't be written as a constant"
        ) from None


def emit(
    captured: Captured, doc: DocSpec, prefix: str = "", baked: list[BakedDim] | None = None
) -> Emitted:
    """Generate the model source for an already normalized, laid-out, collapsed graph
    (``prefix``: the attribute holding a top-level list, for ``sanitize``; ``baked``: the
    input sizes the code takes as constants, checked on entry)."""
    root = build_scopes(captured)
    output = next(n for n in captured.graph.nodes if n.op == "output")
    leaves = list(output.args[0]) if isinstance(output.args[0], (list, tuple)) else [output.args[0]]
    helpers: set[str] = {
        h for n in captured.graph.nodes if n.op == "call_module" for h in n.meta[LAYER].ctor.helpers
    }
    drafter = Drafter(captured, helpers, Expr(render_outputs(captured.out_spec, leaves)))
    drafter.assign_params(root)
    classes = ClassPlanner(drafter, root, reserved=set(helpers)).plan()
    sources, std_imports = helper_sources.resolve(helpers)
    top = len(classes) - 1  # the planner lists the model's own class last
    declared = [k for ks in drafter.declared.values() for k in ks if k not in drafter.embedded]
    sanitize = sanitize_lines(captured, declared, prefix, doc.precision, bool(doc.quantized))
    views = [_view(c, i == top, captured, sanitize, leaves) for i, c in enumerate(classes)]
    views[top]["body"] = size_guards(captured, baked or [], classes[top].call_params) + list(
        views[top]["body"]
    )
    if captured.stream_state:
        stream_view(captured, views[top], leaves)
    text = (
        _env()
        .get_template("model.py.j2")
        .render(
            doc=module_doc(captured, classes[-1].call_params, doc),
            std_imports=sorted({*std_imports, "json"}),  # json: load() reads a shard index
            helpers=sources,
            classes=views,
            top=classes[-1].name,
            quantize=_quantize_view(doc),
            stateful=bool(captured.stream_state),  # its __call__ writes arrays into the module
        )
    )
    source = black.format_str(text, mode=BLACK_MODE)
    return Emitted(source, declared, classes)


def _quantize_view(doc: DocSpec) -> dict[str, Any] | None:
    """The template's ``nn.quantize`` call: bits, group size, the layers' paths as literals."""
    p = doc.precision
    if p is None or p.bits is None or not doc.quantized:
        return None
    return {"bits": p.bits, "group_size": p.group_size, "layers": [repr(q) for q in doc.quantized]}


def _view(
    cls: ClassDef, is_top: bool, captured: Captured, sanitize: list[str], leaves: list[Any]
) -> dict[str, Any]:
    return {
        "name": cls.name,
        "doc": "" if is_top else class_doc(cls.source),
        "params": [f"{n}: {a}" + (f" = {d}" if d else "") for n, a, d in cls.params],
        "call_params": [f"{p}: {t}" for p, t in zip(cls.call_params, cls.call_types)],
        "returns": output_annotation(captured.out_spec, leaves) if is_top else cls.returns,
        "init": cls.init,
        "body": cls.body,
        "sanitize": sanitize if is_top else [],
        "reset": [],
    }
