"""Choosing the provider: flag > environment > config file > default, and one-sentence errors."""

from __future__ import annotations

import pytest

from copilot.core.errors import SettingsError
from copilot.llm.fake import ScriptedChatModel
from copilot.llm.providers import get_provider, resolve_settings
from copilot.llm.writing import open_client


def test_default_is_the_embedded_model(tmp_path):
    s = resolve_settings({}, env={"SEGMENT_COPILOT_CONFIG": str(tmp_path / "none.toml")})
    assert s.provider == "local" and s.sources == {}


def test_precedence_flag_over_environment_over_config_file(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[llm]\nprovider = "openai-compatible"\nmodel = "qwen"\nbase-url = "http://127.0.0.1:9/v1"\n')
    env = {"SEGMENT_COPILOT_CONFIG": str(cfg)}
    s = resolve_settings({}, env=env)
    assert (s.provider, s.model, s.base_url) == ("openai-compatible", "qwen", "http://127.0.0.1:9/v1")
    assert s.sources["provider"].startswith("config file")
    s = resolve_settings({}, env=env | {"SEGMENT_COPILOT_PROVIDER": "fake", "SEGMENT_COPILOT_TIMEOUT": "7"})
    assert (s.provider, s.timeout_s, s.model) == ("fake", 7.0, "qwen")
    assert s.sources["provider"] == "environment"
    s = resolve_settings({"provider": "none", "model": None}, env=env | {"SEGMENT_COPILOT_PROVIDER": "fake"})
    assert s.provider == "none" and s.sources["provider"] == "flag" and s.model == "qwen"


@pytest.mark.parametrize(
    ("flags", "env", "needle"),
    [
        ({"provider": "gpt"}, {}, "Unknown LLM provider 'gpt'"),
        ({}, {"SEGMENT_COPILOT_TIMEOUT": "-3"}, "timeout_s"),
        ({}, {"SEGMENT_COPILOT_TIMEOUT": "soon"}, "timeout_s"),
    ],
)
def test_bad_settings_are_one_sentence(tmp_path, flags, env, needle):
    with pytest.raises(SettingsError) as err:
        resolve_settings(flags, env={"SEGMENT_COPILOT_CONFIG": str(tmp_path / "x.toml")} | env)
    assert needle in str(err.value) and str(err.value).count("\n") == 0


def test_broken_config_file_names_the_file(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("[llm\nprovider=")
    with pytest.raises(SettingsError, match="not valid TOML"):
        resolve_settings({}, env={"SEGMENT_COPILOT_CONFIG": str(cfg)})


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        ({"provider": "openai"}, "OPENAI_API_KEY"),
        ({"provider": "openai-compatible", "model": "m"}, "--base-url"),
        ({"provider": "openai-compatible", "base_url": "http://127.0.0.1:9/v1"}, "--model"),
    ],
)
def test_a_provider_that_cannot_be_built_falls_back_with_a_notice(tmp_path, flags, needle):
    settings = resolve_settings(flags, env={"SEGMENT_COPILOT_CONFIG": str(tmp_path / "x.toml")})
    with pytest.raises(SettingsError, match=needle.replace("-", r"\-")):
        get_provider(settings.provider).build(settings)
    client = open_client(settings)
    assert client.chat_model is None and client.down
    assert len(client.notices) == 1 and needle in client.notices[0]


def test_openai_providers_build_langchain_models_without_network(tmp_path):
    from langchain_openai import ChatOpenAI

    env = {"SEGMENT_COPILOT_CONFIG": str(tmp_path / "x.toml")}
    s = resolve_settings({"provider": "openai-compatible", "base_url": "http://127.0.0.1:9/v1",
                          "model": "qwen", "timeout_s": 3}, env=env)
    model = get_provider(s.provider).build(s)
    assert isinstance(model, ChatOpenAI) and model.model_name == "qwen"
    assert str(model.openai_api_base).startswith("http://127.0.0.1:9")
    s = resolve_settings({"provider": "openai", "api_key": "sk-test"}, env=env)
    model = get_provider("openai").build(s)
    assert isinstance(model, ChatOpenAI) and model.model_name == "gpt-4o-mini"


def test_fake_provider_replays_a_script_file(tmp_path, monkeypatch):
    script = tmp_path / "script.json"
    script.write_text('[{"status": "ok"}]')
    monkeypatch.setenv("SEGMENT_COPILOT_FAKE_SCRIPT", str(script))
    s = resolve_settings({"provider": "fake"}, env={"SEGMENT_COPILOT_CONFIG": str(tmp_path / "x.toml")})
    model = get_provider("fake").build(s)
    assert isinstance(model, ScriptedChatModel) and model.script == [{"status": "ok"}]


@pytest.mark.parametrize(("value", "threads"), [("1", 1), ("4", 4), ("", 2), ("0", 2), ("two", 2)])
def test_the_embedded_models_threads_come_from_the_environment(monkeypatch, value, threads):
    # A host busy with other work (the parallel test suite) gives the model fewer threads;
    # a value that is not a positive count keeps the default rather than failing.
    from copilot.llm.local_chat import ChatLocalLlama, default_threads

    monkeypatch.setenv("SEGMENT_COPILOT_THREADS", value)
    assert default_threads() == threads
    assert ChatLocalLlama(model_path="model.gguf").n_threads == threads


def test_the_openai_provider_sends_to_the_base_url_it_is_given(tmp_path):
    """A company gateway named with --base-url gets the request and the key; the public
    endpoint gets nothing (the flag was shown by doctor and then ignored)."""
    from langchain_core.messages import HumanMessage

    from tests.llm.servers import ScriptedOpenAIServer, text

    env = {"SEGMENT_COPILOT_CONFIG": str(tmp_path / "x.toml")}
    with ScriptedOpenAIServer([text("hello from the gateway")]) as gateway:
        s = resolve_settings({"provider": "openai", "api_key": "sk-test",
                              "base_url": gateway.base_url, "timeout_s": 5}, env=env)
        reply = get_provider("openai").build(s).invoke([HumanMessage("hi")])
    assert reply.content == "hello from the gateway"
    assert len(gateway.requests) == 1 and gateway.requests[0]["model"] == "gpt-4o-mini"
