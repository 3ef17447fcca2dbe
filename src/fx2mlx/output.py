"""Writing an output folder atomically, and refusing to clobber what fx2mlx did not write."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import Fx2MlxError

MANIFEST = "fx2mlx.json"
OUR_FILES = ("model.py", "model.safetensors", MANIFEST)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_target(out: Path, force: bool) -> None:
    """Refuse a folder that holds files fx2mlx did not write, unless ``force``."""
    if not out.exists():
        return
    if not out.is_dir():
        raise Fx2MlxError(f"output path {out} exists and is not a folder")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in OUR_FILES)
    ours = (out / MANIFEST).exists()
    if (foreign or (any(out.iterdir()) and not ours)) and not force:
        listed = ", ".join(foreign[:5]) or "files without an fx2mlx manifest"
        raise Fx2MlxError(
            f"output folder {out} holds files fx2mlx did not write ({listed});"
            " choose another folder or pass --force to replace it"
        )


def write_folder(out: Path, files: dict[str, bytes], manifest: dict[str, Any], force: bool) -> None:
    """Write everything to a temporary sibling folder, then move it into place."""
    check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.fx2mlx-", dir=out.parent))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        manifest["files"] = {name: sha256(tmp / name) for name in sorted(files)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if out.exists():
            old = out.with_name(f".{out.name}.fx2mlx-old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
