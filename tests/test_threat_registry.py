"""The registry of threat kinds (``nhisim/scenario/threats/``): every kind has a model file,
its metadata and an engine mechanism of the same name; the schema, validation and the
error messages follow the registry; and a new file is a new kind."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import os
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_cli
from registry_helpers import literal_collections

from nhisim.errors import InputError
from nhisim.scenario.loader import load_data, validate_data
from nhisim.scenario.schema import scenario_json_schema
from nhisim.scenario.threats import discover, threat_kinds, threat_models
from nhisim.scenario.threats.base import EVIDENCE_KINDS, REFERENCE_POOLS, ThreatModel

ROOT = Path(__file__).resolve().parents[1]
THREATS_DIR = ROOT / "nhisim" / "scenario" / "threats"
KINDS = threat_kinds()


def _pack_example(kind: str) -> tuple[dict, int]:
    """A scenario of the pack (raw data, extends resolved) and the index of a threat of ``kind``."""
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        data = load_data(path)
        for index, threat in enumerate(data.get("threats", [])):
            if threat.get("kind") == kind:
                return data, index
    pytest.fail(f"no scenario in scenarios/ uses threat kind {kind!r}: add one, so the pack exercises it")


def test_the_registry_holds_the_known_kinds_in_a_stable_order():
    known = ("secret_leak", "agent_hijack", "shared_credential_compromise", "runtime_discovery",
             "delegation_abuse", "improper_offboarding", "issuer_outage")
    assert KINDS[:len(known)] == known  # a kind added later comes after these, whatever its name
    assert tuple(threat_models()) == KINDS
    assert threat_models() == threat_models()  # discovered once, the same every time


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_model_file_of_its_name(kind):
    model = threat_models()[kind]
    assert (THREATS_DIR / f"{kind}.py").is_file()
    assert model.__module__ == f"nhisim.scenario.threats.{kind}"
    assert issubclass(model, ThreatModel)
    assert model.kind_name() == kind


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_documented(kind):
    model = threat_models()[kind]
    assert model.__doc__ and model.__doc__.strip()
    assert (sys.modules[model.__module__].__doc__ or "").strip()


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_declares_its_metadata(kind):
    model = threat_models()[kind]
    assert isinstance(model.LABEL, str) and model.LABEL.strip()
    assert isinstance(model.STEERS_AGENT, bool)
    assert model.EVIDENCE in EVIDENCE_KINDS
    assert isinstance(model.REFERENCES, dict)
    for field, pool in model.REFERENCES.items():
        assert field in model.model_fields, f"{kind}.REFERENCES names {field!r}, not a field"
        assert pool in REFERENCE_POOLS
    for field, account_field in model.HOLDER_OF.items():
        assert field in model.REFERENCES
        assert model.REFERENCES.get(account_field) == "accounts"
        assert list(model.REFERENCES).index(account_field) < list(model.REFERENCES).index(field)
    for name in ("LABEL", "STEERS_AGENT", "EVIDENCE", "REFERENCES", "HOLDER_OF"):
        assert name not in model.model_fields  # class metadata, never a key of a scenario file


def test_the_metadata_of_the_known_kinds():
    models = threat_models()
    assert {k for k, m in models.items() if m.STEERS_AGENT} == {"agent_hijack", "delegation_abuse"}
    assert {k: m.EVIDENCE for k, m in models.items() if m.EVIDENCE != "compromise"} == {
        "issuer_outage": "outage", "runtime_discovery": "overreach"}
    assert models["delegation_abuse"].REFERENCES == {"agent": "agents", "deputy": "agents", "task": "tasks"}
    assert models["secret_leak"].REFERENCES == {"principal": "principals"}
    assert models["shared_credential_compromise"].REFERENCES == {"account": "accounts", "via": "agents"}
    assert models["secret_leak"].LABEL == "a secret leak"


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_an_engine_mechanism_of_the_same_name(kind):
    spec = importlib.util.find_spec(f"nhisim.sim.threats.{kind}")
    assert spec is not None, f"no nhisim/sim/threats/{kind}.py"
    module = importlib.import_module(f"nhisim.sim.threats.{kind}")
    assert module.KIND == kind and callable(module.install)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_in_the_json_schema(kind):
    schema = scenario_json_schema()
    items = schema["properties"]["threats"]["items"]
    name = threat_models()[kind].__name__
    assert items["discriminator"]["mapping"][kind] == f"#/$defs/{name}"
    assert {"$ref": f"#/$defs/{name}"} in items["oneOf"]
    assert schema["$defs"][name]["properties"]["kind"]["const"] == kind


@pytest.mark.parametrize("kind", KINDS)
def test_nhisim_validate_suggests_every_kind(kind, tmp_path, capsys):
    data, index = _pack_example(kind)
    data = copy.deepcopy(data)
    data["threats"][index]["kind"] = kind[:-1]  # a typo of the kind
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code, _, err = run_cli(["validate", str(path)], capsys)
    assert code == 2
    assert f"threats.{index}" in err and f"unknown threat kind {kind[:-1]!r}" in err
    assert f"did you mean {kind!r}?" in err


@pytest.mark.parametrize("kind", KINDS)
def test_every_reference_a_kind_declares_is_checked(kind):
    model = threat_models()[kind]
    data, index = _pack_example(kind)
    validate_data(data)  # the example is valid as it stands
    for field in model.REFERENCES:
        broken = copy.deepcopy(data)
        threat = broken["threats"][index]
        many = typing.get_origin(model.model_fields[field].annotation) is list
        threat[field] = ["no-such-id"] if many else "no-such-id"
        with pytest.raises(InputError) as info:
            validate_data(broken)
        where = f"threats.{index}.{field}" + (".0" if many else "")
        problems = [p for p in info.value.problems if p.location == where]
        assert problems and problems[0].message.startswith("unknown ") and "'no-such-id'" in problems[0].message


def test_a_holder_is_checked_against_its_account_only_when_the_account_exists():
    data, index = _pack_example("shared_credential_compromise")
    broken = copy.deepcopy(data)
    broken["threats"][index].update(account="no-such-account", via="no-such-holder")
    with pytest.raises(InputError) as info:
        validate_data(broken)
    locations = [p.location for p in info.value.problems]
    assert f"threats.{index}.account" in locations and f"threats.{index}.via" not in locations


# --------------------------------------------------------------------------- discovery


NEW_KIND = '''
"""Scenario model of the ``honeytoken_trip`` threat: a decoy credential is used."""

from typing import ClassVar, Literal

from nhisim.scenario.base import Id
from nhisim.scenario.threats.base import ThreatModel


class HoneytokenTrip(ThreatModel):
    """Someone uses a decoy credential planted on an agent."""

    LABEL: ClassVar[str] = "a honeytoken trip"
    REFERENCES: ClassVar[dict[str, str]] = {"agent": "agents"}

    kind: Literal["honeytoken_trip"]
    agent: Id
'''


def _package_copy(tmp_path: Path, name: str, extra: dict[str, str]):
    """A copy of nhisim/scenario/threats as the importable package ``name``, plus ``extra`` files."""
    folder = tmp_path / name
    folder.mkdir()
    for source in THREATS_DIR.glob("*.py"):
        (folder / source.name).write_text(source.read_text())
    for file, text in extra.items():
        (folder / file).write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))


def test_discovery_picks_up_a_new_file(tmp_path):
    package = _package_copy(tmp_path, "threats_copy_new", {"honeytoken_trip.py": NEW_KIND})
    found = discover(package)
    assert set(found) == set(KINDS) | {"honeytoken_trip"}
    assert found["honeytoken_trip"].LABEL == "a honeytoken trip"
    assert found["honeytoken_trip"].__module__ == "threats_copy_new.honeytoken_trip"


def test_discovery_refuses_a_file_named_unlike_its_kind(tmp_path):
    package = _package_copy(tmp_path, "threats_copy_misnamed", {"honeytoken.py": NEW_KIND})
    with pytest.raises(TypeError, match="must be named honeytoken_trip.py"):
        discover(package)


def test_a_new_kind_file_reaches_the_language_end_to_end(tmp_path):
    """A file added to the package's search path is, with no other edit, a kind the models
    accept, the schema describes, validation checks references of and errors suggest."""
    (tmp_path / "honeytoken_trip.py").write_text(textwrap.dedent(NEW_KIND))
    script = textwrap.dedent(f"""
        import nhisim.scenario.threats as registry
        registry.__path__.append({str(tmp_path)!r})  # as if the file were in the package
        from nhisim.errors import InputError
        from nhisim.scenario.loader import validate_data
        from nhisim.scenario.schema import scenario_json_schema

        assert "honeytoken_trip" in registry.threat_kinds()
        schema = scenario_json_schema()
        assert "honeytoken_trip" in schema["properties"]["threats"]["items"]["discriminator"]["mapping"]
        base = {{"name": "x", "humans": [{{"id": "alice"}}], "agents": [{{"id": "bot", "owner": "alice"}}]}}
        ok = validate_data({{**base, "threats": [{{"kind": "honeytoken_trip", "agent": "bot"}}]}})
        assert type(ok.threats[0]).__name__ == "HoneytokenTrip"
        for threat, expected in (({{"kind": "honeytoken_trip", "agent": "bat"}}, "unknown agent 'bat'"),
                                 ({{"kind": "honeytoken_tri", "agent": "bot"}}, "did you mean 'honeytoken_trip'?")):
            try:
                validate_data({{**base, "threats": [threat]}})
            except InputError as exc:
                assert expected in exc.render(), exc.render()
            else:
                raise AssertionError("not refused")
        print("ok")
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# --------------------------------------------------------------------------- nobody keeps a list


def test_no_layer_above_the_engine_keeps_its_own_list_of_threat_kinds():
    package = ROOT / "nhisim"
    files = [p for p in package.rglob("*.py") if not p.is_relative_to(package / "sim")]
    found = literal_collections(files, set(KINDS))
    assert not found, "read the registry (nhisim.scenario.threats) instead:\n" + "\n".join(found)
