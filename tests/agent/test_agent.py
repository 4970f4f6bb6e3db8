"""The agent: pinned tool schemas, routing (slash, phrasing, LLM intent), both tool-choice modes,
the planner's standard path, redirects, and what the model is (not) shown."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from langchain_core.messages import AIMessage

from copilot.agent.agent import Agent
from copilot.agent.router import ACTIONS, route_pattern
from copilot.agent.session import Session
from copilot.agent.tools import TOOLS, call_tool, tool_schemas
from copilot.llm.providers import LLMSettings
from copilot.segmentation.analysis.holdout import holdout_flags
from copilot.segmentation.analysis.pipeline import SegmentSettings
from fixtures.customers import make_customers
from tests.cli_helpers import near_share
from tests.llm.writer_helpers import answer_writer, fake_client

SCHEMAS = Path(__file__).with_name("tool_schemas.json")
FAST = SegmentSettings(id_column="customer_id", k_range=(2, 4), algorithm="kmeans", seed=0)
NO_LLM = LLMSettings(provider="none")


def model_answering(intents: list[dict] | None = None, answers: list[dict] | None = None):
    """A fake model: writers answer well; each routing call (the action, then its arguments)
    takes the next entry of ``intents``, each AnswerText call the next of ``answers``."""
    intents, answers = list(intents or []), list(answers or [])

    def answer(messages, kwargs):
        choice = kwargs.get("tool_choice")
        tool = choice["function"]["name"] if isinstance(choice, dict) else None
        if tool == "ActionChoice" or (tool or "").endswith("Args"):
            return intents.pop(0)
        if tool == "AnswerText":
            return answers.pop(0)
        return answer_writer(messages, kwargs)

    return fake_client([answer] * 200)


@pytest.fixture
def data_csv(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    make_customers(300, 3, seed=2).frame.to_csv(path, index=False)
    return path


def new_session(tmp_path: Path, llm: LLMSettings = NO_LLM) -> Session:
    return Session(tmp_path / "work", settings=FAST, llm=llm)


# --- tools ---------------------------------------------------------------------------------


def test_tool_schemas_are_pinned():
    # What the LLM sees of each tool: a docstring or field edit must show up as a diff here.
    # To accept a deliberate change, regenerate the file (see its first lines in git history).
    pinned = json.loads(SCHEMAS.read_text(encoding="utf-8"))
    assert tool_schemas() == pinned, (
        "tool schemas changed; if on purpose: python -c \"import json; from copilot.agent.tools "
        "import tool_schemas; open('tests/agent/tool_schemas.json','w').write(json.dumps("
        "tool_schemas(), indent=2, sort_keys=True)+'\\n')\"")


def test_every_routed_action_is_a_tool_and_every_tool_is_reachable():
    assert set(ACTIONS) - {"help"} <= set(TOOLS)
    # The tools that take a file path are reached by slash commands and by phrasings that name
    # a file (a small model cannot be trusted to copy a path); the rest by an intent as well.
    # The CRM file and the glossary are reached by /crm, /glossary and phrasings naming them;
    # segmenting within an anchor by /within and phrasings naming an existing column; a scope
    # by /scope, "segment everyone" and the population a goal names.
    assert set(TOOLS) - set(ACTIONS) == {"load_data", "assign_customers", "check_drift",
                                         "export_crm", "write_glossary", "build_features",
                                         "segment_within_anchor", "set_scope"}


def test_bad_tool_arguments_are_one_sentence_and_change_nothing(tmp_path, data_csv):
    s = new_session(tmp_path)
    s.load(data_csv)
    result = call_tool(s, "choose_k", {"k": 1})
    assert not result.ok and "k" in result.text and result.text.count("\n") == 0
    assert call_tool(s, "choose_k", {"k": 3, "rm -rf": True}).ok is False
    assert call_tool(s, "run_python", {"code": "print(1)"}).ok is False
    assert s.analysis is None


def test_set_roles_refuses_an_unknown_column_with_the_real_ones(tmp_path, data_csv):
    s = new_session(tmp_path)
    s.load(data_csv)
    result = call_tool(s, "set_roles", {"exclude": ["regoin"]})
    assert not result.ok and "regoin" in result.text and "plan" in result.text


# --- routing without a model -----------------------------------------------------------------


@pytest.mark.parametrize("message, tool, args", [
    ("use 4 segments", "choose_k", {"k": 4}),
    ("Let's use 5 clusters instead.", "choose_k", {"k": 5}),
    ("k=3", "choose_k", {"k": 3}),
    ("rename segment 2 to Power Users", "rename_segment", {"segment": 2, "name": "Power Users"}),
    ("leave out plan", "set_roles", {"exclude": ["plan"]}),
    ("exclude Plan and tenure_months", "set_roles", {"exclude": ["plan", "tenure_months"]}),
    ("focus on expansion revenue", "set_goal", {"goal": "expansion revenue"}),
    ("why k=5?", "answer_question", {"question": "why k=5?"}),
    ("/k 4", "choose_k", {"k": 4}),
    ("/sweep 3-6", "sweep", {"k_min": 3, "k_max": 6}),
    ("/rename 1 Loyal Fans", "rename_segment", {"segment": 1, "name": "Loyal Fans"}),
    ("/exclude plan region", "set_roles", {"exclude": ["plan", "region"]}),
    ("/memo out/memo.md", "export_memo", {"path": "out/memo.md"}),
    ("/export", "export_assignments", {}),
    ("/assign new.csv out/crm.csv", "assign_customers", {"path": "new.csv", "out": "out/crm.csv"}),
    ("/drift june.parquet", "check_drift", {"path": "june.parquet"}),
    ("/crm hubspot", "export_crm", {"preset": "hubspot"}),
    ("/crm out/all.csv", "export_crm", {"preset": "generic", "path": "out/all.csv"}),
    ("/glossary", "write_glossary", {}),
    ("/features log.csv.gz id=user time=ts as_of=2024-03-01", "build_features",
     {"path": "log.csv.gz", "id_column": "user", "time_column": "ts", "as_of": "2024-03-01"}),
    ("export the segments to Salesforce", "export_crm", {"preset": "salesforce"}),
    ("please update the glossary", "write_glossary", {}),
    ("assign the customers in data/q3_signups.csv", "assign_customers",
     {"path": "data/q3_signups.csv"}),
    ("Has anything changed? Compare with exports/july.csv.gz please", "check_drift",
     {"path": "exports/july.csv.gz"}),
])
def test_patterns_route_without_a_model(tmp_path, data_csv, message, tool, args):
    s = new_session(tmp_path)
    s.load(data_csv)
    routed = route_pattern(message, s)
    assert routed is not None and (routed.tool, routed.args) == (tool, args)


@pytest.mark.parametrize("message", ["leave out the noisy ones", "use your judgement",
                                     "why do heavy users churn less"])
def test_ambiguous_phrasings_are_not_guessed(tmp_path, data_csv, message):
    s = new_session(tmp_path)
    s.load(data_csv)
    assert route_pattern(message, s) is None


@pytest.mark.parametrize("message", ["/k x", "/rename two", "/load", "/frobnicate", "/drift",
                                     "/assign", "/features log.csv id=user",
                                     "/features log.csv id=a time=b colour=c"])
def test_bad_slash_commands_get_one_sentence(tmp_path, message):
    reply = Agent(new_session(tmp_path)).handle(message)
    assert reply.count("\n") == 0 and reply.endswith(".") and "/" in reply


# --- the standard path and redirects (router mode) -------------------------------------------


def test_a_conversation_without_a_model(tmp_path, data_csv):
    s = new_session(tmp_path)
    agent = Agent(s)
    assert "goal" in agent.handle(f"/load {data_csv}").lower()
    reply = agent.handle("Reduce churn among paying customers")  # no model: the default route
    assert s.goal == "Reduce churn among paying customers"
    assert s.analysis is not None and s.writing is not None and s.writing.strategy is not None
    assert all(n.author.status == "fallback" for n in s.writing.narratives)
    assert "[draft]" in reply and (tmp_path / "work" / "memo.md").is_file()
    agent.handle("use 3 segments")
    assert s.analysis.choice.k == 3 and s.settings.k == 3
    assert s.writing is not None and len(s.writing.narratives) == 3  # named again at once
    agent.handle("rename segment 1 to Loyal Fans")
    assert {n.segment: n.name for n in s.writing.narratives}[1] == "Loyal Fans"
    agent.handle("leave out plan")
    assert "plan" in s.settings.exclude and "plan" not in s.analysis.roles.features
    assert "Loyal Fans" not in [n.name for n in s.writing.narratives]  # new segments, new names
    roles = [m.role for m in s.conversation]
    assert roles[:2] == ["user", "assistant"] and len(roles) == 10


def test_the_model_routes_free_text_and_writes_the_names(tmp_path, data_csv):
    client, model = model_answering(intents=[
        {"action": "set_goal"},
        {"action": "set_roles"}, {"exclude": ["plan"]},
        {"action": "answer_question"},
        {"action": "choose_k"},  # "four": the number is read in code, no arguments call
    ])
    s = new_session(tmp_path, LLMSettings(provider="fake"))
    agent = Agent(s, client=client)
    agent.handle(f"/load {data_csv}")
    agent.handle("we want more upsell from the accounts we have")
    assert s.goal == "we want more upsell from the accounts we have"
    assert all(n.author.status != "fallback" for n in s.writing.narratives)
    assert s.writing.strategy is not None and s.writing.strategy.goal == s.goal
    agent.handle("the plan column is noise, drop it from the clustering please")
    assert "plan" in s.settings.exclude
    reply = agent.handle("what sets segment 0 apart?")
    assert "0." in reply  # the computed profile of segment 0
    agent.handle("hmm, I would rather see four groups")
    assert s.analysis.choice.k == 4
    # The model saw column names and aggregates, never a customer ID.
    ids = set(make_customers(300, 3, seed=2).frame["customer_id"].astype(str))
    for text in model.prompts():
        assert not any(i in text for i in list(ids)[:300] if len(i) > 3)


def test_a_k_the_message_does_not_give_is_asked_for_not_invented(tmp_path, data_csv):
    client, model = model_answering(intents=[{"action": "choose_k"}, {"k": 9}])
    s = new_session(tmp_path, LLMSettings(provider="fake"))
    s.load(data_csv)
    reply = Agent(s, client=client).handle("find segments for the new pricing page")
    assert "How many segments" in reply and s.analysis is None
    assert len(model.calls) == 1  # no arguments call: the number must come from the message


def test_a_number_of_campaigns_is_not_a_number_of_segments(tmp_path, data_csv):
    """The issue's Telco request: the embedded model routed it to k=5 (measured)."""
    client, model = model_answering(intents=[{"action": "choose_k"}])
    s = new_session(tmp_path, LLMSettings(provider="fake"))
    s.load(data_csv)
    message = "Find customer segments that help us reduce churn; we can run at most 5 campaigns."
    Agent(s, client=client).handle(message)
    assert s.goal == message
    assert s.analysis is not None and s.settings.k is None  # the engine chose k


