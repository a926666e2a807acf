"""Random streams: one per purpose, seeded from (seed, purpose, id).

Common random numbers: every strategy in a comparison draws task arrivals, service
times, attack times and detection delays from the same streams, so differences between
strategies are paired, not noise. A stream's seed is a hash of its name, never Python's
``hash()`` (which changes between processes), so results are identical on any executor.
"""

from __future__ import annotations

import hashlib
from random import Random


def stream_seed(seed: int, purpose: str, key: str = "") -> int:
    """A 64-bit seed derived from the run seed, a purpose and an id."""
    digest = hashlib.blake2b(f"{seed}\x1f{purpose}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def stream(seed: int, purpose: str, key: str = "") -> Random:
    """A fresh random stream for (seed, purpose, key)."""
    return Random(stream_seed(seed, purpose, key))
