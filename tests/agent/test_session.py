"""The headless Session: steps emit events in order, every step saves atomically, resume works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copilot.agent import SESSION_FILE, SESSION_VERSION, Event, Session
from copilot.agent.session import SessionFile
from copilot.core.errors import InputError
from copilot.llm.providers import LLMSettings
from copilot.segmentation.analysis.pipeline import SegmentSettings
from fixtures.customers import make_customers
from tests.llm.writer_helpers import answer_writer, fake_client

# kmeans and a fixed k keep each engine run well under a second on 300 rows.
FAST = SegmentSettings(id_column="customer_id", k=3, algorithm="kmeans", seed=0)
NO_LLM = LLMSettings(provider="none")


def scripted_client():
    """A well-behaved model whatever the order of calls (a re-ask shifts a fixed script)."""
    client, model = fake_client([answer_writer] * 60)
    return client, model


@pytest.fixture
def data_csv(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    make_customers(300, 3, seed=2).frame.to_csv(path, index=False)
    return path


@pytest.fixture
def session(tmp_path: Path) -> tuple[Session, list[Event]]:
    s = Session(tmp_path / "work", settings=FAST, llm=NO_LLM)
    events: list[Event] = []
    s.subscribe(events.append)
    return s, events


def saved(s: Session) -> dict:
    return json.loads(s.path.read_text(encoding="utf-8"))


def saved_analysis(s: Session) -> dict | None:
    """The segments as saved: analysis.json, which session.json names (saved once)."""
    name = saved(s)["analysis_file"]
    return None if name is None else json.loads((s.session_dir / name).read_text("utf-8"))


def one_sentence(text: str) -> bool:
    return text.endswith(".") and "\n" not in text and ". " not in text


def check_step(events: list[Event], step: str, *, progress: bool) -> None:
    """A step's events: tool_call first, result last, only progress between."""
    assert events[0].kind == "tool_call" and events[0].data["step"] == step, events[0]
    assert events[-1].kind == "result" and events[-1].data["step"] == step, events[-1]
    middle = events[1:-1]
    assert all(e.kind == "progress" for e in middle), [e.kind for e in middle]
    if progress:
        assert middle, f"{step} reported no progress"


# --- a full run ---------------------------------------------------------------------------------

def test_full_run_emits_events_in_order_and_saves_after_every_step(session, data_csv):
    s, events = session
    assert not s.path.exists()

    assert s.load(data_csv) is not None
    check_step(events, "load", progress=False)
    assert events[-1].data["rows"] == 300
    assert saved(s)["data_path"] == str(data_csv.resolve())
    assert saved(s)["analysis_file"] is None
    events.clear()

    s.set_goal("  Reduce churn among paying customers ")
    check_step(events, "set_goal", progress=False)
    assert saved(s)["goal"] == "Reduce churn among paying customers"
    events.clear()

    analysis = s.segment()
    check_step(events, "segment", progress=True)
    stages = [e.data["stage"] for e in events if e.kind == "progress"]
    assert stages[0] == "roles" and stages[-1] == "done"
    assert events[-1].data["k"] == 3 == analysis.choice.k
    assert saved_analysis(s)["choice"]["k"] == 3
    assert saved(s)["writing"] is None
    events.clear()

    client, model = scripted_client()
    writing = s.write(client)
    check_step(events, "write", progress=False)
    names = [n.name for n in writing.narratives]
    assert len(names) == 3 and all(n.author.writer == "fake/scripted" for n in writing.narratives)
    assert writing.strategy is not None  # the goal reached the writers
    assert events[-1].data["names"] == names
    assert [n["name"] for n in saved(s)["writing"]["narratives"]] == names
    assert model.calls, "the injected client was not used"
    events.clear()

    s.say("user", "Which segment should we start with?")
    assert [e.kind for e in events] == ["message"]
    assert events[0].data["role"] == "user"
    assert saved(s)["conversation"][-1]["text"] == "Which segment should we start with?"


def test_the_analysis_is_saved_once_in_analysis_json(session, data_csv):
    s, _ = session
    s.load(data_csv)
    analysis = s.segment()
    # session.json names analysis.json instead of holding a second copy of it.
    assert saved(s)["analysis"] is None and saved(s)["analysis_file"] == "analysis.json"
    assert saved_analysis(s) == json.loads(analysis.model_dump_json())
    assert saved(s)["version"] == SESSION_VERSION
    back = Session.resume(s.session_dir)
    assert back.analysis == analysis and back.notices == []


