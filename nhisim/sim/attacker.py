"""The attacker's playbook.

Enumerate what the stolen or steered authority reaches; try first the reads of resources
that may hold keys (``Resource.secrets``: credential access), then the highest-value
operation first (value = sensitivity weight × action damage), one attempt at a time at the
scenario's rate; keep re-using what works (persistence, repeated exfiltration) and drop
what was denied; give up after ``give_up_after`` denials in a row. After the incident
response the attacker goes on while anything it holds still works (a revocation that
has not propagated yet), and stops once nothing does. Every attempt goes
through the same enforcement point as benign work and is logged with ``malicious``.

Secrets kept in resources. An allowed read, list or export of a resource that holds
principals' keys (``Resource.secrets``, where their ``secret_storage`` keeps them) hands
the attacker those keys; what they reach joins its targets (recomputed per acquisition).

A hijacked agent acts with its own live authority: it presents its own credentials,
may ask the issuer for tokens as itself, and tries what its tools expose. A confused
deputy attack has a higher-privilege agent (the deputy) act for the compromised one.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from nhisim.sim.credentials import Credential
from nhisim.sim.decisions import INTENT_CODES as _INTENT_FAILURES
from nhisim.sim.rng import stream
from nhisim.sim.state import Incident, TaskRun

if TYPE_CHECKING:
    from nhisim.sim.surface import EngineSurface as Simulation

INTENT_CODES = _INTENT_FAILURES | {"risk"}  # codes of a request the intent checks flagged


def potential_scope(sim: Simulation, incident: Incident) -> frozenset[int]:
    """Operations the attacker could reach right now with what it holds or can obtain."""
    now = sim.env.now
    ops: set[int] = set()
    for cred in incident.acquired.values():
        if cred.usable(now) and cred.bound_to(incident.presenter) and cred.mfa_ok(incident.presenter):
            ops |= cred.scope | cred.mint_scope
    if incident.can_mint_as:
        minter = sim.controls(incident.can_mint_as)
        if minter.credential == "jit_token" and minter.jit_scope == "role":
            ops |= sim.world.agents[incident.can_mint_as].role_scope
    if incident.deputy:
        deputy = sim.world.agents[incident.deputy]
        strategy = sim.controls(incident.host)  # the delegator's controls decide the hand-off
        own_controls = sim.controls(incident.deputy)
        lost = strategy.delegation == "token_exchange" and sim.lossy_hop(incident.host, incident.deputy) is not None
        if strategy.delegation == "pass_through":
            ops |= deputy.role_scope
        elif lost and strategy.lossy_hop == "own_authority":  # the deputy acts on its own authority
            own = deputy.role_scope
            if own_controls.credential == "jit_token" and own_controls.jit_scope == "intent":
                own = own & sim.world.tasks[incident.sub_task].intent
            ops |= own
        elif lost:  # the hop fails: the deputy gets nothing
            ops = set()
        else:
            ops &= sim.world.tasks[incident.sub_task].intent
    return frozenset(ops)


def with_harvest(sim: Simulation, incident: Incident, scope: frozenset[int]) -> frozenset[int]:
    """``scope`` plus what the keys the attacker could read with it would reach, transitively: each
    usable key kept in a resource ``scope`` reads (a key that needs MFA counts when MFA fatigue can
    let the attacker through)."""
    secrets = sim.world.op_secrets
    todo = [op for op in scope if secrets[op]]
    if not todo:
        return scope
    ops, seen = set(scope), set()
    now, presenter = sim.env.now, incident.presenter
    fatigue = sim.scenario.attacker.mfa_fatigue_probability > 0
    while todo:
        op = todo.pop()
        resource = sim.world.op_keys[op][2]
        for principal in secrets[op]:
            key = sim.harvestable_key(principal, resource)
            if key is None or key.id in seen:
                continue
            seen.add(key.id)
            if key.usable(now) and key.bound_to(presenter) and (key.mfa_ok(presenter) or fatigue):
                new = key.scope - ops
                ops |= new
                todo.extend(o for o in new if secrets[o])
    return frozenset(ops)


def _targets(sim: Simulation, incident: Incident) -> list[int]:
    """Every operation the attacker would try, highest value first.

    It counts what every stolen credential claims, working or not (the attacker cannot see
    revocations), so it changes only when the incident acquires a credential (acquisitions
    are never undone): it is computed again only then.
    """
    cached = incident.targets
    if cached is not None and cached[0] == len(incident.acquired):
        return cached[1]
    ops = set(potential_scope(sim, incident))
    if incident.targets_from_host and incident.host:
        agent = sim.world.agents[incident.host]
        ops |= agent.tool_ops | agent.role_scope
    if incident.deputy:
        deputy = sim.world.agents[incident.deputy]
        ops |= deputy.tool_ops | deputy.role_scope
    for cred in incident.acquired.values():  # enumerate what the stolen credentials claim
        ops |= cred.scope | cred.mint_scope
    value, secrets = sim.world.op_value, sim.world.op_secrets
    # reads of what may hold keys come first (credential access before impact), then highest value
    targets = sorted(ops, key=lambda op: (not secrets[op], -value[op], op))
    incident.targets = (len(incident.acquired), targets)
    return targets


def attacker_process(sim: Simulation, incident: Incident) -> Generator:
    """The attacker's loop for one incident (a workload generator on the agenda)."""
    env = sim.env
    rng = incident.rng_attacker
    playbook = sim.scenario.attacker
    if incident.start_delay > 0:
        yield incident.start_delay
    denied_ops: set[int] = set()
    working: list[int] = []
    cursor = 0
    denials_in_a_row = 0
    targets: list[int] = []
    tried = 0  # targets[:tried] were all tried: an op once tried is never fresh again
    while incident.active:
        if incident.responded and not _holds_anything_usable(sim, incident):
            sim.release(incident, "the response's revocations are effective everywhere: nothing the attacker "
                                  "holds works any more")
            return
        if incident.follows_host:
            for cred in sim.usable_holdings(incident.host):
                sim.acquire(incident, cred)
            sim.take_copies(incident)
        latest = _targets(sim, incident)
        if latest is not targets:
            targets, tried = latest, 0
        while tried < len(targets) and (targets[tried] in denied_ops or targets[tried] in working):
            tried += 1
        if tried < len(targets):
            op = targets[tried]
        elif working:
            op = working[cursor % len(working)]
            cursor += 1
        else:
            incident.gave_up = True
            sim.log.give_up(env.now, presenter=incident.presenter, actor=incident.actor,
                            reason="nothing left to try", incident=incident.id)
            return
        allowed = yield from attempt(sim, incident, op)
        if allowed:
            denials_in_a_row = 0
            if op not in working:
                working.append(op)
        else:
            denials_in_a_row += 1
            denied_ops.add(op)
            if op in working:
                working.remove(op)
            if denials_in_a_row >= playbook.give_up_after:
                incident.gave_up = True
                sim.log.give_up(env.now, presenter=incident.presenter, actor=incident.actor,
                                reason=f"gave up after {denials_in_a_row} denials in a row", incident=incident.id)
                return
        yield rng.expovariate(playbook.rate) if playbook.rate > 0 else math.inf


