"""Where the bundled scenario pack is: the one locator ``demo``, ``check`` and ``catalog`` use.

The pack has one source, the repository's ``scenarios/`` folder. ``setup.py`` copies it
into the package at build time (``nhisim/scenarios/`` in the wheel), so an installed
nhisim finds it through :mod:`importlib.resources` with no checkout around. A source
checkout, run from the tree or installed editable, has no such copy; there the folder
next to the package is the pack.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from nhisim.errors import InputError

PACK_FOLDER = "scenarios"  # in the package (built) and in the repository (source)
DEMO_FILE = "enterprise.yaml"
SCENARIO_SUFFIX = ".yaml"


def _packaged() -> Path | None:
    found = resources.files("nhisim").joinpath(PACK_FOLDER)
    # a zip import gives a Traversable that is not a folder on disk: the loader needs real
    # files (``extends`` names siblings), so such an install falls through to the checkout
    if isinstance(found, Path) and found.is_dir():
        return found
    return None


def _checkout() -> Path | None:
    root = Path(__file__).resolve().parent.parent
    # pyproject.toml beside the package says this is nhisim's source tree, not a folder
    # that happens to be called scenarios/ next to site-packages/nhisim
    folder = root / PACK_FOLDER
    if (root / "pyproject.toml").is_file() and folder.is_dir():
        return folder
    return None


def pack_folder() -> Path:
    """The folder of the bundled scenario files (installed package first, then a checkout)."""
    folder = _packaged() or _checkout()
    if folder is None:
        raise InputError.single("the bundled scenario pack is missing from this installation",
                                location="nhisim", suggestion="reinstall nhisim (pip install --force-reinstall "
                                                              "nhisim), or name scenario files or --scenarios DIR")
    return folder


def pack_files() -> list[Path]:
    """Every bundled scenario file, sorted by name."""
    return sorted(pack_folder().glob(f"*{SCENARIO_SUFFIX}"))


def demo_scenario() -> Path:
    """The enterprise estate ``nhisim demo`` runs."""
    path = pack_folder() / DEMO_FILE
    if not path.is_file():
        raise InputError.single(f"the demo estate {DEMO_FILE} is missing from the bundled pack", file=str(path),
                                location="nhisim demo", suggestion="give a scenario with --scenario FILE")
    return path
