"""fx2mlx: compile a PyTorch ``nn.Module`` into a standalone, readable MLX model file.

>>> conversion = fx2mlx.convert(model, (torch.randn(2, 3, 32, 32),))
>>> conversion.save("out/")          # out/model.py, out/model.safetensors, out/fx2mlx.json
>>> conversion.validate().ok
True
"""

from __future__ import annotations

import io
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlx.core as mx
import torch

from .analyze import Analysis, analyze
from .capture.bound import bind
from .converters.registry import register_layer, register_op
from .debug_report import DebugResult
from .errors import Fx2MlxError, InternalError, Unsupported, UnsupportedError, internal_errors
from .io_layout import ChannelsLastIO
from .output import write_folder
from .precision import Precision, cast_inputs, cast_source, dequantized, precision
from .progress import SILENT, Progress
from .report import Report, Validation
from .shapeless import works_shapeless
from .shards import SHARD_BYTES, weight_files
from .tensors import random_tensor
from .validate import describe_inputs, generated_from, validate_generated
from .weights import Weights

__version__ = "0.1.0"
__all__ = [
    "Analysis",
    "Conversion",
    "DebugResult",
    "Fx2MlxError",
    "InternalError",
    "Progress",
    "Report",
    "UnsupportedError",
    "Unsupported",
    "Validation",
    "analyze",
    "bind",
    "convert",
    "random_inputs",
    "register_layer",
    "register_op",
]