def _holds_anything_usable(sim: Simulation, incident: Incident) -> bool:
    """Whether any credential the attacker holds still works now (or a steered agent can still mint)."""
    now = sim.env.now
    if any(cred.usable(now) and cred.bound_to(incident.presenter) and cred.mfa_ok(incident.presenter)
           for cred in incident.acquired.values()):
        return True
    if incident.can_mint_as:
        doc = sim.identity_of(incident.can_mint_as)
        return doc is not None and doc.usable(now)
    return False


def _choose(sim: Simulation, incident: Incident, op: int) -> Credential | None:
    """The stolen credential the attacker would present for ``op`` (it cannot see revocations)."""
    best = None
    for cred in incident.acquired.values():
        if op in cred.scope and (best is None or cred.expires_at > best.expires_at):
            best = cred
    if best is not None and sim.env.now >= best.expires_at and (incident.can_mint_as or incident.minting):
        return None  # better to mint a fresh token than to present an expired one
    return best


def attempt(sim: Simulation, incident: Incident, op: int) -> Generator[Any, Any, bool]:
    """One malicious request, through the enforcement point."""
    env = sim.env
    host_ctx: TaskRun | None = sim.current_task.get(incident.host) if incident.host else None
    presenter = incident.deputy or incident.presenter
    cred = None
    if incident.deputy:
        cred = yield from _deputy_credential(sim, incident, op, host_ctx)
    else:
        cred = _choose(sim, incident, op)
        if cred is None and (incident.can_mint_as or incident.minting):
            cred = yield from _mint(sim, incident, op, host_ctx)
        if cred is None and incident.host:
            holdings = [c for c in incident.acquired.values() if sim.env.now < c.expires_at]
            cred = holdings[0] if holdings else None
    if cred is None:
        sim.raise_alert(incident.host, incident, "a request the attacker could not back with any credential")
        return False
    intent = host_ctx.intent if host_ctx is not None else None
    destination = sim.scenario.attacker.destination
    args = sim.world.op_attacker_args[op]
    decision, code, reason = sim.pep.decide(env.now, presenter, cred, op, destination, intent, args)
    wait = 0.0
    if decision == "redeclare":
        if host_ctx is not None and presenter == incident.host:  # a steered agent re-declares its task's intent
            cred, decision, code, reason, wait = yield from sim.redeclare(host_ctx, cred, op, destination, args,
                                                                         reason, incident=incident)
            sim.acquire(incident, cred)  # a token re-issued for the wider intent is the steered agent's too
            intent = host_ctx.intent
        else:  # nobody but the task's own agent can re-declare its intent
            decision, code = "deny", "redeclare_rejected"
            reason = f"{reason}; only the task's own agent may re-declare its intent"
    if decision == "escalate":
        review = sim.scenario.approval.review_time.sample(incident.rng_attacker)
        fooled = incident.rng_attacker.random() < sim.scenario.approval.attacker_approval_probability
        approved, waited = yield from sim.approval(review, fooled)
        wait += waited
        decision, code = ("allow", "approved") if approved else ("deny", "rejected")
        reason = f"escalated ({reason}); a human {'approved' if approved else 'rejected'} it"
        died = sim.pep.still_valid(env.now, presenter, cred, op, destination, intent, args) if approved else None
        if died is not None:
            decision, code, reason = died[0], died[1], f"approved, but meanwhile {died[2]}"
    tool, action, resource = sim.world.op_keys[op]
    in_intent = (op in intent.intent) if intent is not None else False
    principal = cred.chain[-1] if cred.chain else cred.subject
    chain = cred.chain_text or (f"{incident.host}>{incident.deputy}" if incident.deputy else "")
    sim.log.request(env.now, principal=principal, presenter=presenter, actor=incident.actor, credential=cred.id,
                    chain=chain, tool=tool, action=action, resource=resource,
                    task=host_ctx.id if host_ctx else None, audit_task=cred.task, audit_human=cred.human,
                    malicious=True, in_intent=in_intent, decision=decision, code=code, reason=reason,
                    value=sim.world.op_value[op], records=sim.world.op_records[op], wait=wait, incident=incident.id)
    if decision == "allow" and sim.world.op_secrets[op]:
        sim.harvest(incident, op)
    if decision != "allow":
        sim.raise_alert(incident.host or incident.deputy, incident, reason)
    elif code == "monitored" or (sim.controls(cred.subject).runtime_check == "intent" and code in INTENT_CODES):
        sim.raise_alert(incident.host, incident, reason)
    elif _anomaly_alert(sim, incident, cred, op):
        sim.raise_alert(incident.host, incident, f"{sim.world.label(op)} is outside the usual pattern of {principal}")
    return decision == "allow"


