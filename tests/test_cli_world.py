"""`nhisim graph` and `nhisim analyze` as a user runs them."""

from __future__ import annotations

import json

import networkx as nx
import pytest
from cli_helpers import run_cli

SCENARIO = "scenarios/leaked_key.yaml"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    return run_cli(list(args), capsys)


def test_analyze_principal_explains_every_hop(capsys):
    code, out, _ = cli(capsys, "analyze", SCENARIO, "--principal", "support-bot")
    assert code == 0
    assert "blast radius 190" in out and "has role support" in out


def test_analyze_resource_and_json(capsys):
    code, out, _ = cli(capsys, "analyze", SCENARIO, "--resource", "crm-db", "--json")
    rows = json.loads(out)["result"]["rows"]
    assert code == 0 and any("support-bot" in str(r.values()) for r in rows)


def test_analyze_unknown_principal_suggests_the_nearest(capsys):
    code, _, err = cli(capsys, "analyze", SCENARIO, "--principal", "suport-bot")
    assert code == 2 and "did you mean 'support-bot'" in err and "Traceback" not in err


def test_analyze_under_a_strategy_follows_its_delegation(capsys):
    # pass-through delegation lets intake have billing act for it (the confused deputy); token exchange does not
    estate = "scenarios/confused_deputy.yaml"
    code, passing, _ = cli(capsys, "analyze", estate, "--strategy", "rbac", "--json")
    assert code == 0
    code, exchanging, _ = cli(capsys, "analyze", estate, "--strategy", "rbac_exchange", "--json")
    assert code == 0
    top = max(json.loads(passing)["result"]["rows"], key=lambda r: r["blast_radius"])
    same = next(r for r in json.loads(exchanging)["result"]["rows"] if r["agent"] == top["agent"])
    assert top["escalation"] > 0 and same["escalation"] == 0
    code, _, err = cli(capsys, "analyze", estate, "--strategy", "zsq")
    assert code == 2 and "did you mean 'zsp'" in err


@pytest.mark.parametrize("fmt", ["png", "svg", "graphml", "opengraph"])
def test_graph_writes_each_format(capsys, tmp_path, fmt):
    out = tmp_path / f"estate.{'json' if fmt == 'opengraph' else fmt}"
    code, _, _ = cli(capsys, "graph", SCENARIO, "--format", fmt, "--out", str(out))
    assert code == 0 and out.stat().st_size > 0
    if fmt == "graphml":
        assert "agent:support-bot" in nx.read_graphml(out).nodes
    if fmt == "opengraph":
        data = json.loads(out.read_text())
        assert data["graph"]["nodes"] and data["graph"]["edges"]


def test_graph_unknown_format_is_a_clear_error(capsys, tmp_path):
    code, _, err = cli(capsys, "graph", SCENARIO, "--format", "pgn", "--out", str(tmp_path / "x.pgn"))
    assert code == 2 and "did you mean 'png'" in err