def test_a_version_1_session_with_its_segments_inline_still_resumes(session, data_csv):
    s, _ = session
    s.load(data_csv)
    analysis = s.segment()
    state = saved(s)
    state.update(version=1, analysis=json.loads(analysis.model_dump_json()))
    del state["analysis_file"]
    s.path.write_text(json.dumps(state), encoding="utf-8")
    (s.session_dir / "analysis.json").unlink()
    back = Session.resume(s.session_dir)
    assert back.analysis == analysis and back.notices == []


def test_the_api_key_is_never_saved(tmp_path):
    s = Session(tmp_path, settings=FAST, llm=LLMSettings(provider="openai", api_key="sk-secret"))
    s.say("user", "hello")
    assert "sk-secret" not in s.path.read_text(encoding="utf-8")
    assert s.llm.api_key == "sk-secret"  # still usable in memory


# --- atomic autosave ----------------------------------------------------------------------------

def test_a_failing_serialisation_leaves_the_previous_save_intact(session, data_csv, monkeypatch):
    s, events = session
    s.load(data_csv)
    s.set_goal("Reduce churn")
    before = s.path.read_text(encoding="utf-8")

    def boom(self, **kwargs):
        raise RuntimeError("serialiser exploded")

    monkeypatch.setattr(SessionFile, "model_dump_json", boom)
    events.clear()
    with pytest.raises(RuntimeError):  # a bug is reported, then raised, never swallowed
        s.set_goal("Grow revenue")
    assert events[-1].kind == "error" and events[-1].data["step"] == "save"
    assert s.path.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in s.session_dir.iterdir()) == [SESSION_FILE]


def test_a_failing_rename_leaves_the_previous_save_intact(session, data_csv, monkeypatch):
    s, events = session
    s.load(data_csv)
    before = s.path.read_text(encoding="utf-8")

    def no_replace(src, dst):
        raise OSError(28, "No space left on device")

    # Fails after the temp file is written and fsynced, just before it would replace the save.
    monkeypatch.setattr("copilot.core.files.os.replace", no_replace)
    events.clear()
    s.set_goal("Grow revenue")  # a disk problem is a user-level error: an event, no exception
    assert [e.kind for e in events] == ["tool_call", "result", "error"]
    assert "No space left" in events[-1].text and one_sentence(events[-1].text)
    assert s.path.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in s.session_dir.iterdir()) == [SESSION_FILE]  # no temp left
    monkeypatch.undo()
    s.say("user", "retry")  # the next step saves everything, the goal included
    assert saved(s)["goal"] == "Grow revenue"


# --- resume -------------------------------------------------------------------------------------

def test_resume_restores_goal_conversation_k_and_names(session, data_csv):
    s, _ = session
    s.load(data_csv)
    s.set_goal("Reduce churn")
    s.say("user", "Split them into four groups.")
    s.segment(k=4)
    writing = s.write(scripted_client()[0])
    s.say("assistant", "Done: four segments, named.")

    back = Session.resume(s.session_dir)
    assert back.goal == "Reduce churn"
    assert [(m.role, m.text) for m in back.conversation] == [
        ("user", "Split them into four groups."), ("assistant", "Done: four segments, named.")]
    assert [m.timestamp for m in back.conversation] == [m.timestamp for m in s.conversation]
    assert back.settings == s.settings and back.settings.k == 4
    assert back.analysis == s.analysis and back.analysis.choice.k == 4
    assert [n.name for n in back.writing.narratives] == [n.name for n in writing.narratives]
    assert back.llm.provider == "none" and back.notices == []
    assert back.data_path == data_csv.resolve()


def test_resume_reloads_the_data_lazily_when_a_step_needs_it(session, data_csv):
    s, _ = session
    s.load(data_csv)
    s.segment()
    back = Session.resume(s.session_dir)
    assert back._table is None  # nothing read at resume time
    events: list[Event] = []
    back.subscribe(events.append)
    analysis = back.segment(k=4)
    assert analysis is not None and analysis.choice.k == 4
    assert any(e.kind == "progress" and e.data["stage"] == "load" for e in events)
    assert events[-1].kind == "result"


