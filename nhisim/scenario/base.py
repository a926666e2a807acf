"""What every scenario model shares: the strict pydantic base and the identifier type.

Kept apart from :mod:`nhisim.scenario.models` so that the threat models (one file each
in :mod:`nhisim.scenario.threats`) can build on it while ``models`` imports them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

Id = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        max_length=200,
        description="an identifier: letters, digits, '_', '-', '.'",
    ),
]


class Model(BaseModel):
    """Base of every scenario model: unknown keys are errors, never silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True)

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        """Text is plain: a YAML escape ("\\e[2J", "\\udc80") must not reach a terminal or a report."""
        _check_text(value)
        return value


# control characters other than tab and newline, and lone surrogates (which cannot be
# written as UTF-8): a title with them would repaint the terminal or crash the report
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        bad = _NOT_TEXT.search(value)
        if bad:
            char = bad.group()
            kind = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
            raise ValueError(f"text holds {kind} (U+{ord(char):04X}) at position {bad.start()}; "
                             "scenario text is plain: remove the escape that wrote it")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
