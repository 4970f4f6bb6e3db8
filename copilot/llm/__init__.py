"""The LLM layer: providers, prompts, grounded writers. Imports the engine, never the UI."""

from copilot.llm.client import Authorship, LLMClient
from copilot.llm.doctor import run_doctor
from copilot.llm.facts import (
    clean_name,
    ignorable_names,
    injected_words,
    repeats_injection,
    safe_for_model,
    segment_facts,
    text_for_model,
)
from copilot.llm.grounding import check_numbers, collect_numbers
from copilot.llm.lexicon import word_forms
from copilot.llm.local_model import stderr_progress
from copilot.llm.name_checks import name_key
from copilot.llm.naming import NAMED_EVENT, SegmentNarrative, display_names, draft_name
from copilot.llm.prompts import load_prompt
from copilot.llm.providers import LLMSettings, resolve_settings
from copilot.llm.recommend import option_label
from copilot.llm.strategy import TOP_SEGMENTS, SegmentPlan, Strategy, draft_strategy
from copilot.llm.writing import Writing, open_client, write_all

__all__ = [
    "display_names",
    "Authorship",
    "LLMClient",
    "LLMSettings",
    "NAMED_EVENT",
    "SegmentNarrative",
    "SegmentPlan",
    "Strategy",
    "TOP_SEGMENTS",
    "Writing",
    "check_numbers",
    "clean_name",
    "collect_numbers",
    "draft_name",
    "draft_strategy",
    "ignorable_names",
    "injected_words",
    "load_prompt",
    "name_key",
    "open_client",
    "option_label",
    "repeats_injection",
    "resolve_settings",
    "run_doctor",
    "safe_for_model",
    "segment_facts",
    "stderr_progress",
    "text_for_model",
    "word_forms",
    "write_all",
]