def test_an_intent_with_an_unknown_column_is_refused_by_the_schema_and_reasked(tmp_path, data_csv):
    client, model = model_answering(intents=[
        {"action": "set_roles"},
        {"exclude": ["not_a_column"]},  # outside the enum: the schema refuses it
        {},  # valid schema, no argument: the check re-asks
        {"exclude": ["plan"]},
    ])
    s = new_session(tmp_path, LLMSettings(provider="fake"))
    s.load(data_csv)
    agent = Agent(s, client=client)
    agent.handle("please stop using the subscription tier")
    assert s.settings.exclude == ("plan",)
    calls = [kw for _, kw in model.calls if kw["tool_choice"]["function"]["name"] == "SetRolesArgs"]
    assert len(calls) == 3
    enum = calls[0]["tools"][0]["function"]["parameters"]["properties"]["exclude"]
    assert "plan" in json.dumps(enum) and "customer_id" in json.dumps(enum)


def test_a_model_answer_with_a_made_up_number_falls_back_to_computed_text(tmp_path, data_csv):
    client, model = model_answering(
        intents=[{"action": "answer_question"}] * 2,
        answers=[{"answer": "Churn is 97.3% in the biggest one."}] * 3
        + [{"answer": "The segments differ mostly on usage."}])
    s = new_session(tmp_path, LLMSettings(provider="fake"))
    s.load(data_csv)
    s.segment()
    agent = Agent(s, client=client)
    reply = agent.handle("what is going on with these customers?")
    assert "97.3" not in reply and "computed overview" in reply
    reply = agent.handle("anything surprising?")
    assert reply.startswith("The segments differ mostly on usage.") and "checked" in reply


