"""What-if: one scenario before and after a change, paired on common random numbers."""

from __future__ import annotations

import json
import re

import pytest
from cli_helpers import run_cli
from engine_fixtures import build, shared_estate, support_estate

import nhisim
from nhisim.errors import InputError
from nhisim.experiments.whatif import changed_scenario, whatif
from nhisim.reports.whatif import write_whatif_report


def leak_estate():
    return build(support_estate(
        threats=[{"id": "leak", "kind": "secret_leak", "principal": "bot", "at": "1h", "attacker_delay": 0}],
        detection={"enabled": False}, run={"horizon": "4h", "replications": 6, "baseline": "rbac"}))


def test_the_variants_run_on_the_same_seeds():
    result = whatif(leak_estate(), set={"attacker.rate": "2/min"}, strategies=["rbac"], replications=4)
    assert result.before.runs["seed"].tolist() == result.after.runs["seed"].tolist()
    # a change that touches only the attacker leaves the benign work of every paired run alone
    row = result.summary(["tasks_completed"]).iloc[0]
    assert row["change"] == 0 and row["ci_low"] == row["ci_high"] == 0 and row["verdict"] == "same"


def test_removing_a_grant_shrinks_what_a_leaked_key_reaches():
    result = whatif(leak_estate(), remove=["grant:support:crm:export:crm-db"], strategies=["rbac"],
                    replications=6)
    summary = result.summary().set_index("metric")
    # export of a critical resource was the most valuable operation of the key: exact, every run
    assert summary.loc["potential_blast_radius", "change"] < 0
    assert summary.loc["potential_blast_radius", "ci_low"] == summary.loc["potential_blast_radius", "ci_high"]
    assert summary.loc["blast_radius", "verdict"] == "better"
    assert result.change == ["remove grant:support:crm:export:crm-db"]


def test_removing_a_holder_from_a_shared_account():
    estate = build(shared_estate(
        threats=[{"id": "breach", "kind": "shared_credential_compromise", "account": "svc-int", "via": "agent0",
                  "at": "1h", "attacker_delay": 0}], detection={"enabled": False}, run={"horizon": "6h"}))
    after = changed_scenario(estate, remove=["holder:svc-int:agent2"])
    assert [a.holders for a in after.shared_accounts] == [["agent0", "agent1"]]
    result = whatif(estate, remove=["holder:svc-int:agent2"], strategies=["shared_account"], replications=3)
    row = result.summary(["potential_blast_radius"]).iloc[0]
    assert row["after"] == pytest.approx(row["before"] * 2 / 3)  # the key no longer carries agent2's roles


@pytest.mark.parametrize("edit, needle", [
    ("role:bott:support", "did you mean 'bot'"),
    ("role:bot:supprt", "did you mean 'support'"),
    ("grant:support:crm:delete:crm-db", "is not a grant of support"),
    ("delegation:bot", "AGENT->DELEGATE"),
    ("edge:a:b", "write one of"),
])
def test_a_bad_edit_is_a_clear_error(edit, needle):
    with pytest.raises(InputError) as info:
        changed_scenario(leak_estate(), remove=[edit])
    assert needle in str(info.value)


def test_nothing_to_change_is_refused():
    with pytest.raises(InputError, match="nothing to change"):
        whatif(leak_estate())


def test_the_diff_report_escapes_scenario_text(tmp_path):
    estate = leak_estate().model_copy(update={"title": "<script>alert(1)</script> | pipes"})
    result = whatif(estate, set={"attacker.rate": "2/min"}, strategies=["rbac"], replications=2)
    page = write_whatif_report(result, tmp_path / "diff.html").read_text()
    md = write_whatif_report(result, tmp_path / "diff.md").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "blast radius" in page
    assert "<script>" not in md and "\\|" in md and "attacker.rate = 2/min" in md


def test_cli_whatif_on_the_enterprise_estate(tmp_path, capsys):
    code, out, _ = run_cli(["whatif", "scenarios/leaked_key.yaml", "--set", "strategies.rbac.rotation=7d",
                            "-r", "3", "--strategies", "rbac", "--report", str(tmp_path / "d.html"), "--json"],
                           capsys)
    assert code == 0
    payload = json.loads(out)["result"]
    assert payload["change"] == ["strategies.rbac.rotation = 7d"]
    row = next(r for r in payload["summary"] if r["metric"] == "exposure_window_s")
    assert row["after"] <= row["before"]  # a key rotated weekly dies sooner
    assert (tmp_path / "d.html").is_file()
    assert nhisim.whatif is whatif


def _code_spans(markdown: str) -> list[str]:
    """The text of every inline code span, as a CommonMark renderer shows it."""
    import html

    from markdown_it import MarkdownIt

    return [html.unescape(c) for c in re.findall(r"<code>(.*?)</code>", MarkdownIt().render(markdown), flags=re.S)]


def test_the_markdown_diff_shows_each_change_as_typed(tmp_path, capsys):
    report = tmp_path / "x.md"
    code, out, err = run_cli(["whatif", "scenarios/enterprise.yaml", "--remove",
                              "delegation:support-router->refund-agent", "-r", "2", "--strategies", "rbac",
                              "--report", str(report), "--json"], capsys)
    assert code == 0, err
    change = json.loads(out)["result"]["change"]
    assert any("support-router->refund-agent" in c for c in change)
    assert _code_spans(report.read_text()) == change and "&gt;" not in report.read_text()


@pytest.mark.parametrize("text", ["a->b", "a`b", "`x", "x``y`", "<b>&amp; | *", "```"])
def test_a_code_span_holds_any_text_exactly(text):
    from nhisim.reports.markdown import code_span

    assert _code_spans(f"- {code_span(text)}") == [text]


def test_compare_without_the_declared_baseline_uses_the_first_strategy_with_a_note(capsys):
    comparison = nhisim.compare(leak_estate(), strategies=["zsp", "intent"], replications=2)
    assert comparison.baseline == "zsp" and "'rbac' is not among" in comparison.notes[0]
    code, _, err = run_cli(["compare", "scenarios/leaked_key.yaml", "--strategies", "zsp,intent", "-r", "2",
                            "--executor", "serial"], capsys)
    assert code == 0 and "differences are against 'zsp'" in " ".join(err.split())
    with pytest.raises(InputError, match="not among the compared"):  # an explicit baseline must be compared
        nhisim.compare(leak_estate(), strategies=["zsp"], baseline="rbac", replications=1)


def test_a_knob_with_no_effect_says_why():
    result = whatif(leak_estate(), set={"strategies.zsp.ttl": "1h"}, strategies=["zsp", "rbac"], replications=3)
    assert len(result.notes) == 2  # zsp: revoked at task end; rbac: has no JIT tokens at all
    zsp = next(n for n in result.notes if "on zsp" in n)
    assert "revokes each task's token when the task ends" in zsp
    moved = whatif(leak_estate(), set={"strategies.rbac.rotation": "2h"}, strategies=["rbac"], replications=3)
    assert moved.notes == []
