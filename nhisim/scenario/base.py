"""What every scenario model shares: the strict pydantic base and the identifier type.

Kept apart from :mod:`nhisim.scenario.models` so that the threat models (one file each
in :mod:`nhisim.scenario.threats`) can build on it while ``models`` imports them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

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