# --- tool calling (capable providers) --------------------------------------------------------


def tool_call(name: str, args: dict, i: int = 1) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"c{i}",
                                              "type": "tool_call"}])


def test_tool_calling_mode_runs_the_tools_the_model_picks(tmp_path, data_csv):
    client, model = fake_client([tool_call("choose_k", {"k": 3}),
                                 tool_call("rename_segment", {"segment": 0, "name": "Core"}, 2),
                                 AIMessage(content="Done: 3 segments, segment 0 is Core.")])
    s = new_session(tmp_path, LLMSettings(provider="fake"))
    s.load(data_csv)
    reply = Agent(s, client=client, mode="tools").handle("three segments, and call the first Core")
    assert reply == "Done: 3 segments, segment 0 is Core."
    assert s.analysis.choice.k == 3 and s.user_names == {0: "Core"}
    sent_tools = {t["function"]["name"] for t in model.calls[0][1]["tools"]}
    assert sent_tools == set(TOOLS)
    # the tool results went back to the model as tool messages
    assert any(getattr(m, "tool_call_id", None) == "c1" for m in model.calls[1][0])


def test_tool_calling_reply_with_an_invented_figure_is_replaced(tmp_path, data_csv):
    client, _ = fake_client([tool_call("validate_outcomes", {}),
                             AIMessage(content="Churn is 81.4% in segment 2.")])
    s = new_session(tmp_path, LLMSettings(provider="fake"))
    s.load(data_csv)
    s.segment()
    reply = Agent(s, client=client, mode="tools").handle("how do they churn?")
    assert "81.4" not in reply and "computed results" in reply
    assert "churned" in reply  # the validation text itself


