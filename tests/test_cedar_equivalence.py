"""The Cedar engine gives the native evaluator's decisions, request by request and run by run."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from engine_fixtures import build, draw_attacked_estate, payments_estate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhisim.scenario.arguments import to_ticks
from nhisim.scenario.generate import generate_estate
from nhisim.scenario.loader import load_scenario
from nhisim.sim.cedar import CedarEvaluator, clear_caches
from nhisim.sim.compiled import compile_world
from nhisim.sim.credentials import Credential
from nhisim.sim.engine import Simulation
from nhisim.sim.pep import NativeEvaluator
from nhisim.strategies import preset

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ["shared_account", "rbac", "zsp", "intent"]
KINDS = ["static_key", "shared_key", "jit_token", "delegated_token", "workload_identity"]

# --------------------------------------------------------------------------- request by request

_ESTATES: dict[int, tuple] = {}
_PAIRS: dict[tuple, tuple] = {}


def _estate(seed: int):
    """A generated estate; odd seeds add parameters to the first tool's operations and constrain them in
    every intent that declares them (so requests carry arguments the intents check)."""
    if seed not in _ESTATES:
        scenario = generate_estate(agents=7, tools=4, resources=6, fanout=2, depth=2, shared_share=0.4, seed=seed)
        if seed % 2:
            scenario = build(_with_arguments(scenario.model_dump(mode="json", exclude_unset=True)))
        _ESTATES[seed] = (scenario, compile_world(scenario))
    return _ESTATES[seed]


def _with_arguments(data: dict) -> dict:
    """Every operation takes an amount and a recipient; every intent constrains what it declares."""
    for tool in data["tools"]:
        for op in tool["operations"]:
            op["parameters"] = {"amount": {"type": "number", "default": 10, "attacker": 99999.5},
                                "recipient": {"type": "text", "default": "a@corp.example",
                                              "attacker": "x@evil.example"}}
    for task in data["tasks"]:
        declared = [g if isinstance(g, str) else f"{g['tool']}:{g['action']}:{g['resource']}"
                    for g in task.get("intent", {}).get("operations", [])]
        if declared:
            task["intent"]["constraints"] = {g: ["amount <= 500.25", "recipient in [*@corp.example, ops@x.example]"]
                                             for g in declared}
    return data


AMOUNTS = [0, to_ticks(500.25), to_ticks(500.2501), to_ticks(-3), to_ticks(99999.5)]
RECIPIENTS = ["a@corp.example", "ops@x.example", "x@evil.example", "", "*@corp.example"]


def _pair(seed: int, strategy_name: str, knobs: tuple):
    """A native and a Cedar evaluator over the same world, quarantine and alert tables."""
    key = (seed, strategy_name, knobs)
    if key not in _PAIRS:
        scenario, world = _estate(seed)
        strategy = preset(strategy_name).with_knobs(**dict(knobs))
        quarantined: dict[str, float] = {}
        alerts: dict[str, int] = {}
        _PAIRS[key] = (NativeEvaluator(strategy, world, quarantined, alerts),
                       CedarEvaluator(strategy, world, quarantined, alerts, scenario=scenario),
                       quarantined, alerts)
    return _PAIRS[key]


NOW = 1000.0
# times relative to now: already past, exactly now (counts as past), later, never
TIMES = st.sampled_from([NOW - 50.0, NOW, NOW + 50.0, math.inf])


@st.composite
def requests(draw):
    seed = draw(st.integers(0, 3))
    scenario, world = _estate(seed)
    strategy_name = draw(st.sampled_from(PRESETS))
    knobs = []
    if draw(st.booleans()):
        knobs.append(("runtime_check", draw(st.sampled_from(["scope", "intent"]))))
        knobs.append(("out_of_intent", draw(st.sampled_from(["deny", "escalate", "monitor", "redeclare"]))))
        knobs.append(("risk_escalation_alerts", draw(st.sampled_from([None, 1, 2, 3]))))
    native, cedar, quarantined, alerts = _pair(seed, strategy_name, tuple(knobs))

    agents = sorted(world.agents)
    identities = agents + sorted(world.accounts)
    presenters = agents + ["attacker:leak", "attacker:hijack"]
    ops = list(range(len(world.op_keys)))
    tasks = sorted(world.tasks)
    destinations = sorted({d for t in world.tasks.values() for d in t.destinations} | {"internal", "external"})

    quarantined.clear()
    for agent in draw(st.lists(st.sampled_from(agents), max_size=2, unique=True)):
        quarantined[agent] = draw(TIMES)
    alerts.clear()
    for agent in draw(st.lists(st.sampled_from(agents), max_size=3, unique=True)):
        alerts[agent] = draw(st.integers(0, 5))

    out = []
    for i in range(draw(st.integers(1, 6))):
        subject = draw(st.sampled_from(identities))
        presenter = draw(st.sampled_from(presenters))
        holders = set(draw(st.lists(st.sampled_from(agents), max_size=3)))
        if draw(st.booleans()):
            holders.add(presenter)
        cred_intent = draw(st.one_of(st.none(), st.sampled_from(tasks)))
        expires = draw(TIMES)
        cred = Credential(
            id=f"c{i}", kind=draw(st.sampled_from(KINDS)), subject=subject, holders=holders,
            scope=frozenset(draw(st.lists(st.sampled_from(ops), max_size=len(ops)))),
            issued_at=0.0, expires_at=expires, binding=draw(st.sampled_from(["bearer", "sender_constrained"])),
            intent=None if cred_intent is None else world.tasks[cred_intent],
            chain=tuple(draw(st.lists(st.sampled_from(agents), max_size=3))),
            effective_at=draw(TIMES), revoked_by_response=draw(st.booleans()),
            mfa=draw(st.booleans()),  # a human's key that needs a second factor
            mfa_passed=set(draw(st.lists(st.sampled_from(presenters), max_size=2))) or None,
        )
        if draw(st.booleans()) and cred.scope:  # often ask for something the credential covers
            op = draw(st.sampled_from(sorted(cred.scope)))
        else:
            op = draw(st.sampled_from(ops))
        task = draw(st.one_of(st.none(), st.sampled_from(tasks)))
        intent = None if task is None else world.tasks[task]
        if intent is not None and draw(st.booleans()):  # an intent re-declared during the task
            extra = draw(st.sampled_from(ops))
            intent = world.declared_intent(intent, intent.intent | {extra}, max(intent.ceiling, world.op_level[extra]),
                                           intent.destinations | {"external"},
                                           {k: v for k, v in intent.constraints.items() if k != extra},
                                           intent.redeclared | {extra})
        args = None
        if world.op_params[op]:
            args = (draw(st.sampled_from(AMOUNTS)), draw(st.sampled_from(RECIPIENTS)))
        out.append((presenter, cred, op, draw(st.sampled_from(destinations)), intent, args))
    return native, cedar, out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_cedar_and_native_decide_every_request_alike(case):
    native, cedar, reqs = case
    for presenter, cred, op, destination, intent, args in reqs:
        expected = native.decide(NOW, presenter, cred, op, destination, intent, args)
        got = cedar.decide(NOW, presenter, cred, op, destination, intent, args)
        assert got == expected, (native.strategy.name, native.strategy.knobs(), presenter, cred, op, destination,
                                 intent and intent.id, args)
        # the same request again comes from the cache, and is the same
        assert cedar.decide(NOW, presenter, cred, op, destination, intent, args) == expected


def test_argument_and_drift_outcomes_are_reached_by_the_property_test_inputs():
    """The constrained estate and the drift modes are not vacuous: their outcomes all occur."""
    scenario, world = _estate(1)
    task = next(t for t in world.tasks.values() if t.constraints)
    op = min(task.constraints)
    agent = sorted(world.agents)[0]
    cred = Credential(id="c", kind="jit_token", subject=agent, holders={agent}, scope=frozenset([op]), issued_at=0.0,
                      expires_at=math.inf, binding="bearer", intent=task)
    dest = sorted(task.destinations)[0]
    seen = {}
    for mode in ("deny", "escalate", "monitor", "redeclare"):
        strategy = preset("intent").with_knobs(out_of_intent=mode, risk_escalation_alerts=None)
        native = NativeEvaluator(strategy, world, {}, {})
        cedar = CedarEvaluator(strategy, world, {}, {}, scenario=scenario)
        for args in ((to_ticks(500.25), "ops@x.example"), (to_ticks(500.2501), "a@corp.example"),
                     (0, "x@evil.example")):
            got = cedar.decide(NOW, agent, cred, op, dest, None, args)
            assert got == native.decide(NOW, agent, cred, op, dest, None, args)
            seen.setdefault(mode, set()).add(got[:2])
    assert seen["deny"] == {("allow", "allowed"), ("deny", "intent_argument")}
    assert seen["escalate"] == {("allow", "allowed"), ("escalate", "intent_argument")}
    assert seen["monitor"] == {("allow", "allowed"), ("allow", "monitored")}
    assert seen["redeclare"] == {("allow", "allowed"), ("redeclare", "intent_argument")}
    # re-declared for that operation, the intent no longer constrains its arguments
    freed = world.declared_intent(task, task.intent, task.ceiling, task.destinations,
                                  {k: v for k, v in task.constraints.items() if k != op}, frozenset([op]))
    strategy = preset("intent")
    native = NativeEvaluator(strategy, world, {}, {})
    cedar = CedarEvaluator(strategy, world, {}, {}, scenario=scenario)
    bound = Credential(**{**{f: getattr(cred, f) for f in ("id", "kind", "subject", "holders", "scope", "issued_at",
                                                           "expires_at", "binding")}, "intent": freed})
    got = cedar.decide(NOW, agent, bound, op, dest, None, (0, "x@evil.example"))
    assert got == native.decide(NOW, agent, bound, op, dest, None, (0, "x@evil.example")) and got[1] == "allowed"


def test_every_decision_code_is_reached_by_the_property_test_inputs():
    """The generator is not vacuous: the native checks all fire on the estates it draws."""
    scenario, world = _estate(0)
    strategy = preset("intent").with_knobs(out_of_intent="escalate", risk_escalation_alerts=1)
    quarantined, alerts = {"x": 0.0}, {}
    native = NativeEvaluator(strategy, world, quarantined, alerts)
    cedar = CedarEvaluator(strategy, world, quarantined, alerts, scenario=scenario)
    agent = sorted(world.agents)[0]
    task = next(t for t in world.tasks.values() if t.intent)
    op = min(task.intent)
    high = next((o for o in range(len(world.op_keys)) if world.op_level[o] >= 2 and o not in task.intent), None)
    base = dict(id="c", kind="jit_token", subject=agent, holders={agent}, scope=frozenset(range(len(world.op_keys))),
                issued_at=0.0, expires_at=math.inf, binding="sender_constrained", intent=task)
    cases = {
        "expired": (Credential(**{**base, "expires_at": 10.0}), agent, op, "internal"),
        "revoked": (Credential(**base, effective_at=10.0), agent, op, "internal"),
        "revoked_response": (Credential(**base, effective_at=10.0, revoked_by_response=True), agent, op, "internal"),
        "sender_constraint": (Credential(**base), "attacker:x", op, "internal"),
        "mfa_required": (Credential(**{**base, "binding": "bearer"}, mfa=True), "attacker:x", op, "internal"),
        "scope": (Credential(**{**base, "scope": frozenset()}), agent, op, "internal"),
        "intent_destination": (Credential(**base), agent, op, "nowhere"),
        "allowed": (Credential(**base), agent, op, sorted(task.destinations)[0]),
    }
    if high is not None:
        cases["intent_operation"] = (Credential(**base), agent, high, "internal")
    for code, (cred, presenter, op_, dest) in cases.items():
        got = cedar.decide(NOW, presenter, cred, op_, dest, None)
        assert got == native.decide(NOW, presenter, cred, op_, dest, None)
        assert got[1] == code, (code, got)
    quarantined[agent] = 0.0
    assert cedar.decide(NOW, agent, Credential(**base), op, "internal", None)[1] == "quarantined"


# --------------------------------------------------------------------------- run by run


def _threatened_estate() -> dict:
    scenario = generate_estate(agents=10, tools=4, resources=8, fanout=2, depth=2, shared_share=0.4, seed=3)
    agents = [a.id for a in scenario.agents]
    delegator = next(a for a in scenario.agents if a.may_delegate_to)
    deputy = delegator.may_delegate_to[0]
    deputy_task = next(t for t in scenario.tasks if t.id in {t_ for a in scenario.agents if a.id == deputy
                                                             for t_ in a.tasks})
    data = scenario.model_dump(mode="json", exclude_unset=True)
    threats = [
        {"id": "leak", "kind": "secret_leak", "principal": agents[1], "at": "40m", "attacker_delay": "2m"},
        {"id": "mint", "kind": "secret_leak", "principal": agents[2], "at": "1h", "credential": "minting",
         "attacker_delay": 0},
        {"id": "hijack", "kind": "agent_hijack", "agent": delegator.id, "window": {"start": "30m", "duration": "1h"}},
        {"id": "deputy", "kind": "delegation_abuse", "agent": delegator.id, "deputy": deputy,
         "task": deputy_task.id, "window": {"start": "1h", "duration": "30m"}},
        {"id": "overreach", "kind": "runtime_discovery", "probability": 0.4},
        {"id": "orphan", "kind": "improper_offboarding", "agent": agents[3], "retired_at": "20m",
         "leak_after": "10m", "attacker_delay": 0},
        {"id": "down", "kind": "issuer_outage", "window": {"start": "90m", "duration": "10m"}},
    ]
    if scenario.shared_accounts:
        account = scenario.shared_accounts[0]
        threats.append({"id": "shared", "kind": "shared_credential_compromise", "account": account.id,
                        "via": account.holders[0], "at": "50m", "attacker_delay": "1m"})
    strategies = {name: {"base": name} for name in PRESETS}
    strategies["intent_escalate"] = {"base": "intent", "out_of_intent": "escalate", "risk_escalation_alerts": 1}
    strategies["zsp_bound"] = {"base": "zsp", "binding": "sender_constrained", "propagation": "at_expiry"}
    data.update(threats=threats, strategies=strategies, run={"horizon": "3h"},
                detection={"monitoring": "advanced", "alert_detection_probability": 0.5})
    return data


THREATENED = build(_threatened_estate())
LEAKED_KEY = load_scenario(ROOT / "scenarios" / "leaked_key.yaml")


def _same_run(scenario, strategy: str, seed: int) -> tuple[pd.DataFrame, Simulation]:
    clear_caches()  # Cedar really decides (no answers cached by an earlier run)
    native = Simulation(scenario, strategy, seed=seed, engine="native").run().to_frame()
    sim = Simulation(scenario, strategy, seed=seed, engine="cedar")
    cedar = sim.run().to_frame()
    pd.testing.assert_frame_equal(native, cedar)
    return native, sim


@pytest.mark.parametrize("strategy", PRESETS)
@pytest.mark.parametrize("seed", [1, 7])
def test_leaked_key_event_logs_are_identical_with_either_engine(strategy, seed):
    events, sim = _same_run(LEAKED_KEY, strategy, seed)
    assert sim.pep.cedar_calls > 0  # Cedar really decided
    assert (events.event == "request").sum() > 0


@pytest.mark.parametrize("strategy", [*PRESETS, "intent_escalate", "zsp_bound"])
def test_threatened_estate_event_logs_are_identical_with_either_engine(strategy):
    events, _ = _same_run(THREATENED, strategy, seed=11)
    requests = events[events.event == "request"]
    assert requests.malicious.any() and (~requests.malicious.astype(bool)).any()


def test_the_threatened_estate_exercises_many_decision_codes():
    codes = set()
    for strategy in [*PRESETS, "intent_escalate", "zsp_bound"]:
        events = Simulation(THREATENED, strategy, seed=11, engine="cedar").run().to_frame()
        codes |= set(events.loc[events.event == "request", "code"])
    assert {"allowed", "scope", "sender_constraint", "intent_operation"} <= codes, codes
    assert codes & {"expired", "revoked", "revoked_response", "quarantined"}, codes
    assert codes & {"approved", "rejected"}, codes  # escalations went to a human


def _drifting_estate() -> dict:
    """Payments under intent limits, with needed discoveries, goal switches, a cross-domain hand-off,
    a hijack and drawn amounts around the limit: every drift mode has work to do."""
    data = payments_estate(amount={"uniform": [0, 1000]}, limit=500)
    data["resources"].append({"id": "fx", "sensitivity": "low"})
    data["tools"].append({"id": "fx-api", "operations": [{"action": "read", "resource": "fx"}]})
    data["roles"].append({"id": "fx", "grants": ["fx-api:read:fx"]})
    data["humans"].append({"id": "partner"})
    data["agents"][0].update(tasks=["pay-invoice", "vendor-check"], may_delegate_to=["fx-bot"],
                             behaviour={"goal_switch_probability": 0.3})
    data["agents"].append({"id": "fx-bot", "owner": "partner", "roles": ["fx"], "tools": ["fx-api"],
                           "tasks": ["convert"], "domain": "partner"})
    data["roles"][0]["grants"].append("fx-api:read:fx")
    data["tasks"][0]["intent"]["operations"].append("fx-api:read:fx")
    data["tasks"][0]["steps"].insert(1, {"delegate": {"agent": "fx-bot", "task": "convert"}})
    data["tasks"] += [{"id": "vendor-check", "requested_by": "controller", "arrival_rate": "2/h",
                       "intent": {"operations": ["erp:read:vendors"]},
                       "steps": [{"call": "erp:read:vendors", "duration": "30s"}]},
                      {"id": "convert", "intent": {"operations": ["fx-api:read:fx"]},
                       "steps": [{"call": "fx-api:read:fx", "duration": "5s"}]}]
    data["tasks"][0]["arrival_rate"] = "20/h"
    data["threats"] = [{"id": "d", "kind": "runtime_discovery", "probability": 0.5, "needed_share": 0.5},
                       {"id": "hijack", "kind": "agent_hijack", "agent": "bot",
                        "window": {"start": "1h", "duration": "1h"}}]
    data["attacker"] = {"destination": "internal", "rate": "1/min"}
    data["detection"] = {"anomaly_alert_probability": 0.5, "alert_detection_probability": 0.2}
    data["redeclaration"] = {"policy_max_sensitivity": "critical"}
    data["strategies"] = {name: {"base": "intent", **knobs} for name, knobs in DRIFTING.items()}
    return data


DRIFTING = {
    "deny": {}, "escalate": {"out_of_intent": "escalate"}, "monitor": {"out_of_intent": "monitor"},
    "redeclare": {"out_of_intent": "redeclare", "lossy_hop": "own_authority"},
    "redeclare_human": {"out_of_intent": "redeclare", "redeclare_approver": "human", "intent_follows_switch": False},
}
DRIFTING_ESTATE = build(_drifting_estate())


@pytest.mark.parametrize("strategy", DRIFTING)
def test_drift_modes_arguments_switches_and_lossy_hops_are_identical_with_either_engine(strategy):
    events, sim = _same_run(DRIFTING_ESTATE, strategy, seed=5)
    assert sim.pep.cedar_calls > 0
    requests = events[events.event == "request"]
    assert requests.malicious.astype(bool).any()
    assert (events.event == "switch").any() and (events.event == "discover").any()
    if strategy.startswith("redeclare"):
        assert (events.event == "redeclare").any()
        assert "redeclared" in set(requests.code)


@st.composite
def estates_under_attack(draw):
    """A random small estate, its threats, and a random strategy (a preset with random knobs)."""
    data, _ = draw_attacked_estate(draw, agents=(3, 8), depth=(0, 2), latest=5000, max_delay=600,
                                   overreach=[0.1, 0.5])
    strategy = {"base": draw(st.sampled_from(PRESETS))}
    for knob, values in (("runtime_check", ["scope", "intent"]),
                         ("out_of_intent", ["deny", "escalate", "monitor", "redeclare"]),
                         ("redeclare_approver", ["policy", "human"]), ("lossy_hop", ["fail", "own_authority"]),
                         ("binding", ["bearer", "sender_constrained"]),
                         ("propagation", ["immediate", "cache", "at_expiry"]),
                         ("risk_escalation_alerts", [1, 2, 5])):
        if draw(st.booleans()):
            strategy[knob] = draw(st.sampled_from(values))
    data["strategies"] = {"drawn": strategy}
    return build(data), draw(st.integers(0, 1000))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates_under_attack())
def test_whole_runs_are_identical_with_either_engine_on_random_estates(case):
    scenario, seed = case
    _same_run(scenario, "drawn", seed)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_pack_scenario_runs_alike_with_either_engine(path):
    scenario = load_scenario(path)
    for strategy in scenario.strategies:
        native = Simulation(scenario, strategy, seed=5, engine="native").run().to_frame()
        cedar = Simulation(scenario, strategy, seed=5, engine="cedar").run().to_frame()
        pd.testing.assert_frame_equal(native, cedar, obj=f"{path.name} / {strategy}")
