"""Prompts are files: front matter (id, version, inputs) and a strictly rendered body.

A prompt file lives in ``prompts/`` at the top of the repository and ships in the wheel as the
package ``copilot.prompts``. Its layout::

    ---
    id: name_segment
    version: 3
    inputs: [facts, taken]
    ---
    [system]
    ...text...
    [user]
    ...text with {{facts}} and {{taken}}...

Rendering is strict in both directions: a placeholder that is not a declared input, a declared
input that the body never uses, and a missing or extra value are all errors. That is what
makes a prompt edit show up as a failing test rather than a silently different request.
Every output records the prompt's id and version (see ``Authorship``).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from copilot.core import CopilotError, Frozen

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


class PromptError(CopilotError):
    """A prompt file is malformed or was rendered with the wrong inputs (a bug, not user error)."""


class RenderedPrompt(Frozen):
    """What goes to the model: a system message (may be empty) and one user message."""

    id: str
    version: int
    system: str
    user: str


class Prompt(Frozen):
    """A parsed prompt file."""

    id: str
    version: int
    inputs: tuple[str, ...]
    system: str
    user: str

    def render(self, **values: Any) -> RenderedPrompt:
        """Fill every declared input; dicts and lists are written as compact JSON.

        Raises
        ------
        PromptError
            When an input is missing or an undeclared one is given.
        """
        missing = [name for name in self.inputs if name not in values]
        extra = sorted(set(values) - set(self.inputs))
        if missing or extra:
            raise PromptError(
                f"Prompt {self.id} v{self.version} got the wrong inputs"
                f" (missing: {', '.join(missing) or 'none'}; undeclared: {', '.join(extra) or 'none'})."
            )
        text = {name: _as_text(value) for name, value in values.items()}
        # One pass with a function, so a value that itself contains "{{x}}" (a column name, say)
        # is never expanded again: data stays data.
        fill = lambda body: PLACEHOLDER.sub(lambda m: text[m.group(1)], body)
        return RenderedPrompt(
            id=self.id, version=self.version, system=fill(self.system), user=fill(self.user)
        )


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def parse_prompt(text: str, *, origin: str = "<prompt>") -> Prompt:
    """Parse a prompt file's text; every inconsistency is a ``PromptError`` naming the file."""
    match = re.match(r"\A---\n(.*?)\n---\n(.*)\Z", text, re.DOTALL)
    if not match:
        raise PromptError(f"{origin} has no front matter between '---' lines.")
    meta = _front_matter(match.group(1), origin)
    body = match.group(2)
    parts = SECTION.split(body)
    # split -> [preamble, "system", text, "user", text]
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    if "user" not in sections or parts[0].strip():
        raise PromptError(f"{origin} must have a [user] section (and may have a [system] one).")
    for key in ("id", "version", "inputs"):
        if key not in meta:
            raise PromptError(f"{origin} front matter lacks '{key}'.")
    inputs = tuple(meta["inputs"])
    used = set(PLACEHOLDER.findall(body))
    if used - set(inputs):
        raise PromptError(f"{origin} uses undeclared inputs: {', '.join(sorted(used - set(inputs)))}.")
    if set(inputs) - used:
        raise PromptError(f"{origin} declares unused inputs: {', '.join(sorted(set(inputs) - used))}.")
    return Prompt(
        id=str(meta["id"]),
        version=int(meta["version"]),
        inputs=inputs,
        system=sections.get("system", "").strip(),
        user=sections["user"].strip(),
    )


def _front_matter(block: str, origin: str) -> dict[str, Any]:
    # A tiny subset of YAML (key: value, key: [a, b]) is all a prompt needs; no YAML dependency.
    meta: dict[str, Any] = {}
    for line in block.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise PromptError(f"{origin} front matter line is not 'key: value': {line!r}.")
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            meta[key.strip()] = [v.strip() for v in value[1:-1].split(",") if v.strip()]
        else:
            meta[key.strip()] = value
    return meta


@cache
def load_prompt(prompt_id: str) -> Prompt:
    """Load ``<prompt_id>.md`` from the installed ``copilot.prompts`` package."""
    path = resources.files("copilot.prompts") / f"{prompt_id}.md"
    if not path.is_file():
        raise PromptError(f"Prompt file {prompt_id}.md is not installed with copilot.prompts.")
    prompt = parse_prompt(path.read_text(encoding="utf-8"), origin=f"{prompt_id}.md")
    if prompt.id != prompt_id:
        raise PromptError(f"{prompt_id}.md declares id {prompt.id!r}; the id must match the file name.")
    return prompt


def available_prompts() -> tuple[str, ...]:
    """Ids of every prompt file shipped with the package."""
    root = resources.files("copilot.prompts")
    return tuple(sorted(p.name[:-3] for p in root.iterdir() if p.name.endswith(".md") and p.name != "README.md"))
