"""Random streams: one per purpose, seeded from (seed, purpose, id).

Common random numbers: every strategy in a comparison draws task arrivals, service
times, attack times and detection delays from the same streams, so differences between
strategies are paired, not noise. A stream's seed is a hash of its name, never Python's
``hash()`` (which changes between processes), so results are identical on any executor.

Three kinds of stream, by how often they are drawn:

- :func:`stream`: a Python generator, for the few draws of an incident, a threat or a
  detection;
- :func:`block_generator`: a NumPy generator (Philox, keyed by the name) that the
  workload draws a block of tasks at a time from (:mod:`nhisim.sim.plans`);
- :func:`uniform_at`: the ``n``-th number of a named stream, with no state at all, for
  draws that happen at moments no stream can order, such as a task's later round trips
  to the token issuer: the number depends on the task and the count, never on what other
  tasks did before.
"""

from __future__ import annotations

import hashlib
from random import Random

import numpy as np

_UNIT = 2.0**-53


def stream_seed(seed: int, purpose: str, key: str = "") -> int:
    """A 64-bit seed derived from the run seed, a purpose and an id."""
    digest = hashlib.blake2b(f"{seed}\x1f{purpose}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def stream(seed: int, purpose: str, key: str = "") -> Random:
    """A fresh random stream for (seed, purpose, key)."""
    return Random(stream_seed(seed, purpose, key))


def block_generator(seed: int, purpose: str, key: str = "") -> np.random.Generator:
    """A NumPy generator for (seed, purpose, key): a counter-based Philox keyed by the name.

    Its numbers do not depend on how many are drawn at once: ``random((a, w))`` then
    ``random((b, w))`` gives the rows ``random((a + b, w))`` would.
    """
    return np.random.Generator(np.random.Philox(key=stream_seed(seed, purpose, key)))


def uniform_at(seed: int, purpose: str, key: str, n: int) -> float:
    """The ``n``-th uniform number in [0, 1) of the stream (seed, purpose, key)."""
    digest = hashlib.blake2b(f"{seed}\x1f{purpose}\x1f{key}\x1f{n}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) * _UNIT
