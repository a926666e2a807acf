"""One theft of many principals: a store holding several principals' credentials is copied, and one
attacker (one incident, one detection, one response) holds them all."""

from __future__ import annotations

import pytest
from engine_fixtures import build, shared_estate

from nhisim.errors import InputError
from nhisim.metrics import compute_metrics
from nhisim.sim.engine import Simulation
from nhisim.world.analysis import threat_potential

DETECTION = {"monitoring": "advanced", "levels": {"advanced": {"baseline_delay": {"fixed": "1h"}}},
             "alert_detection_probability": 0.0, "automated_revocation_latency": {"fixed": "5s"}}


def breach(**kw) -> dict:
    return {"id": "breach", "kind": "store_breach", "store": "a vendor's token store",
            "principals": ["agent0", "agent1", "agent2"], "at": "1h", "attacker_delay": 0, **kw}


def estate(threats: list[dict], **strategies) -> dict:
    """Three agents, each reaching its own database (their shared account is not in use under rbac)."""
    return shared_estate(threats=threats, detection=DETECTION, run={"horizon": "4h"},
                         strategies={"rbac": {"base": "rbac", "revocation": "automated"}, **strategies})


def run(data: dict, strategy: str = "rbac", seed: int = 1):
    log = Simulation(build(data), strategy, seed=seed).run()
    return log.to_frame(), compute_metrics(log.columns())


def test_one_incident_holds_every_principals_credential():
    events, metrics = run(estate([breach()]))
    compromise = events[events.event == "compromise"]
    assert len(compromise) == 1 and compromise.incident.iloc[0] == "breach"
    acquired = events[events.event == "acquire"]
    assert set(acquired.principal) == {"agent0", "agent1", "agent2"} and set(acquired.incident) == {"breach"}
    _, one = run(estate([breach(principals=["agent0"])]))
    assert metrics["potential_blast_radius"] == 3 * one["potential_blast_radius"]  # the union of three grants
    assert metrics["blast_radius"] == 3 * one["blast_radius"]
    assert set(events[(events.event == "request") & events.malicious & (events.decision == "allow")].resource) \
        == {"db0", "db1", "db2"}


def test_one_detection_and_one_response_cover_them_all():
    events, metrics = run(estate([breach()]))
    assert (events.event == "detect").sum() == 1 and metrics["time_to_detect_s"] == pytest.approx(3600.0)
    revoked = events[(events.event == "revoke") & (events.code == "response")]
    assert set(revoked.principal) == {"agent0", "agent1", "agent2"} and revoked.t.nunique() == 1
    assert metrics["exposure_window_s"] == pytest.approx(3605.0)


def test_a_breach_of_minting_credentials_mints_as_each_principal():
    events, _ = run(estate([breach(credential="minting")], zsp_long={"base": "zsp", "identity_ttl": "1d"}),
                    "zsp_long")
    minted = events[(events.event == "issue") & events.malicious & (events.decision == "allow")]
    assert set(minted.principal) == {"agent0", "agent1", "agent2"}


def test_static_potential_is_the_union_of_the_leaks():
    scenario = build(estate([breach()]))
    static = threat_potential(scenario, scenario.threats[0], "rbac")
    events, _ = run(estate([breach()]))
    assert events[events.event == "compromise"].value.iloc[0] == pytest.approx(static)
    single = build(estate([breach(principals=["agent1"])]))
    assert static == 3 * threat_potential(single, single.threats[0], "rbac")


@pytest.mark.parametrize("principals, message", [
    (["agent0", "agentX"], "unknown agent, shared account or human 'agentX'"),
    (["agent0", "owner"], "human 'owner' holds no credential"),
    ([], "principals"),
])
def test_a_breach_names_principals_with_credentials(principals, message):
    with pytest.raises(InputError) as info:
        build(estate([breach(principals=principals)]))
    assert message in info.value.render()