def test_tool_calling_failure_falls_back_to_routing(tmp_path, data_csv):
    client, _ = fake_client([ConnectionError("refused"), {"action": "choose_k"}])
    s = new_session(tmp_path, LLMSettings(provider="fake"))
    s.load(data_csv)
    Agent(s, client=client, mode="tools").handle("two groups would be plenty for us")
    assert s.analysis is not None and s.analysis.choice.k == 2


# --- persistence ----------------------------------------------------------------------------


def test_renames_and_assignments_survive_a_resume(tmp_path, data_csv):
    s = new_session(tmp_path)
    agent = Agent(s)
    agent.handle(f"/load {data_csv}")
    agent.handle("/k 3")
    agent.handle("/rename 2 Night Owls")
    back = Session.resume(tmp_path / "work", llm=NO_LLM)
    assert back.user_names == {2: "Night Owls"}
    out = Agent(back).handle(f"/export {tmp_path / 'crm.csv'}")
    assert "crm.csv" in out
    import pandas as pd

    frame = pd.read_csv(tmp_path / "crm.csv")
    assert set(frame["segment_name"][frame["segment"] == 2]) == {"Night Owls"}
    assert len(frame) == 300 and list(frame.columns[:3]) == ["customer_id", "segment",
                                                             "segment_name"]


def test_router_guards_for_a_small_model(tmp_path, data_csv):
    # With no goal yet, "what to do for them" states the goal; a negated column goes out.
    client, _ = model_answering(intents=[
        {"action": "draft_strategy"},
        {"action": "set_roles"}, {"include": ["plan"]},
        {"action": "set_roles"}, {"include": ["plan"]},
    ])
    s = new_session(tmp_path, LLMSettings(provider="fake"))
    s.load(data_csv)
    from copilot.agent.router import route_llm

    routed = route_llm("we must stop losing monthly customers", s, client)
    assert (routed.tool, routed.args) == ("set_goal", {"goal": "we must stop losing monthly customers"})
    routed = route_llm("the plan column shouldn't drive the grouping", s, client)
    assert routed.args == {"exclude": ["plan"]}
    routed = route_llm("use the plan column again", s, client)
    assert routed.args == {"include": ["plan"]}


