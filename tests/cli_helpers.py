"""Running the CLI in the test process."""

from __future__ import annotations

import pytest


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """``nhisim.cli.app.main`` in this process: (exit code, stdout, stderr)."""
    from nhisim.cli.app import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else int(code)), out, err
