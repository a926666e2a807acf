"""Build hook: ship the scenario pack inside the package.

Everything else is in pyproject.toml. The pack's one source is ``scenarios/`` at the top
of the repository; a wheel gets a copy at ``nhisim/scenarios/``, where
:mod:`nhisim.pack` finds it through importlib.resources (package-data cannot name files
outside the package folder, hence this copy at build time rather than a second set of
YAML files in the tree).
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithPack(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's scenarios/ directly
            return
        target = Path(self.build_lib) / "nhisim" / "scenarios"
        self.mkpath(str(target))
        for source in sorted((HERE / "scenarios").glob("*.yaml")):
            self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildWithPack})
