"""Writing an output folder without losing a user's file, and without leaving half a folder.

fx2mlx replaces only files it can show it wrote: those its manifest (``fx2mlx.json``) lists, in
a folder that has one. It never deletes a folder. A new folder is built under a temporary name
and renamed into place; in an existing folder every file is staged, then renamed over its old
version, the manifest last.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .errors import Fx2MlxError

MANIFEST = "fx2mlx.json"
OUR_FILES = ("model.py", "model.safetensors", MANIFEST)
# what editors, Python and file browsers leave in a folder: never blocks a write, never deleted
LITTER = frozenset({"__pycache__", ".DS_Store", "Thumbs.db", "desktop.ini", ".ipynb_checkpoints"})
# short, so that any name that fits the file system still fits once staged beside it
TEMP_PREFIX = ".fx2mlx-"
# room under PATH_MAX for a staging folder and a file name inside the output folder
PATH_SLACK = 64


@dataclass
class Survey:
    """An existing output folder, sorted into fx2mlx's files and everyone else's."""

    listed: dict[str, str] = field(default_factory=dict)  # manifest's files -> sha256
    has_manifest: bool = False
    ours: list[str] = field(default_factory=list)  # present files fx2mlx wrote
    foreign: list[str] = field(default_factory=list)  # present entries it did not write
    edited: list[str] = field(default_factory=list)  # ours whose bytes changed since


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:  # in chunks: weights can be larger than memory to spare
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_target(out: Path, force: bool) -> Survey | None:
    """Raise before any conversion work if writing ``out`` would fail or lose a user's file.

    Returns what an existing folder holds (``None`` when ``out`` does not exist yet).
    """
    check_path(out)
    if not out.is_dir():
        return None
    try:
        survey = survey_folder(out)
    except OSError as exc:
        raise Fx2MlxError(f"cannot read output folder {out}: {exc.strerror or exc}") from exc
    check_contents(out, survey, force)
    return survey


def check_path(out: Path) -> None:
    """The path must be creatable (or a folder) and writable: the user's errors, not ours."""
    anchor = _check_lengths(out)
    if anchor == out.absolute():
        if not out.is_dir():
            raise Fx2MlxError(f"output path {out} exists and is not a folder")
    elif not anchor.is_dir():
        raise Fx2MlxError(f"cannot create output folder {out}: {anchor} is not a folder")
    try:  # a real probe: also catches read-only mounts, ACLs and root-squashed shares
        os.rmdir(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=anchor))
    except OSError as exc:
        raise Fx2MlxError(
            f"cannot write to {anchor} ({exc.strerror or exc}): choose an output folder you can"
            " write to"
        ) from exc


def _check_lengths(out: Path) -> Path:
    """Reject names the file system cannot hold; return the nearest existing ancestor."""
    path = out.absolute()
    anchor = _nearest_existing(path)
    longest_name = _pathconf(anchor, "PC_NAME_MAX", 255)
    for part in path.relative_to(anchor).parts:
        size = len(os.fsencode(part))
        if size > longest_name:
            raise Fx2MlxError(
                f"output path {out}: the name {part[:24]}… is {size} bytes long; this file"
                f" system allows at most {longest_name}"
            )
    longest = _pathconf(anchor, "PC_PATH_MAX", 4096)
    size = len(os.fsencode(str(path)))
    if size + PATH_SLACK > longest:
        raise Fx2MlxError(
            f"output path {out} is {size} bytes long; this system allows paths of at most"
            f" {longest} bytes, and fx2mlx needs {PATH_SLACK} more for the files in it"
        )
    return anchor


def _pathconf(path: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(path, name)
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows), or an unknown name
        return default
    return value if value > 0 else default  # -1: the system sets no limit


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor)


def survey_folder(out: Path) -> Survey:
    """Which entries of ``out`` fx2mlx wrote, which it did not, and which were edited since."""
    survey = Survey()
    listed = _read_listing(out / MANIFEST)
    if listed is not None:
        survey.has_manifest, survey.listed = True, listed
    ours = set(survey.listed) | set(OUR_FILES) if survey.has_manifest else set()
    for entry in sorted(os.scandir(out), key=lambda e: e.name):
        if entry.name in LITTER or entry.name.startswith(TEMP_PREFIX):
            continue
        if entry.name in ours and entry.is_file(follow_symlinks=False):
            survey.ours.append(entry.name)
        else:
            survey.foreign.append(entry.name)
    survey.edited = [
        n for n in survey.ours if n in survey.listed and sha256(out / n) != survey.listed[n]
    ]
    return survey