def _anomaly_alert(sim: Simulation, incident: Incident, cred: Credential, op: int) -> bool:
    """Whether behavioural analytics flag this allowed request (outside its principal's usual pattern)."""
    p = sim.scenario.detection.anomaly_alert_probability
    if p <= 0 or not sim.out_of_pattern(cred, op):
        return False
    if incident.rng_anomaly is None:
        incident.rng_anomaly = stream(sim.seed, "anomaly", incident.id)
    return incident.rng_anomaly.random() < p


def _mint(sim: Simulation, incident: Incident, op: int, host_ctx: TaskRun | None
          ) -> Generator[Any, Any, Credential | None]:
    """Ask the issuer for a token with stolen or steered identity."""
    if incident.can_mint_as:
        agent = incident.can_mint_as
        identity = None
    else:  # the longest-lived of the stolen minting credentials whose subject's roles cover op
        docs = [d for d in incident.minting if op in sim.world.agents[d.subject].role_scope] or incident.minting
        doc = max(docs, key=lambda c: c.expires_at)
        agent, identity = doc.subject, doc
    strategy = sim.controls(agent)
    if strategy.credential != "jit_token":
        return None
    scope = sim.world.agents[agent].role_scope
    intent = None
    if strategy.jit_scope == "intent":
        intent = host_ctx.intent if host_ctx is not None else None
        scope = scope & intent.intent if intent is not None else frozenset()
    if op not in scope and scope:
        return None
    token = yield from sim.obtain_token(agent, scope, host_ctx, presenter=incident.presenter, identity=identity,
                                        malicious=True, incident=incident, intent=intent)
    if token is not None:
        sim.acquire(incident, token)
    return token


