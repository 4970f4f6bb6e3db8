"""``segment-copilot doctor``: which provider is active, does it answer, how fast, what to do."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from copilot.core import CopilotError, Frozen
from copilot.llm.client import LLMClient
from copilot.llm.prompts import RenderedPrompt
from copilot.llm.providers import LLMSettings, get_provider, resolve_settings

HINTS = {
    "local": "If it fails: reinstall with the README's first command; or pick another provider "
    "with --provider openai (needs OPENAI_API_KEY) or --provider openai-compatible --base-url URL "
    "--model NAME.",
    "openai": "If it fails: check OPENAI_API_KEY and --model; or work offline with --provider local.",
    "openai-compatible": "If it fails: is the server running at the base URL, and does "
    "GET <base-url>/models list the --model name? Or work offline with --provider local.",
    "fake": "The fake provider only replays a test script (SEGMENT_COPILOT_FAKE_SCRIPT).",
    "none": "No LLM: names, narratives and strategy are deterministic drafts. Use --provider local "
    "for the embedded model.",
}


class Ping(Frozen):
    """The doctor's tiny structured request: proves tool/JSON output works, not just chat."""

    status: Literal["ok"]
    segments: int


@dataclass
class DoctorReport:
    ok: bool
    text: str


def run_doctor(flags: dict[str, Any] | None = None) -> DoctorReport:
    """Resolve the settings, build the provider, time one structured call."""
    try:
        settings = resolve_settings(flags)
    except CopilotError as err:
        return DoctorReport(False, f"Configuration: {err}")
    provider = get_provider(settings.provider)
    lines = [
        f"Provider: {provider.name} (from {settings.sources.get('provider', 'default')})",
        f"Model: {provider.model_name(settings) or '-'}",
    ]
    if settings.base_url:
        lines.append(f"Base URL: {settings.base_url}")
    lines.append(f"Timeout per call: {settings.timeout_s:g} s; re-asks: {settings.max_reasks}")
    if provider.name == "none":
        return DoctorReport(True, "\n".join(lines + ["Answers: not applicable.", HINTS["none"]]))
    ok, detail = _probe(settings)
    lines.append(detail)
    lines.append(HINTS[provider.name])
    return DoctorReport(ok, "\n".join(lines))


def _probe(settings: LLMSettings) -> tuple[bool, str]:
    provider = get_provider(settings.provider)
    start = time.perf_counter()
    try:
        model = provider.build(settings)
    except CopilotError as err:
        return False, f"Answers: no. {err}"
    except Exception as err:  # noqa: BLE001 - a runtime that cannot load is a finding, not a crash
        return False, f"Answers: no. It failed to start ({type(err).__name__}: {str(err)[:120]})."
    built = time.perf_counter() - start
    client = LLMClient(model, provider=provider.name, model=provider.model_name(settings),
                       max_reasks=0, timeout_s=settings.timeout_s)
    prompt = RenderedPrompt(
        id="doctor", version=1, system="Answer in JSON.",
        user='Reply with {"status": "ok", "segments": 4}.',
    )
    start = time.perf_counter()
    answer = client.ask(prompt, Ping, lambda a: [] if a.segments == 4 else ["segments must be 4"],
                        what="probe")
    took = time.perf_counter() - start
    if answer.value is None:
        return False, f"Answers: no ({answer.failure}). Start-up {built:.1f} s."
    return True, f"Answers: yes, a structured reply in {took:.1f} s (start-up {built:.1f} s)."