def _read_listing(path: Path) -> dict[str, str] | None:
    """The files an fx2mlx manifest lists, or ``None`` if ``path`` is not such a manifest."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return None
    # only plain names inside the folder: a hand-edited manifest must not reach outside it
    return {
        name: digest
        for name, digest in files.items()
        if isinstance(name, str)
        and isinstance(digest, str)
        and name not in ("", ".", "..", MANIFEST)
        and os.path.basename(name) == name
        and (os.altsep is None or os.altsep not in name)
    }


def check_contents(out: Path, survey: Survey, force: bool) -> None:
    """Refuse to write where a user's file would be replaced, or mixed with ours unasked."""
    foreign = ", ".join(survey.foreign[:5]) + (", …" if len(survey.foreign) > 5 else "")
    if survey.foreign and not survey.has_manifest:
        raise Fx2MlxError(
            f"output folder {out} holds files fx2mlx did not write ({foreign}) and no {MANIFEST};"
            " fx2mlx writes only into a new or empty folder or one it wrote before, and replaces"
            f" no file it did not write, not even with --force: choose another folder, e.g. {out}"
            f"{os.sep}mlx"
        )
    if survey.foreign and not force:
        raise Fx2MlxError(
            f"output folder {out} holds files fx2mlx did not write ({foreign}): pass --force to"
            " write fx2mlx's files beside them (they are kept), or choose another folder"
        )
    if survey.edited and not force:
        raise Fx2MlxError(
            f"{', '.join(survey.edited)} in {out} changed since fx2mlx wrote it (edited by hand,"
            " or an earlier write was interrupted): move it away or pass --force to overwrite"
        )


Content = bytes | Callable[[BinaryIO], None]  # a file's bytes, or what writes them (weights)


def write_folder(
    out: Path, files: dict[str, Content], manifest: dict[str, Any], force: bool
) -> None:
    """Write ``files`` and the manifest to ``out``; replace only what fx2mlx wrote there.
    A file given as a function is written by it, streamed (weights larger than memory)."""
    survey = check_target(out, force)
    try:
        if survey is None:
            _create(out, files, manifest)
        else:
            stale = [n for n in survey.ours if n not in files and n != MANIFEST]
            _replace_in(out, files, manifest, stale)
    except OSError as exc:
        raise Fx2MlxError(f"writing {out} failed: {exc}") from exc


def _create(out: Path, files: dict[str, Content], manifest: dict[str, Any]) -> None:
    """A new folder: build it under a temporary name beside ``out``, then rename it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = _stage(out.parent, files, manifest)
    try:
        stage.chmod(0o777 & ~_umask())  # mkdtemp makes it private (0700); mkdir would not
        stage.rename(out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    _fsync_dir(out.parent)


def _replace_in(
    out: Path, files: dict[str, Content], manifest: dict[str, Any], stale: list[str]
) -> None:
    """An existing folder: stage inside it, rename each file over its old version.

    The folder itself stays (its mode, owner and the user's other files with it). The manifest
    goes last: if a crash cuts the renames short, the old manifest's hashes no longer match and
    the next run asks for ``--force`` instead of silently mixing two conversions.
    """
    stage = _stage(out, files, manifest)
    try:
        for name in sorted(files):
            os.replace(stage / name, out / name)
        for name in stale:  # written by an earlier fx2mlx, listed in its manifest, not any more
            (out / name).unlink(missing_ok=True)
        os.replace(stage / MANIFEST, out / MANIFEST)
        _fsync_dir(out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


class _Hashing:
    """A file that hashes what is written to it (a streamed file is never held whole)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.digest = f, hashlib.sha256()

    def write(self, data: bytes | memoryview) -> int:
        self.digest.update(data)
        return self.f.write(data)


def _stage(parent: Path, files: dict[str, Content], manifest: dict[str, Any]) -> Path:
    """Write every file, flushed to disk, into a fresh hidden folder in ``parent``, then the
    manifest with their hashes."""
    stage = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=parent))
    hashes = {}
    try:
        for name in sorted(files):
            hashes[name] = _write(stage / name, files[name])
        manifest = {**manifest, "files": hashes}
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        _write(stage / MANIFEST, text.encode())
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return stage


def _write(path: Path, content: Content) -> str:
    """Write one file, flushed to disk; its sha256."""
    with open(path, "wb") as f:
        hashing = _Hashing(f)  # type: ignore[arg-type]
        if isinstance(content, bytes):
            hashing.write(content)
        else:
            content(hashing)  # type: ignore[arg-type]
        f.flush()
        os.fsync(f.fileno())  # renamed files must not turn up empty after a power cut
    return hashing.digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable; some systems cannot open or sync a folder."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it
    os.umask(mask)
    return mask
