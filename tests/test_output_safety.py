"""No user data lost: what ``convert``/``--force``/``demo`` may replace, path errors, int inputs."""

from __future__ import annotations

import compileall
import io
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import fx2mlx
from fx2mlx import demo
from fx2mlx.cli import main
from fx2mlx.output import sha256
from fx2mlx.target import make_inputs
from tests.fixtures import index_models
from tests.fixtures.models import make_tiny

ROOT = Path(__file__).resolve().parents[1]
TINY = "tests.fixtures.models:make_tiny"
# a target whose capture fails: a path error reported instead proves the path was checked first
UNTRACEABLE = ("tests.fixtures.models:DataDependent", "--input-shape", "2,3")


@pytest.fixture(autouse=True)
def _cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def tiny() -> fx2mlx.Conversion:
    model, inputs = make_tiny()
    return fx2mlx.convert(model, inputs)


def run(*args: str) -> int:
    return main(list(args))


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def assert_user_error(capsys: pytest.CaptureFixture, *needles: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("[fx2mlx]") and "internal error" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


# --- what --force and a plain re-convert may replace ----------------------------------------


def test_force_refuses_a_project_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A folder fx2mlx never wrote (no manifest) keeps every file, even with --force."""
    (tmp_path / "train.py").write_text("print('my training loop')\n")
    (tmp_path / "model.py").write_text("class MyTorchModel: ...\n")
    assert run("convert", TINY, "-o", str(tmp_path), "--force") == 2
    assert_user_error(capsys, "train.py", "did not write")
    assert names(tmp_path) == ["model.py", "train.py"]
    assert (tmp_path / "model.py").read_text() == "class MyTorchModel: ...\n"


def test_force_writes_beside_files_added_to_its_own_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "o"
    assert run("convert", TINY, "-o", str(out), "--no-validate") == 0
    (out / "NOTES.md").write_text("mine\n")
    capsys.readouterr()
    assert run("convert", TINY, "-o", str(out), "--no-validate") == 2
    assert_user_error(capsys, "NOTES.md", "--force")
    assert run("convert", TINY, "-o", str(out), "--no-validate", "--force") == 0
    assert (out / "NOTES.md").read_text() == "mine\n"
    assert names(out) == ["NOTES.md", "fx2mlx.json", "model.py", "model.safetensors"]


def test_build_litter_does_not_block_a_reconvert(tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert run("convert", TINY, "-o", str(out), "--no-validate") == 0
    assert compileall.compile_dir(str(out), quiet=1)  # what importing the model leaves behind
    (out / ".DS_Store").write_bytes(b"\0")
    assert run("convert", TINY, "-o", str(out), "--no-validate") == 0
    assert {"__pycache__", ".DS_Store", "model.py"} <= set(names(out))


def test_a_folder_holding_only_litter_is_usable(tmp_path: Path) -> None:
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "__pycache__").mkdir()
    assert run("convert", TINY, "-o", str(tmp_path), "--no-validate") == 0
    assert (tmp_path / "model.py").exists()


def test_edited_output_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The generated file is meant to be edited: a plain re-convert must not discard edits."""
    out = tmp_path / "o"
    assert run("convert", TINY, "-o", str(out), "--no-validate") == 0
    model_py = out / "model.py"
    model_py.write_text(model_py.read_text() + "# my tweak\n")
    capsys.readouterr()
    assert run("convert", TINY, "-o", str(out), "--no-validate") == 2
    assert_user_error(capsys, "model.py", "changed since fx2mlx wrote it", "--force")
    assert model_py.read_text().endswith("# my tweak\n")
    assert run("convert", TINY, "-o", str(out), "--no-validate", "--force") == 0
    assert "# my tweak" not in model_py.read_text()


def test_files_listed_in_the_manifest_are_ours(tiny: fx2mlx.Conversion, tmp_path: Path) -> None:
    """A file an earlier fx2mlx listed is ours (removed when no longer written); others are not."""
    out = tmp_path / "o"
    tiny.save(out)
    (out / "extra.bin").write_bytes(b"old shard")
    (tmp_path / "victim.txt").write_text("keep me")
    manifest = json.loads((out / "fx2mlx.json").read_text())
    manifest["files"]["extra.bin"] = sha256(out / "extra.bin")
    manifest["files"]["../victim.txt"] = sha256(tmp_path / "victim.txt")
    (out / "fx2mlx.json").write_text(json.dumps(manifest))
    tiny.save(out)
    assert names(out) == ["fx2mlx.json", "model.py", "model.safetensors"]
    assert (tmp_path / "victim.txt").read_text() == "keep me"


def test_folder_and_file_modes(tiny: fx2mlx.Conversion, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    tiny.save(fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o777 & ~umask()
    for name in names(fresh):
        assert stat.S_IMODE((fresh / name).stat().st_mode) == 0o666 & ~umask()
    kept = tmp_path / "kept"
    kept.mkdir()
    kept.chmod(0o751)
    tiny.save(kept)
    tiny.save(kept)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o751


def test_a_failed_write_changes_nothing(
    tiny: fx2mlx.Conversion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "o"
    tiny.save(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(fx2mlx.Fx2MlxError, match=r"^\[fx2mlx\].*No space left"):
        tiny.save(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with pytest.raises(fx2mlx.Fx2MlxError, match="No space left"):
        tiny.save(tmp_path / "new")
    assert names(tmp_path) == ["o"]


def test_an_interrupted_replace_is_detected(
    tiny: fx2mlx.Conversion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are renamed one by one: cut short, the old manifest no longer matches, so the next
    write asks for --force rather than mixing two conversions; the user's files are never hit."""
    out = tmp_path / "o"
    tiny.save(out)
    (out / "NOTES.md").write_text("mine\n")
    model_py = out / "model.py"
    model_py.write_text(model_py.read_text() + "# regenerate me\n")
    real_replace, calls = os.replace, []

    def crash_after_one(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) > 1:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_after_one)
    with pytest.raises(fx2mlx.Fx2MlxError, match="Input/output error"):
        tiny.save(out, force=True)
    monkeypatch.setattr(os, "replace", real_replace)
    assert names(out) == ["NOTES.md", "fx2mlx.json", "model.py", "model.safetensors"]
    with pytest.raises(fx2mlx.Fx2MlxError, match="interrupted"):
        tiny.save(out)
    tiny.save(out, force=True)
    assert "# regenerate me" not in model_py.read_text()
    assert (out / "NOTES.md").read_text() == "mine\n"


@pytest.fixture
def only_mlp(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(demo, "EXAMPLES", {"mlp": "fx2mlx.examples.mlp:make_mlp"})
    yield


@pytest.mark.usefixtures("only_mlp")
def test_demo_keeps_user_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "mlp").mkdir()
    (tmp_path / "mlp" / "train.py").write_text("mine\n")
    (tmp_path / "README.md").write_text("mine\n")
    assert run("demo", "-o", str(tmp_path)) == 2
    assert_user_error(capsys, "train.py")
    assert names(tmp_path / "mlp") == ["train.py"]
    (tmp_path / "mlp" / "train.py").unlink()
    assert run("demo", "-o", str(tmp_path)) == 0
    assert run("demo", "-o", str(tmp_path)) == 0  # its own output: replaced without --force
    assert names(tmp_path) == ["README.md", "mlp"]
    assert stat.S_IMODE((tmp_path / "mlp").stat().st_mode) == 0o777 & ~umask()


# --- paths are the user's errors, reported before any conversion work --------------------------


def test_path_under_a_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "somefile").write_text("x")
    assert run("convert", *UNTRACEABLE, "-o", str(tmp_path / "somefile" / "out")) == 2
    assert_user_error(capsys, "somefile", "not a folder")


def test_long_names(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A 245-byte name is valid: fx2mlx's temporary names must not push it over NAME_MAX."""
    out = tmp_path / ("m" * 245)
    assert run("convert", TINY, "-o", str(out), "--no-validate") == 0
    assert (out / "model.py").exists()
    assert run("convert", TINY, "-o", str(out), "--no-validate") == 0
    too_long = tmp_path / ("m" * 256) / "out"
    assert run("convert", *UNTRACEABLE, "-o", str(too_long)) == 2
    assert_user_error(capsys, "256", "255")


def test_unwritable_folder(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="fx2mlx-ro-"))  # pytest's tmp_path is private to root
    try:
        base.chmod(0o755)
        readonly = base / "ro"
        readonly.mkdir()
        readonly.chmod(0o555)
        code, err = _run_unprivileged(["convert", *UNTRACEABLE, "-o", str(readonly / "out" / "m")])
        assert code == 2, err
        assert err.startswith("[fx2mlx] cannot write") and str(readonly) in err, err
        assert "internal error" not in err
    finally:
        shutil.rmtree(base)


def test_unreadable_folder() -> None:
    base = Path(tempfile.mkdtemp(prefix="fx2mlx-wo-"))
    try:
        base.chmod(0o755)
        hidden = base / "wo"
        hidden.mkdir()
        hidden.chmod(0o333)  # writable and searchable, but its entries cannot be listed
        code, err = _run_unprivileged(["convert", *UNTRACEABLE, "-o", str(hidden)])
        assert code == 2 and err.startswith("[fx2mlx] cannot read output folder"), err
    finally:
        shutil.rmtree(base)


def _run_unprivileged(args: list[str]) -> tuple[int, str]:
    """``main(args)`` in a forked child that drops root, which may write whatever the mode bits say.

    Forked rather than spawned: an unprivileged new interpreter could not read root's Python.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            os.close(read)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            sys.stderr = io.StringIO()
            code = main(args)
            os.write(write, sys.stderr.getvalue().encode())
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        err = pipe.read()
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), err


# --- integer inputs from --input-shape ---------------------------------------------------------


def test_embedding_with_ten_rows_converts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    target = "tests.fixtures.index_models:SmallEmbedding"
    args = ("--input-shape", "2,7", "--input-dtype", "int64")
    assert run("convert", target, "-o", str(tmp_path / "o"), *args) == 0
    err = capsys.readouterr().err
    assert "[0, 10)" in err and "emb" in err


def test_ranges_follow_each_inputs_first_index_use() -> None:
    model = index_model("TwoIndexInputs")
    inputs, notes = make_inputs(["4,30", "2,3"], ["int64"], model=model)
    assert 0 <= int(inputs[0].min()) and int(inputs[0].max()) < 50 and int(inputs[0].max()) >= 10
    assert 0 <= int(inputs[1].min()) and int(inputs[1].max()) < 6
    assert "[0, 50)" in notes[0] and "[0, 6)" in notes[1] and "one-hot" in notes[1]
    buffer_model = index_model("IndexesBuffer")
    (x,), _ = make_inputs(["5,5"], ["int64"], model=buffer_model)
    assert int(x.max()) < 7
    (z,), notes = make_inputs(["5,5"], ["int64"], model=index_model("TwoTables"))
    assert int(z.min()) >= 0 and int(z.max()) < 7 and "7 rows" in notes[0]
    (y,), notes = make_inputs(["5,5"], ["int64"], model=index_model("ShiftedIndex"))
    assert int(y.max()) < 100 and "--input-range" in notes[0]


def index_model(name: str) -> torch.nn.Module:
    return getattr(index_models, name)()


def test_input_range_option(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    target = "tests.fixtures.index_models:SmallEmbedding"
    args = ("--input-shape", "2,7", "--input-dtype", "int64", "--input-range", "3,5")
    assert run("convert", target, "-o", str(tmp_path / "o"), *args) == 0
    assert "[3, 5)" in capsys.readouterr().err
    (a, b), notes = make_inputs(["50", "50"], ["int64", "int8"], ranges=["-3,0", "0,2"])
    assert set(a.tolist()) == {-3, -2, -1} and set(b.tolist()) == {0, 1}
    assert "--input-range" in notes[0]


@pytest.mark.parametrize(
    "ranges, dtype, message",
    [
        (["5,2"], "int64", "LO < HI"),
        (["a,b"], "int64", "malformed --input-range"),
        (["7"], "int64", "malformed --input-range"),
        (["0,5", "0,5"], "int64", "2 --input-range for 1 --input-shape"),
        (["0,1000"], "int8", "int8"),
        (["0,11"], "int64", "outside [0, 10)"),
        (["-1,5"], "int32", "Embedding 'emb'"),
    ],
)
def test_bad_input_ranges(
    ranges: list[str], dtype: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    target = "tests.fixtures.index_models:SmallEmbedding"
    args = ["--input-shape", "2,7", "--input-dtype", dtype]
    for r in ranges:
        args.append(f"--input-range={r}")
    assert run("convert", target, "-o", str(tmp_path / "o"), *args) == 2
    assert_user_error(capsys, message)
    assert not (tmp_path / "o").exists()


def test_input_range_needs_an_integer_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ("--input-shape", "1,3,8,8", "--input-range", "0,4")
    assert run("convert", "tests.fixtures.models:Tiny", "-o", str(tmp_path / "o"), *args) == 2
    assert_user_error(capsys, "integer")
    assert run("convert", TINY, "-o", str(tmp_path / "o"), "--input-range", "0,4") == 2
    assert_user_error(capsys, "--input-shape")