def random_inputs(
    like: tuple, batch: int | None = None, seed: int = 1, shapes: list[list[int]] | None = None
) -> tuple:
    """Fresh random inputs shaped like ``like`` (integer inputs stay within their range), at
    batch size ``batch`` or the given ``shapes`` if given."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i, x in enumerate(like):
        shape = list(shapes[i]) if shapes is not None else list(x.shape)
        if batch is not None and shape:
            shape[0] = batch
        lo, hi = (int(x.min()), int(x.max()) + 1) if x.numel() else (0, 2)
        out.append(random_tensor(shape, x.dtype, gen, lo, hi))
    return tuple(out)


class Conversion:
    """The result of :func:`convert`: generated source, weights and report.

    ``weights`` reads the model's tensors when an array is read, validated or saved (so a big
    model is never held twice; tensors under 1 MiB are copied at conversion): change the
    model's weights after :func:`convert` and the saved weights change with them.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        inputs: tuple,
        source: str,
        weights: Weights,
        report: Report,
        manifest: dict[str, Any],
        progress: Progress = SILENT,
        second_shapes: list[list[int]] | None = None,
        captured: Any = None,
    ) -> None:
        self.captured = captured  # the graph after the passes, for ``debug``
        self.progress = progress
        self.second_shapes = second_shapes  # the inputs' shapes at other dynamic sizes
        self.model = model
        self.inputs = inputs
        self.source = source
        self.weights = weights
        self.report = report
        self._manifest = manifest
        self.precision = Precision()  # dtype= / quantize=: validation compares accordingly
        # quantize=: torch holding the weights MLX dequantizes, built when validating
        self.reference: Callable[[], torch.nn.Module] | None = None

    @property
    def io_layout(self) -> ChannelsLastIO:
        """The inputs and outputs ``channels_last_io`` made channels-last (none without it)."""
        return ChannelsLastIO.from_json(self._manifest.get("channels_last"))

    def validation_inputs(self) -> list[tuple]:
        """The example inputs plus a fresh random set with every dynamic dim at another
        size."""
        return [self.inputs, random_inputs(self.inputs, shapes=self.second_shapes)]

    @internal_errors
    def validate(
        self,
        inputs: list[tuple] | tuple | None = None,
        rtol: float = 1e-4,
        atol: float = 1e-3,
        progress: Progress | None = None,
    ) -> Validation:
        """Run torch and the generated MLX model on the same inputs and compare every output.

        ``progress`` defaults to the one given to :func:`convert`.
        """
        if inputs is None:
            sets = self.validation_inputs()
            labels = self._default_labels(sets)
        else:
            if inputs and isinstance(inputs[0], torch.Tensor):
                sets = [tuple(inputs)]  # type: ignore[arg-type]
            else:
                sets = [tuple(s) for s in inputs]  # type: ignore[union-attr]
            labels = [describe_inputs(f"given set {i + 1}", s) for i, s in enumerate(sets)]
        cl_io = self.io_layout
        progress = self.progress if progress is None else progress
        with progress.stage("validation"):
            with generated_from(self.source, self.weights) as generated:  # loaded once
                reference = self.reference() if self.reference is not None else None
                result = validate_generated(
                    self.model,
                    generated,
                    sets,
                    rtol,
                    atol,
                    cl_io,
                    progress,
                    labels,
                    self.precision,
                    reference,
                )
                if inputs is None and self.second_shapes is not None and not cl_io:
                    cast = [cast_inputs(s, self.precision.dtype) for s in sets]
                    self.report.shapeless = works_shapeless(generated, cast)
            result.finding = "" if result.ok else self._finding(sets, labels, result, progress)
        self.report.validation = result
        return result

    def _finding(
        self, sets: list[tuple], labels: list[str], result: Validation, progress: Progress
    ) -> str:
        """:meth:`debug`'s one line on the input set that failed; never raises (a failure
        of the debugger must not hide the validation's)."""
        failed = next((o.inputs for o in result.outputs if not o.ok), "")
        chosen = sets[labels.index(failed)] if failed in labels else sets[0]
        try:
            with progress.stage("debug"):
                return self.debug(chosen, result.rtol, result.atol).summary()
        except Exception as exc:  # noqa: BLE001 - report briefly, keep the validation result
            return f"[fx2mlx] debug could not locate the divergence ({type(exc).__name__}: {exc})"

    @internal_errors
    def debug(
        self, inputs: tuple | None = None, rtol: float = 1e-4, atol: float = 1e-3
    ) -> DebugResult:
        """Where the generated model diverges from torch: every module call compared in
        execution order, then, inside the first that drifts, the first op that drifts.

        ``inputs`` defaults to the example inputs. Returns a :class:`DebugResult`
        (``.first``, ``.op``, ``.summary()``, ``.to_json()``).
        """
        from .debug import debug_generated

        if self.captured is None:
            raise Fx2MlxError("this conversion keeps no captured graph to debug")
        from .pipeline import check_inputs

        sets = check_inputs(self.model, self.inputs if inputs is None else inputs)
        cl_io = self.io_layout
        with generated_from(self.source, self.weights) as generated:
            return debug_generated(
                self.captured, generated, self.source, sets, rtol, atol, cl_io, self.model
            )

    @staticmethod
    def _default_labels(sets: list[tuple]) -> list[str]:
        """What ``validation_inputs()`` returned: the example, then fresh random values at the
        other sizes of the dynamic dims (or at the example's, when no dim is dynamic)."""
        resized = [tuple(x.shape) for x in sets[0]] != [tuple(x.shape) for x in sets[1]]
        fresh = "fresh random, dynamic dims resized" if resized else "fresh random, same sizes"
        return [describe_inputs("example", sets[0]), describe_inputs(fresh, sets[1])]

    def files(self, shard_bytes: int = SHARD_BYTES) -> dict[str, bytes]:
        """``model.py`` and the weight files (see :meth:`save`) as bytes."""
        out = {"model.py": self.source.encode()}
        for name, content in weight_files(self.weights, shard_bytes).items():
            buffer = io.BytesIO()
            if callable(content):
                content(buffer)
            else:
                buffer.write(content)
            out[name] = buffer.getvalue()
        return out

    def record_invocation(self, invocation: dict[str, Any]) -> None:
        """Keep the command exactly as typed in the manifest: ``model.py`` shows only the
        canonical command, so how a command was spelled never shows up as drift."""
        self._manifest["invocation"] = invocation

    def manifest(self) -> dict[str, Any]:
        data = dict(self._manifest)
        data["report"] = self.report.to_json()
        return data

    @internal_errors
    def save(
        self, out_dir: str | Path, force: bool = False, shard_bytes: int = SHARD_BYTES
    ) -> Path:
        """Write ``model.py``, ``model.safetensors`` and ``fx2mlx.json`` to ``out_dir``.

        Weights over ``shard_bytes`` (5 GB) go to ``model-00001-of-0000N.safetensors`` shards
        and ``model.safetensors.index.json`` instead, as MLX's tools write them; each array is
        converted and written in turn, so the weights are never held twice.

        Only into a new or empty folder or one fx2mlx wrote; there it replaces only the files
        its manifest lists. ``force`` writes beside files added to such a folder and overwrites
        generated files edited since; a user's file is never replaced. Raises
        :class:`Fx2MlxError` when refused or when writing fails.
        """
        out = Path(out_dir)
        if shard_bytes < 1:
            raise Fx2MlxError(f"shard size must be at least 1 byte, got {shard_bytes}")
        files = {"model.py": self.source.encode(), **weight_files(self.weights, shard_bytes)}
        write_folder(out, files, self.manifest(), force)
        return out


