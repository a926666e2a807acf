"""The bundled scenario pack: found wherever nhisim is installed, so ``nhisim demo``,
``check`` and ``catalog`` work outside a checkout; a built wheel carries the pack and
finds it through importlib.resources."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nhisim.cli.app import main
from nhisim.pack import demo_scenario, pack_files, pack_folder

ROOT = Path(__file__).resolve().parents[1]
SOURCE_PACK = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_the_locator_finds_every_scenario_of_the_pack():
    assert SOURCE_PACK, "scenarios/*.yaml is empty"
    assert [p.name for p in pack_files()] == SOURCE_PACK
    assert demo_scenario() == pack_folder() / "enterprise.yaml"


def test_demo_runs_from_a_folder_outside_the_checkout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no scenarios/ here
    code, out, err = run_cli(["demo", "-r", "2", "--out", "tmp", "--workers", "2"], capsys)
    assert code == 0, err
    assert (tmp_path / "tmp" / "demo.html").is_file()
    assert "enterprise" in out


def test_catalog_and_check_default_to_the_pack_outside_the_checkout(tmp_path, monkeypatch, capsys):
    from nhisim.cli.commands_pack import _scenario_files

    monkeypatch.chdir(tmp_path)
    assert _scenario_files(None, None) == pack_files()  # what `nhisim check` with no files runs
    code, out, err = run_cli(["catalog", "--json", "--framework", "owasp_nhi"], capsys)
    assert code == 0, err
    covering = {name for item in json.loads(out)["result"] for name in item["scenarios"]}
    assert "shared_account.yaml" in covering  # coverage read from the pack, not from ./scenarios


def test_an_explicit_folder_still_wins(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(ROOT / "scenarios" / "shared_account.yaml", mine)
    code, out, err = run_cli(["catalog", "--json", "--scenarios", str(mine), "--framework", "owasp_nhi"], capsys)
    assert code == 0, err
    assert {n for item in json.loads(out)["result"] for n in item["scenarios"]} == {"shared_account.yaml"}
    code, _, err = run_cli(["catalog", "--scenarios", str(tmp_path / "absent")], capsys)
    assert code == 2 and "no such folder" in err


def _source_tree(target: Path) -> Path:
    """What a build reads, copied so the build leaves nothing in the checkout."""
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "nhisim", target / "nhisim", ignore=ignore)
    shutil.copytree(ROOT / "scenarios", target / "scenarios", ignore=ignore)
    return target


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_built_wheel_ships_the_pack_and_demo_runs_from_it(tmp_path):
    (tmp_path / "src").mkdir()
    source = _source_tree(tmp_path / "src")
    wheels, site, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(source), "--no-deps", "-w", str(wheels)], check=True, timeout=240)
    (wheel,) = wheels.glob("nhisim-*.whl")
    # --target: the wheel alone, first on the path; its dependencies come from this environment
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, timeout=120)
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = ("import json, nhisim, nhisim.pack as p; from importlib import resources; "
             "r = resources.files('nhisim') / 'scenarios'; "
             "print(json.dumps([nhisim.__file__, str(p.pack_folder()), sorted(x.name for x in r.iterdir())]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True,
                          check=True, timeout=60)
    package, folder, listed = json.loads(done.stdout)
    assert Path(package).is_relative_to(site)  # the installed copy, not the checkout
    assert Path(folder) == site / "nhisim" / "scenarios"
    assert listed == SOURCE_PACK
    for name in SOURCE_PACK:  # a copy of the one source, not a second version of it
        assert (site / "nhisim" / "scenarios" / name).read_bytes() == (ROOT / "scenarios" / name).read_bytes()
    demo = subprocess.run([sys.executable, "-m", "nhisim", "demo", "-r", "2", "--out", "tmp", "--workers", "2"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=240)
    assert demo.returncode == 0, demo.stderr
    assert (elsewhere / "tmp" / "demo.html").is_file()
