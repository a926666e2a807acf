"""Secrets kept inside the estate: a read of a resource holding keys hands them over (harvesting);
where a key is kept (secret_storage) decides which resources hold it; benign readers keep copies;
static analysis counts what a harvested key reaches; narration tells the pivot."""

from __future__ import annotations

import pytest
from engine_fixtures import build, support_estate

from nhisim.errors import InputError
from nhisim.metrics import compute_metrics
from nhisim.reports.narrate import lines, narrate
from nhisim.scenario.validate import scenario_warnings
from nhisim.sim.engine import Simulation
from nhisim.world.analysis import all_blast_radii, blast_radius, threat_potential

NO_DETECTION = {"enabled": False}


def harvest_estate(secrets_in: str = "wiki", wiki_kind: str = "wiki", threats: list[dict] | None = None,
                   strategies: dict | None = None, **extra) -> dict:
    """The support bot may read a wiki its tasks never read (and tickets, which they do); the deploy
    service's key is written in ``secrets_in``; the deploy service can export the production database."""
    data = support_estate(detection=NO_DETECTION, run={"horizon": "6h"},
                          strategies=strategies or {"rbac": "rbac"}, **extra)
    data["resources"] += [{"id": "wiki", "kind": wiki_kind, "sensitivity": "low", "records": 10},
                          {"id": "prod-db", "sensitivity": "critical", "records": 5000}]
    for resource in data["resources"]:
        if resource["id"] == secrets_in:
            resource["secrets"] = ["svc"]
    data["tools"] += [{"id": "wiki-api", "operations": [{"action": "read", "resource": "wiki"}]},
                      {"id": "db", "operations": [{"action": "export", "resource": "prod-db"}]}]
    data["roles"][0]["grants"].append("wiki-api:read:wiki")
    data["roles"].append({"id": "deployer", "grants": ["db:export:prod-db"]})
    data["agents"][0]["tools"].append("wiki-api")
    data["agents"].append({"id": "svc", "owner": "alice", "roles": ["deployer"], "tools": ["db"]})
    data["threats"] = threats if threats is not None else [
        {"id": "leak", "kind": "secret_leak", "principal": "bot", "at": "1h", "attacker_delay": 0}]
    return data


def run(data: dict, strategy: str = "rbac", seed: int = 1):
    log = Simulation(build(data), strategy, seed=seed).run()
    return log.to_frame(), compute_metrics(log.columns())


def harvested(events):
    return events[(events.event == "acquire") & (events.decision == "harvested")]


# --------------------------------------------------------------------------- the attacker reads a key


def test_the_attacker_reads_a_key_and_pivots_with_it():
    events, metrics = run(harvest_estate())
    rows = harvested(events)
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row.principal, row.resource, row.code) == ("svc", "wiki", "static_key")
    assert row.reason.startswith("the attacker read wiki and obtained svc's key")
    assert metrics["credentials_harvested"] == 1
    used = events[(events.event == "request") & events.malicious & (events.credential == row.credential)]
    assert (used.resource == "prod-db").all() and (used.decision == "allow").any()
    _, without = run(harvest_estate(secrets_in="none"))
    assert without["credentials_harvested"] == 0
    assert metrics["blast_radius"] == without["blast_radius"] + 150  # export of a critical database
    # the harvested key is counted in the potential at the compromise (the attacker could read it)
    assert metrics["potential_blast_radius"] == without["potential_blast_radius"] + 150


def test_reads_of_what_may_hold_keys_come_first():
    events, _ = run(harvest_estate())
    first = events[(events.event == "request") & events.malicious].iloc[0]
    assert (first.action, first.resource) == ("read", "wiki")  # before the critical CRM export


@pytest.mark.parametrize("storage, kind, expected", [
    ("config", "wiki", 1),  # written in every resource that lists it
    ("vault", "wiki", 0),  # only in vaults: the wiki does not hold it
    ("vault", "vault", 1),  # ... and the vault does
    ("broker", "vault", 0),  # injected at call time: never at rest
])
def test_secret_storage_decides_which_resources_hold_the_key(storage, kind, expected):
    strategies = {"s": {"base": "rbac", "overrides": [{"agents": ["svc"], "secret_storage": storage}]}}
    _, metrics = run(harvest_estate(wiki_kind=kind, strategies=strategies), "s")
    assert metrics["credentials_harvested"] == expected


def test_a_jit_principal_keeps_nothing_at_rest():
    strategies = {"s": {"base": "rbac", "overrides": [{"agents": ["svc"], "base": "zsp"}]}}
    events, metrics = run(harvest_estate(strategies=strategies), "s")
    assert metrics["credentials_harvested"] == 0 and harvested(events).empty


def test_the_secret_storage_of_the_keys_owner_applies_not_the_readers():
    strategies = {"s": {"base": "rbac", "overrides": [{"agents": ["bot"], "secret_storage": "broker"}]}}
    _, metrics = run(harvest_estate(strategies=strategies), "s")
    assert metrics["credentials_harvested"] == 1  # svc's own storage (config) keeps it in the wiki


def test_a_sender_constrained_key_is_harvested_but_useless():
    strategies = {"s": {"base": "rbac", "overrides": [{"agents": ["svc"], "binding": "sender_constrained"}]}}
    events, metrics = run(harvest_estate(strategies=strategies), "s")
    row = harvested(events).iloc[0]
    assert "sender-constrained: useless" in row.reason and row.value == 0
    assert not ((events.event == "request") & events.malicious & (events.resource == "prod-db")
                & (events.decision == "allow")).any()
    _, plain = run(harvest_estate())
    assert metrics["potential_blast_radius"] == plain["potential_blast_radius"] - 150