def test_resume_with_moved_data_is_an_error_event_not_a_crash(session, data_csv):
    s, _ = session
    s.load(data_csv)
    s.segment()
    data_csv.unlink()
    back = Session.resume(s.session_dir)
    assert back.analysis is not None  # the saved results are still readable
    events: list[Event] = []
    back.subscribe(events.append)
    assert back.segment() is None
    assert events[-1].kind == "error" and "does not exist" in events[-1].text


@pytest.mark.parametrize("content, words", [
    (None, "no saved session"),
    ("{not json", "corrupt"),
    ('["a", "list"]', "not a segment-copilot session"),
    ('{"format": "something-else", "version": 1}', "not a segment-copilot session"),
    ('{"format": "segment-copilot-session", "version": 99}', "version 99"),
    ('{"format": "segment-copilot-session", "version": 1, "goal": 5}', "damaged"),
])
def test_a_bad_session_file_is_one_sentence(tmp_path, content, words):
    if content is not None:
        (tmp_path / SESSION_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        Session.resume(tmp_path)
    message = str(caught.value)
    assert words in message and one_sentence(message), message


def test_results_that_no_longer_validate_are_dropped_with_a_notice(session, data_csv):
    s, _ = session
    s.load(data_csv)
    s.set_goal("Reduce churn")
    s.segment()
    on_disk = saved_analysis(s)
    on_disk["choice"] = {"renamed": True}  # as if saved by another engine version
    (s.session_dir / "analysis.json").write_text(json.dumps(on_disk), encoding="utf-8")
    back = Session.resume(s.session_dir)
    assert back.analysis is None and back.goal == "Reduce churn"
    assert len(back.notices) == 1 and "run segment again" in back.notices[0]


# --- overrides and errors -----------------------------------------------------------------------

def test_a_k_override_reruns_with_that_k_and_is_kept(session, data_csv):
    s, events = session
    s.load(data_csv)
    assert s.segment().choice.k == 3
    s.write()  # provider "none": deterministic drafts, no client to inject
    assert s.writing is not None
    events.clear()
    analysis = s.segment(k=5)
    assert analysis.choice.k == 5 and s.settings.k == 5
    assert events[0].data["args"] == {"k": 5}
    assert s.writing is None  # the names described the three old segments
    assert saved(s)["settings"]["k"] == 5 and saved_analysis(s)["choice"]["k"] == 5


def test_a_k_override_replaces_a_k_range(tmp_path, data_csv):
    s = Session(tmp_path, settings=FAST.model_copy(update={"k": None, "k_range": (2, 4)}),
                llm=NO_LLM)
    s.load(data_csv)
    assert s.segment(k=5).choice.k == 5
    assert s.settings.k_range is None


@pytest.mark.parametrize("overrides, words", [
    ({"k": 1000}, "k=1000 is impossible"),
    ({"kk": 4}, "no setting named kk"),
    ({"k": "four"}, "k"),
])
def test_a_bad_override_is_an_error_event_and_changes_nothing(session, data_csv, overrides, words):
    s, events = session
    s.load(data_csv)
    first = s.segment()
    before = s.path.read_text(encoding="utf-8")
    events.clear()
    assert s.segment(**overrides) is None
    assert [e.kind for e in events if e.kind != "progress"] == ["tool_call", "error"]
    assert words in events[-1].text and one_sentence(events[-1].text), events[-1].text
    assert s.settings == FAST and s.analysis is first
    assert s.path.read_text(encoding="utf-8") == before


def test_a_failed_step_is_an_error_event_and_the_session_stays_usable(session, data_csv, tmp_path):
    s, events = session
    assert s.load(tmp_path / "missing.csv") is None
    assert [e.kind for e in events] == ["tool_call", "error"]
    assert "does not exist" in events[-1].text and one_sentence(events[-1].text)
    assert events[-1].data == {"step": "load", "error": "DataError"}
    assert not s.path.exists()  # a failed step changes nothing, so nothing is saved

    events.clear()
    assert s.segment() is None and "load a customer file first" in events[-1].text
    events.clear()
    assert s.write() is None and "run segment first" in events[-1].text

    events.clear()
    assert s.load(data_csv) is not None and s.segment() is not None
    assert [e.kind for e in events].count("error") == 0
    assert saved_analysis(s)["choice"]["k"] == 3


def test_a_new_table_or_goal_drops_the_results_built_on_the_old_one(session, data_csv):
    s, _ = session
    s.load(data_csv)
    s.segment()
    s.write()
    s.set_goal("Reduce churn")
    assert s.writing is None and s.analysis is not None
    s.load(data_csv)
    assert s.analysis is None and s.run is None
    assert saved(s)["analysis_file"] is None


def test_unsubscribe_stops_events(session):
    s, _ = session
    seen: list[Event] = []
    stop = s.subscribe(seen.append)
    s.say("user", "one")
    stop()
    s.say("user", "two")
    assert [e.text for e in seen] == ["one"]


def test_the_session_saves_a_model_that_carries_the_current_names(session, data_csv):
    from copilot.segmentation.model.assign import assign_file
    from copilot.segmentation.model.bundle import load_bundle

    s, _ = session
    s.load(data_csv)
    s.segment(k=3)
    model = load_bundle(s.model_path())
    assert model.info.names == {0: "Segment 0", 1: "Segment 1", 2: "Segment 2"}
    # The saved model puts the session's own customers back in the segments it found.
    assigned = assign_file(model, data_csv).frame
    assert (assigned["segment"].to_numpy() == s.run.labels).all()

    writing = s.write(scripted_client()[0])
    assert load_bundle(s.model_path()).info.names == {n.segment: n.name
                                                      for n in writing.narratives}
    back = Session.resume(s.session_dir)
    back.rename(1, "Heavy Users")
    renamed = load_bundle(back.model_path()).info
    assert renamed.names[1] == "Heavy Users"
    assert renamed.bundle_id != model.info.bundle_id


def test_answers_about_segments_say_each_segments_stance(session, data_csv):
    from copilot.agent.agent import AskResult, summary_text
    from copilot.agent.answers import answer_question, question_facts
    from copilot.segmentation.analysis.stance import segment_stances

    s, _ = session
    s.load(data_csv)
    s.segment()
    stances = segment_stances(s.analysis)
    labels = {x.segment: x.label for x in stances.segments}
    assert any(labels.values())
    segment = next(seg for seg, label in labels.items() if label)
    # The profile of one segment: its stance after its size, and what the stance is measured on.
    profile = answer_question(s, f"tell me about segment {segment}")
    first = profile.splitlines()[0]
    assert first.startswith(f"{segment}. ") and first.endswith(f"), {labels[segment]}")
    assert profile.splitlines()[-1] == stances.basis_sentence()
    # The sizes overview and the computed overview.
    sizes = answer_question(s, "how big are the segments?").splitlines()
    for line, size in zip(sizes, s.analysis.sizes, strict=True):
        if labels.get(size.segment):
            assert line.endswith(f"), {labels[size.segment]}"), line
    assert all(x["stance"] == labels[x["segment"]] for x in question_facts(s)["segments"])
    # After names are written: the chat's summary reply and the ask --json object.
    s.write()
    reply = summary_text(s)
    for n in s.writing.narratives:
        if labels[n.segment]:
            assert f"{n.segment}. {n.name} (" in reply
            assert f", {labels[n.segment]}) [draft]" in reply
    out = AskResult(True, "done").to_json(s)
    assert [x["stance"] for x in out["segments"]] == [labels[p.segment]
                                                       for p in s.analysis.profiles]
    json.dumps(out)  # still plain JSON


def test_each_name_is_announced_as_it_is_chosen(session, data_csv):
    """Issue 13: every name on screen as soon as it is ready, not only when the pass ends."""
    s, events = session
    s.load(data_csv)
    s.set_goal("Reduce churn")
    s.segment()
    events.clear()
    client, _ = scripted_client()
    writing = s.write(client)
    named = [e for e in events if e.kind == "progress" and e.data.get("stage") == "name"]
    assert [e.text.split(" is named ")[1] for e in named] == [n.name for n in writing.narratives]
    # The names come before any narrative is written.
    first_narrative = next(i for i, e in enumerate(events) if "narrative" in e.text)
    assert events.index(named[-1]) < first_narrative
