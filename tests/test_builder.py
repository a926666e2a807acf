"""The fluent Python builder: a scenario without YAML, validated like a file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from nhisim.errors import InputError
from nhisim.scenario.builder import ScenarioBuilder
from nhisim.scenario.loader import load_scenario, validate_data
from nhisim.scenario.models import PRESET_NAMES, CallStep, DelegateStep, SecretLeak
from nhisim.scenario.units import Exponential, Fixed, exponential

ROOT = Path(__file__).resolve().parents[1]


def demo() -> ScenarioBuilder:
    b = ScenarioBuilder("demo", title="a demo")
    b.resource("crm-db", sensitivity="critical", records=1000)
    b.resource("kb", sensitivity="low", environment="dev")
    b.tool("crm-api", ops=["read:crm-db", "export:crm-db", ("write", "crm-db")])
    b.tool("kb-search", ops=[{"action": "read", "resource": "kb"}], kind="mcp")
    b.role("support", grants=["crm-api:read:crm-db", "kb-search:read:kb"])
    b.human("alice", approver=True).human("bob")
    b.agent("bot", owner="alice", roles=["support"], tools=["crm-api", "kb-search"], tasks=["t"],
            may_delegate_to=["helper"], discovery_probability=0.1)
    b.agent("helper", owner="bob", roles=["support"], tasks=["lookup"])
    b.task("lookup", steps=["kb-search:read:kb"])
    b.task("t", requested_by="alice", rate="6/h", intent=["crm-api:read:crm-db", "kb-search:read:kb"],
           sensitivity_ceiling="critical", destinations=["internal", "email"],
           steps=[("crm-api:read:crm-db", "20s"),
                  ("kb-search:read:kb", {"exponential": "10s"}, {"destination": "email"}),
                  {"delegate": {"agent": "helper", "task": "lookup"}}])
    b.threat(kind="secret_leak", principal="bot", at="2h")
    b.strategy("zsp_1h", base="zsp", ttl="1h")
    return b


def test_build_the_example():
    s = demo().build()
    assert s.name == "demo" and s.title == "a demo"
    ix = s.index()
    assert ix.resources["crm-db"].sensitivity == "critical" and ix.resources["crm-db"].records == 1000
    assert ix.resources["kb"].environment == "dev"
    assert [(o.action, o.resource) for o in ix.tools["crm-api"].operations] == [
        ("read", "crm-db"), ("export", "crm-db"), ("write", "crm-db")]
    assert ix.tools["kb-search"].kind == "mcp"
    assert [str(g) for g in ix.roles["support"].grants] == ["crm-api:read:crm-db", "kb-search:read:kb"]
    assert ix.humans["alice"].approver and not ix.humans["bob"].approver
    bot = ix.agents["bot"]
    assert bot.owner == "alice" and bot.may_delegate_to == ["helper"]
    assert bot.behaviour.discovery_probability == 0.1
    t = ix.tasks["t"]
    assert t.arrival_rate == pytest.approx(6 / 3600)
    assert [str(g) for g in t.intent.operations] == ["crm-api:read:crm-db", "kb-search:read:kb"]
    assert t.intent.destinations == ["internal", "email"]
    first, second, third = t.steps
    assert isinstance(first, CallStep) and first.duration == Fixed(fixed=20)  # a bare duration is fixed
    assert isinstance(second.duration, Exponential) and second.destination == "email"
    assert isinstance(third, DelegateStep) and third.delegate.agent == "helper"
    assert ix.tasks["lookup"].arrival_rate == 0.0
    (threat,) = s.threats
    assert isinstance(threat, SecretLeak) and threat.at == Fixed(fixed=7200)
    assert set(s.strategies) == set(PRESET_NAMES) | {"zsp_1h"}
    assert s.strategies["zsp_1h"].base == "zsp" and s.strategies["zsp_1h"].ttl == 3600


def test_methods_chain():
    b = ScenarioBuilder("x")
    assert b.human("h") is b
    s = (ScenarioBuilder("chain").human("h").resource("r").tool("api", ops=["read:r"])
         .role("reader", grants=["api:read:r"]).agent("a", owner="h", roles=["reader"], tasks=["t"])
         .task("t", rate="1/min", steps=["api:read:r"]).threat("runtime_discovery", probability=0.2)
         .detection(monitoring="advanced").issuer(max_retries=1).approval(reviewers=3).attacker(rate="2/min")
         .weights(action_damage={"read": 1, "export": 9}).tags(owasp_nhi=["NHI2"]).run(horizon="2h", seed=5)
         .expect("intent < rbac on blast_radius").build())
    assert s.detection.monitoring == "advanced" and s.issuer.max_retries == 1 and s.approval.reviewers == 3
    assert s.attacker.rate == pytest.approx(2 / 60) and s.weights.action_damage == {"read": 1, "export": 9}
    assert s.tags.owasp_nhi == ["NHI2"] and (s.run.horizon, s.run.seed) == (7200, 5)
    assert s.expectations == ["intent < rbac on blast_radius"]
    assert s.threats[0].probability == 0.2


def test_sections_accumulate():
    s = ScenarioBuilder("x").run(seed=2).run(replications=3).detection(enabled=False).build()
    assert (s.run.seed, s.run.replications) == (2, 3) and not s.detection.enabled


def test_strategies_without_presets():
    s = ScenarioBuilder("x", presets=False).strategy("rbac").strategy("short", base="zsp", ttl="5m").build()
    assert set(s.strategies) == {"rbac", "short"}
    assert s.strategies["rbac"].base == "rbac" and s.strategies["short"].ttl == 300
    assert set(ScenarioBuilder("y", presets=False).build().strategies) == set(PRESET_NAMES)
    # a preset can be tuned in place
    s = ScenarioBuilder("z").strategy("zsp", ttl="1h", binding="sender_constrained").build()
    assert s.strategies["zsp"].ttl == 3600 and s.strategies["zsp"].binding == "sender_constrained"


def test_unit_objects_accepted():
    s = (ScenarioBuilder("x").human("h").resource("r").tool("api", ops=["read:r"])
         .agent("a", owner="h", tasks=["t"]).task("t", steps=[("api:read:r", exponential("30s"))])
         .threat("secret_leak", principal="a", at=exponential("1h"), attacker_delay=0).build())
    assert s.tasks[0].steps[0].duration == Exponential(exponential=30)
    assert s.threats[0].at == Exponential(exponential=3600)


def test_set_by_dotted_path():
    s = demo().set("agents.bot.behaviour.discovery_probability", 0.4).set("strategies.zsp.ttl", "15m").build()
    assert s.index().agents["bot"].behaviour.discovery_probability == 0.4
    assert s.strategies["zsp"].ttl == 900
    with pytest.raises(InputError, match="did you mean 'agents'"):
        demo().set("agnets.bot.owner", "bob")


def test_build_reports_bad_references_with_nearest_name():
    b = ScenarioBuilder("x").human("alice").agent("a", owner="alcie")
    with pytest.raises(InputError) as info:
        b.build()
    (problem,) = info.value.problems
    assert problem.location == "agents.0.owner"
    assert problem.message == "unknown human 'alcie'" and problem.suggestion == "did you mean 'alice'?"
    assert "<builder x>" in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "text"),
    [
        (lambda b: b.task("u", rate="-1/h", steps=["crm-api:read:crm-db"]), "a rate cannot be negative"),
        (lambda b: b.threat("secret_leak", principal="bot", at="-1h"), "a duration cannot be negative"),
        (lambda b: b.threat("secret_leek", principal="bot", at="1h"), "did you mean 'secret_leak'"),
        (lambda b: b.threat("runtime_discovery", probability=1.5), "less than or equal to 1"),
        (lambda b: b.resource("x", sensitivity="secret"), "resources.2"),
        (lambda b: b.tool("t2", ops=["read:nowhere"]), "unknown resource 'nowhere'"),
        (lambda b: b.tool("t3", ops=["readcrm-db"]), "tools.2.operations.0 (t3)"),
        (lambda b: b.role("r2", grants=["crm-api:delete:crm-db"]), "exposes no operation delete"),
        (lambda b: b.agent("bot", owner="alice"), "duplicate id 'bot'"),
        (lambda b: b.agent("x", owner="alice", colour="red"), "unknown key 'colour'"),
        (lambda b: b.task("u", steps=[]), "steps"),
        (lambda b: b.strategy("s", base="strict"), "strategies.s.base"),
        (lambda b: b.run(replications=0), "run.replications"),
    ],
)
def test_build_rejects_bad_values(mutate, text):
    b = demo()
    mutate(b)
    with pytest.raises(InputError) as info:
        b.build()
    assert text in str(info.value)


def test_to_dict_is_a_copy_and_to_yaml_round_trips(tmp_path):
    b = demo()
    data = b.to_dict()
    data["agents"].clear()
    assert len(b.to_dict()["agents"]) == 2
    path = tmp_path / "demo.yaml"
    path.write_text(b.to_yaml())
    assert yaml.safe_load(path.read_text())["name"] == "demo"
    from_file = load_scenario(path)
    assert from_file == b.build()


def test_from_scenario_extends_a_loaded_file():
    base = load_scenario(ROOT / "scenarios" / "leaked_key.yaml")
    b = ScenarioBuilder.from_scenario(base)
    first = base.agents[0]
    b.agent("second-bot", owner=first.owner, roles=first.roles, tasks=first.tasks)
    s = b.build()
    assert [a.id for a in s.agents] == [a.id for a in base.agents] + ["second-bot"]
    assert s.tasks == base.tasks and s.threats[0].at == base.threats[0].at
    assert math.isclose(s.run.horizon, base.run.horizon)
    assert "second-bot" not in base.index().agents  # the original is untouched


def test_from_dict():
    raw = demo().to_dict()
    s = ScenarioBuilder.from_dict(raw).human("carol").build()
    assert "carol" in s.index().humans and len(raw["humans"]) == 2


def test_validate_data_is_what_build_uses():
    b = demo()
    assert validate_data(b.to_dict()) == b.build()
