"""Runtime action discovery (overreach): benign agents try operations beyond their task.

Not malicious: with the threat's probability per task, an agent discovers an operation
its declared tools expose outside the task's intent and tries it once. The question is
how many such attempts each strategy allows. The probability is folded into each
agent's behaviour when the world is compiled (``nhisim.sim.compiled``); the attempts are
made by the task process and logged as benign requests with ``in_intent = False``.
"""

from __future__ import annotations

from typing import Any

from nhisim.sim.surface import EngineSurface

KIND = "runtime_discovery"


def install(sim: EngineSurface, threat: Any, threat_id: str) -> None:
    agents = ", ".join(threat.agents) if threat.agents else "every agent"
    sim.log.threat(0.0, kind=KIND, incident=threat_id,
                   reason=f"{agents} may try an out-of-intent operation in {threat.probability:.0%} of tasks")
