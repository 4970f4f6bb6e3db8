"""Atomic writes: a new file gets the user's usual permissions, a replaced file keeps its own."""

from __future__ import annotations

import os
import stat

from copilot.core.files import atomic_write_text


def test_a_new_file_gets_the_umask_mode_and_a_replaced_file_keeps_its_mode(tmp_path):
    mask = os.umask(0)
    os.umask(mask)
    path = atomic_write_text(tmp_path / "out.csv", "a\n")
    # Not mkstemp's private 0600 (a CRM import job run by another user must read it): what a
    # plain open() would give.
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    path.chmod(0o640)
    atomic_write_text(path, "b\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.read_text() == "b\n"


def test_an_output_that_is_an_input_or_inside_a_model_is_refused(tmp_path):
    import pytest

    from copilot.core.errors import InputError
    from copilot.core.files import refuse_overwrite

    data, model = tmp_path / "customers.csv", tmp_path / "model"
    data.write_text("a\n")
    model.mkdir()
    for out in (data, tmp_path / "." / "customers.csv", model / "bundle.json"):
        with pytest.raises(InputError, match="is the input|inside the input folder"):
            refuse_overwrite(out, model, data)
    refuse_overwrite(tmp_path / "assigned.csv", model, data)  # a new path is fine


def test_a_folder_as_the_output_file_is_one_sentence(tmp_path):
    import pytest

    from copilot.core.errors import InputError

    with pytest.raises(InputError, match="is a folder; give a file path"):
        atomic_write_text(tmp_path, "x")
