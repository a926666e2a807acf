"""The attacker's playbook (nhisim/sim/attacker.py): highest value first, drop what is
denied, keep re-using what works, give up after repeated denials."""

from __future__ import annotations

from engine_fixtures import build, support_estate

from nhisim.sim.engine import Simulation

NO_DETECTION = {"enabled": False}


def attempts(scenario, strategy, seed=1):
    events = Simulation(scenario, strategy, seed=seed).run().to_frame()
    malicious = events[(events.event == "request") & events.malicious]
    ops = list(zip(malicious.tool, malicious.action, malicious.resource, strict=True))
    return events, ops, list(malicious.value), list(malicious.decision)


def test_highest_value_first_then_it_keeps_using_what_works():
    leak = {"id": "leak", "kind": "secret_leak", "principal": "bot", "at": "2h", "attacker_delay": 0}
    scenario = build(support_estate(threats=[leak], detection=NO_DETECTION))
    _, ops, values, decisions = attempts(scenario, "rbac")
    first_tries = [values[ops.index(op)] for op in dict.fromkeys(ops)]
    assert len(first_tries) == 4  # every operation the stolen key's role grants
    assert first_tries == sorted(first_tries, reverse=True)
    assert ops[:4] == list(dict.fromkeys(ops))  # nothing repeated before everything was tried once
    assert set(decisions) == {"allow"} and len(ops) > 4  # then the same operations again (repeated exfiltration)


def test_a_denied_operation_is_never_tried_again():
    leak = {"id": "leak", "kind": "secret_leak", "principal": "bot", "at": "2h", "attacker_delay": 0}
    scenario = build(support_estate(threats=[leak], detection=NO_DETECTION))
    _, ops, _, decisions = attempts(scenario, "intent")
    denied = {op for op, decision in zip(ops, decisions, strict=True) if decision != "allow"}
    assert denied  # the stolen token's intent does not cover everything the attacker enumerates
    for op in denied:
        assert ops.count(op) == 1, f"{op} was tried again after a denial"


def test_it_gives_up_after_the_configured_denials_in_a_row():
    leak = {"id": "leak", "kind": "secret_leak", "principal": "bot", "at": "2h", "attacker_delay": 0}
    scenario = build(support_estate(threats=[leak], detection=NO_DETECTION, attacker={"give_up_after": 3},
                                    strategies={"rbac": "rbac", "ttl_only": {"base": "zsp", "revoke_at_task_end": False}}))
    events, _, _, decisions = attempts(scenario, "ttl_only")
    give_up = events[events.event == "give_up"]
    assert len(give_up) == 1 and "3 denials in a row" in give_up.reason.iloc[0]
    assert decisions[-3:] == ["deny"] * 3  # the token expired: three refusals, and it stops
    assert events[(events.event == "request") & events.malicious].t.max() <= give_up.t.iloc[0]