# --------------------------------------------------------------------------- benign readers keep copies


def copying_estate(threat: dict) -> dict:
    return harvest_estate(secrets_in="tickets", threats=[threat])


@pytest.mark.parametrize("threat", [
    {"id": "leak", "kind": "secret_leak", "principal": "bot", "at": "3h", "attacker_delay": "1h"},
    {"id": "hijack", "kind": "agent_hijack", "agent": "bot", "window": {"start": "3h", "duration": "1h"}},
], ids=["leak", "hijack"])
def test_an_agent_that_read_a_key_hands_it_over_with_its_context(threat):
    events, metrics = run(copying_estate(threat))
    compromise = events[events.event == "compromise"].t.iloc[0]
    rows = harvested(events)
    first = rows.iloc[0]
    assert first.t == compromise and first.resource == "tickets"  # taken from the bot's context at once
    assert first.reason.startswith("bot had read tickets, and the attacker took svc's key from its context")
    assert metrics["credentials_harvested"] == 1


def test_a_minting_leak_hands_over_no_context():
    threat = {"id": "leak", "kind": "secret_leak", "principal": "bot", "at": "3h", "credential": "minting",
              "attacker_delay": "1h"}
    data = copying_estate(threat)
    data["strategies"] = {"s": {"base": "zsp", "overrides": [{"agents": ["svc"], "base": "rbac"}]}}
    events, _ = run(data, "s")
    compromise = events[events.event == "compromise"].t.iloc[0]
    rows = harvested(events)
    assert not (rows.t == compromise).any()  # nothing from its context; it may still read tickets itself


# --------------------------------------------------------------------------- static analysis


def test_static_analysis_counts_what_a_harvested_key_reaches():
    scenario = build(harvest_estate())
    radius = blast_radius(scenario, "bot", strategy="rbac")
    reached = {(op.action, op.resource): op for op in radius.operations}
    assert ("export", "prod-db") in reached
    path = reached[("export", "prod-db")].paths[0]
    assert "harvest" in path.mechanisms
    assert any(h.type == "stores_secret" and "wiki holds svc's key" in h.reason for h in path.hops)
    frame = all_blast_radii(scenario, strategy="rbac").set_index("agent")
    assert frame.loc["bot", "blast_radius"] == radius.value
    broker = scenario.model_copy(update={"strategies": build(harvest_estate(
        strategies={"b": {"base": "rbac", "secret_storage": "broker"}})).strategies})
    assert blast_radius(broker, "bot", strategy="b").value == radius.value - 150


def test_static_potential_of_a_leak_counts_the_harvest_and_equals_the_run():
    scenario = build(harvest_estate())
    static = threat_potential(scenario, scenario.threats[0], "rbac")
    events, _ = run(harvest_estate())
    assert events[events.event == "compromise"].value.iloc[0] == pytest.approx(static)


def test_harvesting_follows_keys_to_a_fixed_point():
    """A harvested key reads another resource holding another key."""
    data = harvest_estate()
    data["resources"].append({"id": "ci-config", "sensitivity": "low", "secrets": ["ops"]})
    data["resources"].append({"id": "billing", "sensitivity": "critical"})
    data["tools"] += [{"id": "ci", "operations": [{"action": "read", "resource": "ci-config"}]},
                      {"id": "bill", "operations": [{"action": "export", "resource": "billing"}]}]
    data["roles"][1]["grants"].append("ci:read:ci-config")
    data["roles"].append({"id": "ops", "grants": ["bill:export:billing"]})
    data["agents"].append({"id": "ops", "owner": "alice", "roles": ["ops"], "tools": ["bill"]})
    scenario = build(data)
    reached = {op.resource for op in blast_radius(scenario, "bot", strategy="rbac").operations}
    assert {"prod-db", "billing"} <= reached
    events, metrics = run(data)
    assert set(harvested(events).principal) == {"svc", "ops"} and metrics["credentials_harvested"] == 2
    assert events[events.event == "compromise"].value.iloc[0] == pytest.approx(
        threat_potential(scenario, scenario.threats[0], "rbac"))


# --------------------------------------------------------------------------- narration


def test_narration_tells_the_pivot():
    data = harvest_estate()
    events, _ = run(data)
    story = "\n".join(lines(narrate(events, build(data), "rbac")))
    assert "the attacker read wiki and obtained svc's key (static key" in story
    assert "PIVOT (incident leak): the attacker read wiki and obtained svc's key" in story
    assert "reached prod-db with it" in story


# --------------------------------------------------------------------------- validation and knob rules


@pytest.mark.parametrize("secret, message", [
    ("svx", "unknown agent, shared account or human 'svx'"),
    ("alice", "human 'alice' holds no credential"),
])
def test_a_secret_must_name_a_principal_with_a_key(secret, message):
    data = harvest_estate()
    data["resources"][0]["secrets"] = [secret]
    with pytest.raises(InputError) as info:
        build(data)
    assert message in info.value.render() and "resources.0.secrets.0" in info.value.render()


def test_secret_storage_warns_where_it_cannot_apply():
    quiet = build(harvest_estate(strategies={"v": {"base": "rbac", "secret_storage": "vault"}}))
    assert not [p for p in scenario_warnings(quiet) if "secret_storage" in p.message]
    nothing_kept = build(harvest_estate(secrets_in="none", strategies={"v": {"base": "rbac", "secret_storage": "vault"}}))
    assert any("no resource lists secrets" in p.message for p in scenario_warnings(nothing_kept))
    jit = build(harvest_estate(strategies={"z": {"base": "zsp", "secret_storage": "vault"}}))
    assert any("never at rest" in p.message for p in scenario_warnings(jit))