def _deputy_credential(sim: Simulation, incident: Incident, op: int, host_ctx: TaskRun | None
                       ) -> Generator[Any, Any, Credential | None]:
    """What the deputy presents when acting for the compromised agent."""
    strategy = sim.controls(incident.host)  # the delegator's controls decide the hand-off
    now = sim.env.now
    deputy = incident.deputy
    host_creds = [c for c in sim.usable_holdings(incident.host)]
    if strategy.delegation == "pass_through":
        for cred in host_creds:
            if op in cred.scope:
                sim.acquire(incident, cred)
                return cred
        # the deputy falls back on its own authority: the confused deputy
        return (yield from _deputy_own_authority(sim, incident, op))
    lost = sim.lossy_hop(incident.host, deputy)
    if lost is not None:  # token exchange cannot reach the deputy
        if strategy.lossy_hop == "fail":
            sim.log_refusal(deputy, deputy, None, ("lossy_hop", f"token exchange cannot reach {deputy}: {lost}"),
                            True, incident)
            return None
        return (yield from _deputy_own_authority(sim, incident, op))
    # token exchange: the deputy gets the delegator's scope ∩ the sub-task's intent, nothing more
    existing = [c for c in incident.acquired.values() if c.kind == "delegated_token" and c.usable(now)]
    if existing:
        return existing[0]
    if host_ctx is None:
        sim.log_refusal(deputy, deputy, None, ("no_delegator_token",
                                               f"{incident.host} has no task token to exchange"), True, incident)
        return None
    sub = sim.world.tasks[incident.sub_task]
    sub_id = sim.next_task_id(deputy, sub)
    token = yield from sim.exchange_token(host_ctx, deputy, sub, sub_id, malicious=True, incident=incident)
    if token is not None:
        sim.acquire(incident, token)
    return token


def _deputy_own_authority(sim: Simulation, incident: Incident, op: int) -> Generator[Any, Any, Credential | None]:
    """What the deputy presents on its own authority (a confused deputy): its static key, or its own
    JIT token (its roles, narrowed to the sub-task's intent under intent scope)."""
    deputy = incident.deputy
    controls = sim.controls(deputy)
    if controls.credential == "static_key":
        keys = sim.static_keys_of(deputy)
        for cred in keys:
            if op in cred.scope:
                sim.acquire(incident, cred)
                return cred
        return keys[0] if keys else None
    now = sim.env.now
    existing = [c for c in incident.acquired.values() if c.subject == deputy and c.usable(now) and op in c.scope]
    if existing:
        return existing[0]
    scope = sim.world.agents[deputy].role_scope
    sub = sim.world.tasks[incident.sub_task]
    if controls.jit_scope == "intent":
        scope = scope & sub.intent
    token = yield from sim.obtain_token(deputy, scope, None, presenter=deputy, malicious=True, incident=incident,
                                        intent=None)
    if token is not None:
        sim.acquire(incident, token)
    return token