@internal_errors
def convert(
    model: torch.nn.Module,
    example_inputs: Any,
    *,
    frontend: str = "auto",
    dynamic: Any = None,
    channels_last_io: bool = False,
    command: str | None = None,
    progress: Progress | None = None,
    dtype: str | torch.dtype | None = None,
    quantize: int | None = None,
    group_size: int = 64,
    fold_batchnorm: bool = False,
) -> Conversion:
    """Compile ``model`` into MLX source and weights.

    Args:
        model: the PyTorch module (put in eval mode).
        example_inputs: a tensor or tuple of tensors ``model`` accepts.
        frontend: ``"export"`` (torch.export), ``"fx"`` (torch.fx.symbolic_trace), ``"trace"``
            (the ops run on the example, data-dependent values specialized) or ``"auto"``
            (export, then fx, then trace).
        dynamic: input dims the generated code takes at any size, beyond the defaults (the
            batch, dim 0 of every input, and the sequence, dim 1 of integer token inputs and
            of inputs shaped like them; each kept where the model allows): a dict of input
            name or position -> dims (``{"x": [2, 3]}``), which must stay dynamic, or
            ``torch.export``'s own ``dynamic_shapes``, passed through.
        channels_last_io: take the inputs that convolutions (pools, norms) read, and return
            the outputs they write, channels-last (axis 1 moved last: NHWC, NLC), as MLX's
            layers hold them; every other input and output keeps PyTorch's layout. The
            generated docstring and the manifest's ``channels_last`` say which.
        command: the command that regenerates the output, for the file's docstring and the
            manifest (the CLI passes its canonical command, see ``fx2mlx.command``).
        progress: receives each stage and long loop (the command line prints them); silent
            by default.
        dtype: ``"float16"`` or ``"bfloat16"``: weights written in that dtype and the module
            computing in it (it takes float inputs in that dtype); validated against ``model``
            itself, in its own precision.
        quantize: 4 or 8: ``nn.Linear``/``nn.Embedding`` layers stored quantized with that
            many bits per weight (``mx.quantize``, affine), in groups of ``group_size`` (32,
            64 or 128) along the input width; a layer the group size doesn't divide stays
            float (``report.float_layers`` says which and why).
        fold_batchnorm: fold each eval BatchNorm into the convolution (plain or transposed)
            before it (where nothing else reads the convolution's output). The BatchNorm's
            keys disappear and the convolution's weight and bias change; the generated
            ``sanitize`` folds the same way from a PyTorch state_dict.

    Returns:
        A :class:`Conversion`; call ``.validate()`` to compare against torch and
        ``.save(out_dir)`` to write the files.

    Raises:
        Fx2MlxError: bad input, or a model no frontend can trace.
        UnsupportedError: the model uses ops fx2mlx can't convert (all listed at once).
        InternalError: a bug in fx2mlx (the original exception is its ``__cause__``).
    """
    # lazily: the pipeline loads black and jinja (~0.5 s) that `import fx2mlx` alone needn't
    from .capture.second_size import second_shapes
    from .capture.streaming import streaming
    from .pipeline import check_inputs, compile_sound

    inputs = check_inputs(model, example_inputs)
    chosen = precision(dtype, quantize, group_size)  # bad values fail before any work
    model, inputs = streaming(model, inputs)  # state kept between calls: explicit
    progress = SILENT if progress is None else progress
    source, source_inputs = cast_source(model, inputs, chosen.dtype)
    captured, emitted, report, weights, plan = compile_sound(
        source,
        source_inputs,
        frontend,
        channels_last_io,
        command,
        progress,
        dynamic,
        precision=chosen,
        fold_bn=fold_batchnorm,
    )
    manifest = {
        "source_model": f"{type(model).__module__}.{type(model).__qualname__}",
        "versions": {
            "fx2mlx": __version__,
            "torch": torch.__version__,
            "mlx": getattr(mx, "__version__", "?"),
            "python": platform.python_version(),
        },
        "command": command or "",
        "inputs": [
            {"shape": list(x.shape), "dtype": str(x.dtype).replace("torch.", "")} for x in inputs
        ],
        "channels_last_io": channels_last_io,
        "channels_last": (captured.io_layout or ChannelsLastIO()).to_json(),
        **chosen.to_json(),
        "fold_batchnorm": fold_batchnorm,
    }
    second = second_shapes(captured, inputs)
    conversion = Conversion(
        model, inputs, emitted.source, weights, report, manifest, progress, second, captured
    )
    conversion.precision = chosen
    if plan is not None:
        conversion.reference = lambda: dequantized(captured.model, plan, chosen)
    return conversion
