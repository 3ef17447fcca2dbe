"""TorchScript archives as targets: ``fx2mlx convert model.jit --input-shape ...``.

Loading a TorchScript archive runs the code stored in it (``torch.jit.load``): the same trust
as loading it in PyTorch. Anything else ``torch.save`` writes is a pickle, which can run any
code at all; fx2mlx never unpickles one and says how to convert such a checkpoint instead.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch

from .errors import Fx2MlxError

SUFFIXES = (".jit", ".pt", ".pth", ".ts")


def is_archive_target(target: str) -> bool:
    """A target naming a file with a TorchScript suffix (``path/to/model.jit``)."""
    return ":" not in target.replace("\\", "/").split("/")[-1] and target.endswith(SUFFIXES)


def _is_torchscript(path: Path) -> bool:
    """A TorchScript zip holds the module's code (``<name>/code/...``) beside its pickles."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        parts = [name.split("/") for name in archive.namelist()]
    return any(len(p) > 2 and p[1] == "code" for p in parts)


def load_archive(target: str) -> torch.nn.Module:
    """The module in a TorchScript archive, on the CPU, in eval mode."""
    path = Path(target).expanduser()
    if not path.is_file():
        raise Fx2MlxError(f"TorchScript archive {target} does not exist")
    if not _is_torchscript(path):
        raise Fx2MlxError(
            f"{target} is not a TorchScript archive (torch.jit.save); a torch.save checkpoint"
            " is a pickle, which fx2mlx never loads: build the model in Python and name a"
            " factory instead (path/to/file.py:make_model)"
        )
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:  # noqa: BLE001 - a damaged or incompatible archive
        raise Fx2MlxError(
            f"torch.jit.load({target!r}) failed: {type(exc).__name__}: {exc}"
        ) from exc
