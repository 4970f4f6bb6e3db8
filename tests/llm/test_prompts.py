"""Prompts are files: strict rendering, front matter, and an installed copy finds them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from copilot.llm.prompts import PromptError, available_prompts, load_prompt, parse_prompt
from tests.conftest import REPO

GOOD = textwrap.dedent("""\
    ---
    id: demo
    version: 2
    inputs: [facts, goal]
    ---
    [system]
    Be brief.
    [user]
    Goal: {{goal}}
    DATA: {{ facts }}
    """)


def test_render_fills_declared_inputs_and_writes_structures_as_json():
    prompt = parse_prompt(GOOD)
    out = prompt.render(facts={"share_pct": 12.5}, goal="grow")
    assert (out.id, out.version) == ("demo", 2)
    assert out.system == "Be brief."
    assert out.user == 'Goal: grow\nDATA: {"share_pct": 12.5}'


@pytest.mark.parametrize("values", [{"goal": "grow"}, {"goal": "g", "facts": 1, "extra": 2}])
def test_render_is_strict_about_inputs(values):
    with pytest.raises(PromptError, match="wrong inputs"):
        parse_prompt(GOOD).render(**values)


def test_a_value_holding_a_placeholder_is_not_expanded_again():
    out = parse_prompt(GOOD).render(goal="{{facts}}", facts="x")
    assert out.user.startswith("Goal: {{facts}}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("{{goal}}", "{{goals}}"), "undeclared"),
        (GOOD.replace("Goal: {{goal}}\n", ""), "unused"),
        (GOOD.replace("---\nid: demo", "id: demo"), "front matter"),
        (GOOD.replace("[user]", "[assistant]"), r"\[user\]"),
        (GOOD.replace("version: 2\n", ""), "version"),
    ],
)
def test_malformed_prompt_files_are_refused(text, message):
    with pytest.raises(PromptError, match=message):
        parse_prompt(text)


def test_every_shipped_prompt_parses_and_records_id_and_version():
    ids = available_prompts()
    assert {"recommend_k", "name_segment", "rate_fit", "plan_segment", "reask"} <= set(ids)
    for prompt_id in ids:
        prompt = load_prompt(prompt_id)
        assert prompt.id == prompt_id and prompt.version >= 1 and prompt.user


@pytest.mark.slow
def test_an_installed_copy_finds_its_prompts(tmp_path):
    """Build and install the package into a bare directory, then load prompts from there."""
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps",
         "--target", str(target), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    assert (target / "copilot" / "prompts" / "name_segment.md").is_file()
    probe = subprocess.run(
        [sys.executable, "-I", "-c",
         "import sys; sys.path.insert(0, sys.argv[1]);"
         "import copilot.llm.prompts as p; print(p.__file__); print(','.join(p.available_prompts()))",
         str(target)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    where, ids = probe.stdout.strip().splitlines()
    assert where.startswith(str(target))  # not the checkout
    assert "name_segment" in ids.split(",")
