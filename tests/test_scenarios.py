"""The scenario pack: every file validates, is documented and tagged, and checks itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from nhisim.experiments.check import check, failures
from nhisim.scenario.loader import load_scenario
from nhisim.scenario.models import DelegateStep
from nhisim.sim.engine import Simulation

ROOT = Path(__file__).resolve().parents[1]
PACK = sorted((ROOT / "scenarios").glob("*.yaml"))
HEADER = ("What it shows:", "Threat tags:", "Expected result:", "Knobs worth changing in class:")

# the stories the pack must tell, by file
STORIES = ["leaked_key", "delegation_depth", "confused_deputy", "goal_hijack", "shared_account", "rogue_agent",
           "orphaned_credential", "identity_spoofing", "issuer_outage", "approval_flood", "dev_prod_identity",
           "memory_cached_credential", "tool_discovery", "enterprise"]


def test_the_pack_is_complete():
    names = {p.stem for p in PACK}
    assert len(PACK) >= 15
    assert set(STORIES) <= names


@pytest.mark.parametrize("path", PACK, ids=[p.stem for p in PACK])
def test_scenario_validates_and_is_documented(path):
    scenario = load_scenario(path)
    header = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    text = "\n".join(header)
    for part in HEADER:
        assert part in text, f"{path.name}: header lacks {part!r}"
    tags = scenario.tags
    assert tags.maestro and tags.owasp_agentic and tags.owasp_asi, f"{path.name}: untagged"
    assert scenario.threats, f"{path.name}: no threat"
    assert len(scenario.expectations) >= 3, f"{path.name}: too few expectations"
    assert len(scenario.strategies) >= 2


@pytest.mark.parametrize("path", PACK, ids=[p.stem for p in PACK])
def test_scenario_is_small(path):
    """A proxy for speed that does not depend on the machine: events per run."""
    scenario = load_scenario(path)
    limit = 8000 if path.stem in ("enterprise", "mixed_estate") else 4000  # the forty-agent estate, twice
    for strategy in scenario.strategies:
        rows = len(Simulation(scenario, strategy, seed=3).run())
        assert rows < limit, f"{path.name} under {strategy}: {rows} events"


def test_enterprise_is_an_estate():
    scenario = load_scenario(ROOT / "scenarios" / "enterprise.yaml")
    assert 30 <= len(scenario.agents) <= 60
    owners = {a.owner for a in scenario.agents}
    assert len(owners) >= 6
    chains = [t for t in scenario.tasks if t.arrival_rate > 0 and any(isinstance(s, DelegateStep) for s in t.steps)]
    assert len(chains) >= 3
    assert scenario.shared_accounts and len(scenario.shared_accounts[0].holders) >= 3
    kinds = {t.kind for t in scenario.threats}
    assert {"secret_leak", "agent_hijack", "runtime_discovery"} <= kinds
    assert 8 * 3600 <= scenario.run.horizon <= 12 * 3600


def test_the_whole_pack_checks_itself():
    frame = check(PACK, jobs=None)
    failed = failures(frame)
    report = "\n".join(f"{r.scenario}: {r.check} {r.item} [{r.strategy}] -> {r.detail} (p={r.p_value})"
                       for r in failed.itertuples())
    assert failed.empty, "\n" + report
    assert set(frame["scenario"]) == {load_scenario(p).name for p in PACK}