def test_new_customers_are_assigned_and_a_shifted_snapshot_is_flagged_from_the_chat(
        tmp_path, data_csv):
    import pandas as pd

    s = new_session(tmp_path)
    agent = Agent(s)
    s.load(data_csv)
    s.segment(k=3)
    # Before anything: the same customers again are assigned to their own segments.
    reply = agent.handle(f"/assign {data_csv} {tmp_path / 'crm.csv'}")
    crm = pd.read_csv(tmp_path / "crm.csv")
    assert "Assigned" in reply and (crm["segment"].to_numpy() == s.run.labels).all()
    assert set(crm.columns) >= {"segment_name", "confidence", "holdout", "model_version"}
    # The same table is stable; one where a third of the customers took other customers'
    # values (a real change of behaviour) needs re-clustering.
    assert "Drift verdict: stable" in agent.handle(f"/drift {data_csv}")
    frame = pd.read_csv(data_csv)
    moved = frame.copy()
    rows = np.random.default_rng(0).permutation(len(frame))[: len(frame) // 3]
    donors = np.random.default_rng(1).permutation(len(frame))[: len(rows)]
    features = [c for c in frame.columns if c != "customer_id"]
    moved.loc[rows, features] = frame.loc[donors, features].to_numpy()
    moved.to_csv(tmp_path / "later.csv", index=False)
    reply = agent.handle(f"compare with {tmp_path / 'later.csv'}")
    assert "Drift verdict: re-cluster" in reply and "changed segment" in reply
    assert (s.session_dir / "drift.md").is_file()
    # A file that is not there is one sentence, and the session goes on.
    reply = agent.handle("/drift nowhere.csv")
    assert "nowhere.csv" in reply and reply.count("\n") == 0


def test_the_crm_file_and_the_glossary_come_from_the_chat_with_versions(tmp_path, data_csv):
    import pandas as pd

    s = new_session(tmp_path)
    agent = Agent(s)
    s.load(data_csv)
    s.segment(k=3)
    reply = agent.handle("/crm salesforce")
    crm = pd.read_csv(s.session_dir / "crm-salesforce.csv", dtype=str)
    assert "salesforce" in reply and len(crm) == 300
    assert all(c.endswith("__c") for c in crm.columns)
    # The customers are the session's own, in their own segments, about 10% of each held
    # out, each by the hash of their ID.
    segments = crm.filter(like="Segment_ID").iloc[:, 0].astype(int).to_numpy()
    assert (segments == s.run.labels).all()
    held = (crm.filter(like="Holdout").iloc[:, 0].str.lower() == "true").to_numpy()
    for segment in set(segments):
        members = segments == segment
        assert near_share(held[members].sum(), members.sum())
    assert (held == holdout_flags(crm.iloc[:, 0])).all()

    s.write(with_strategy=False)  # no model: the deterministic draft names
    agent.handle("/glossary")
    first = json.loads((s.session_dir / "glossary" / "glossary.json").read_text())
    assert first["version"] == 1 and len(first["entries"]) == 3
    s.rename(0, "Anchor Accounts")
    reply = agent.handle("/glossary")
    second = json.loads((s.session_dir / "glossary" / "glossary.json").read_text())
    assert second["version"] == 2 and "version 2" in reply
    assert [c["kind"] for c in second["changes"]] == ["renamed"], second["changes"]
    assert "Anchor Accounts" in (s.session_dir / "glossary" / "glossary.md").read_text()
    # A strategy owner is a glossary field too, set from the chat and kept by later versions.
    reply = agent.handle("/owner 1 Jane Doe")
    third = json.loads((s.session_dir / "glossary" / "glossary.json").read_text())
    assert third["version"] == 3 and "version 3" in reply
    owners = {e["segment"]: e["owner"] for e in third["entries"]}
    assert owners[1] == "Jane Doe" and owners[0] == ""
    assert [c["kind"] for c in third["changes"]] == ["owner"], third["changes"]
    assert "Jane Doe" in (s.session_dir / "glossary" / "glossary.md").read_text()
    assert "no segment 7" in agent.handle("/owner 7 Nobody")
    assert route_pattern("/owner Jane", s).problem


def test_an_event_log_becomes_the_table_and_its_future_outcome_is_recognised(tmp_path):
    from fixtures.events import make_transactions

    log = make_transactions(seed=5)
    path = tmp_path / "events.csv"
    log.frame.to_csv(path, index=False)
    s = new_session(tmp_path)
    message = (f"/features {path} id=CustomerID time=InvoiceDate amount=Quantity*UnitPrice "
               f"order=InvoiceNo as_of={log.cutoff:%Y-%m-%d}")
    reply = Agent(s).handle(message)
    assert "Built the customer table" in reply, reply
    table = s.table().frame
    assert len(table) == table["CustomerID"].nunique() and "outcome_bought_again" in table
    assert s.segment() is not None, s.last_error
    assert "outcome_bought_again" in s.analysis.roles.outcomes
    assert "outcome_bought_again" not in s.analysis.roles.features


def test_a_clickstream_with_a_purchase_event_gets_its_purchase_outcome_in_the_chat(tmp_path):
    from fixtures.events import make_clickstream

    log = make_clickstream(seed=3)
    path = tmp_path / "clicks.csv"
    log.frame.to_csv(path, index=False)
    s = new_session(tmp_path)
    routed = route_pattern(f"/features {path} id=user_id time=timestamp event=event "
                           f"order=session_id purchase=purchase as_of={log.cutoff:%Y-%m-%d} "
                           "horizon=30", s)
    assert routed.args["purchase_event"] == "purchase" and routed.args["horizon_days"] == 30
    reply = Agent(s).execute(routed)
    assert "Built the customer table" in reply, reply
    table = s.table().frame
    assert "outcome_bought_after" in table
    assert any(c.startswith("purchase") or "purchase" in c for c in table.columns
               if not c.startswith("outcome_"))
    assert route_pattern(f"/features {path} id=u time=t horizon=soon", s).problem
