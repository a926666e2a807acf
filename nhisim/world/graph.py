"""The world as a typed graph: who can act as whom, and what each identity may do.

Grammar (in the spirit of CyberBattleSim's typed world and PMapper's explained edges).
The graph is a ``networkx.MultiDiGraph``. Every node has a ``type`` and a ``label`` (its
bare scenario id); its node id is ``"<type>:<label>"`` (see :func:`node_id`)::

    node types   human | agent | shared_account | tool | resource | role | credential

Every edge has a ``type`` and a ``reason``: one sentence saying why the hop exists::

    human          -owns------------> agent           the human is accountable for the agent
    agent          -has_role--------> role            standing role of the agent
    shared_account -has_role--------> role            standing role of the shared account
    human          -has_role--------> role            role of the person's own credential
    agent          -holds-----------> shared_account  the agent holds the account's key: it can act as it
    agent          -holds-----------> credential      the agent can present the credential
    credential     -acts_for--------> agent | shared_account | human
                                                      presenting it is acting as its subject
    role           -grants----------> resource        one operation (tool, action) on the resource
    credential     -grants----------> resource        explicit scope of a scoped (runtime) credential
    tool           -exposes---------> resource        one operation the tool offers
    agent          -may_delegate_to-> agent           the delegate acts for the delegator (confused deputy)
    resource       -stores_secret---> credential      the credential is written in the resource: whoever
                                                      reads, lists or exports it obtains the credential

``grants`` and ``exposes`` edges carry ``tool``, ``action``, ``resource``, ``value``
(sensitivity weight of the resource × damage weight of the action) and ``records``; their
edge key is ``"<type>:<tool>:<action>"`` so that parallel operations stay distinct.

Credentials. By default the graph holds the standing credentials of a static-key RBAC
estate: one key per agent (``credential:key:<agent>``, held by the agent), one per
shared account (``credential:key:<account>``, held by every holder) and one per human with
roles (``credential:key:<human>``, held by the agents whose tasks run on it, when they are
handed the key itself). A standing key has
no ``grants`` edges of its own: its ``acts_for`` edge has ``inherits_scope=True`` and its
scope is the subject's roles. A scoped credential (``CredentialDescriptor`` with
``grants``) has explicit ``grants`` edges and an ``acts_for`` edge with
``inherits_scope=False`` (kept for attribution, not for reach). A ``holds`` edge to a
credential whose scope its holder already has by another edge (its own key, or the key of
a shared account it holds) carries ``implied=True``; analysis does not traverse it, so
paths are not reported twice.

Reach (what :mod:`nhisim.world.analysis` computes): an agent reaches the grants of its
roles, of the shared accounts and credentials it holds, and everything its delegates
reach, transitively. A shared account reaches its roles' grants. A credential reaches its
scope. Acting as an agent through its credential gives its roles, not its delegates nor
the keys it holds.

A strategy (``build_graph(scenario, strategy=...)``) draws the estate as that strategy
runs it; edges it makes useless stay in the graph, marked, with a reason that says why:

- shared accounts are held only under a shared identity, whose key then carries the
  union of its holders' roles (extra ``has_role`` edges from the account);
- standing credentials are static keys under ``credential: static_key``; under JIT each
  agent has a workload identity document instead (``credential:identity:<agent>``), which
  mints tokens of its roles (``jit_scope: role``) or only of what its tasks' intents name
  (``jit_scope: intent``: the agent's ``has_role`` edges carry ``usable=False`` and the
  document is scoped to roles ∩ intents);
- under token exchange a ``may_delegate_to`` edge carries ``passes_authority=False``: the
  delegate gets at most the delegator's scope, so delegating reaches nothing more;
- every credential node records the strategy's ``binding`` (and, for a human's key, ``mfa``);
- a human holds a standing key under ``credential: static_key`` and signs in per task
  under JIT (no standing node); its key is held by the agents whose tasks run on it when
  the human's ``delegation`` passes it through;
- a resource that lists a principal's secret stores its key (a ``stores_secret`` edge)
  where that principal's ``secret_storage`` keeps it: every listing resource (``config``),
  only resources of kind ``vault`` (``vault``), none (``broker``); a JIT principal has no
  key at rest. The edge carries ``usable=False`` when a thief could not use the key
  (sender-constrained, or needing MFA the attacker cannot pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from nhisim.errors import InputError, Problem, did_you_mean
from nhisim.scenario.models import Scenario, exchange_blocked
from nhisim.scenario.strategy import account_users
from nhisim.strategies import Strategy

NODE_TYPES = ("human", "agent", "shared_account", "tool", "resource", "role", "credential")
EDGE_TYPES = ("owns", "has_role", "holds", "grants", "exposes", "may_delegate_to", "acts_for", "stores_secret")
PRINCIPAL_TYPES = ("agent", "shared_account", "credential")
GRAMMAR_VERSION = "nhisim-world/1"


def node_id(type: str, id: str) -> str:
    """The graph node id of a scenario object: ``node_id("agent", "support-bot") == "agent:support-bot"``."""
    if type not in NODE_TYPES:
        raise ValueError(f"unknown node type {type!r}; expected one of {', '.join(NODE_TYPES)}")
    return f"{type}:{id}"


def split_node_id(node: str) -> tuple[str, str]:
    """``"agent:support-bot"`` -> ``("agent", "support-bot")``."""
    type_, _, label = node.partition(":")
    return type_, label


@dataclass(frozen=True)
class CredentialDescriptor:
    """A credential to draw in the graph.

    ``subject`` is the agent, shared account or human the credential acts for; ``holders`` are the
    agents that can present it; ``grants`` (``"tool:action:resource"`` strings, grant
    models or 3-tuples) is its explicit scope, or ``None`` for the subject's roles.
    ``attributes`` are extra scalar node attributes (expiry, binding, ...).
    """

    id: str
    subject: str
    holders: tuple[str, ...] = ()
    grants: tuple[Any, ...] | None = None
    kind: str = "static_key"
    attributes: Mapping[str, Any] = field(default_factory=dict)


def standing_credentials(scenario: Scenario) -> list[CredentialDescriptor]:
    """The standing keys of a static-key RBAC estate: one per agent, one per shared account, and one per
    human with roles (held by the agents whose tasks run on it)."""
    creds = [
        CredentialDescriptor(id=f"key:{a.id}", subject=a.id, holders=(a.id,), kind="static_key")
        for a in scenario.agents
    ]
    creds += [
        CredentialDescriptor(id=f"key:{s.id}", subject=s.id, holders=tuple(dict.fromkeys(s.holders)),
                             kind="shared_account_key")
        for s in scenario.shared_accounts
    ]
    creds += [CredentialDescriptor(id=f"key:{h.id}", subject=h.id, holders=on_behalf_agents(scenario, h.id),
                                   kind="static_key") for h in scenario.humans if h.roles]
    return creds


def on_behalf_agents(scenario: Scenario, human: str) -> tuple[str, ...]:
    """The agents serving a task that runs on ``human``'s credential (``on_behalf_of_requester``)."""
    tasks = {t.id for t in scenario.tasks if t.on_behalf_of_requester and t.requested_by == human}
    return tuple(a.id for a in scenario.agents if tasks & set(a.tasks))


def _grant_key(grant: Any) -> tuple[str, str, str]:
    if isinstance(grant, str):
        parts = grant.split(":")
        if len(parts) != 3 or not all(parts):
            raise InputError.single(f"{grant!r} is not a grant", suggestion="write tool:action:resource")
        return parts[0], parts[1], parts[2]
    if isinstance(grant, tuple) and len(grant) == 3:
        return str(grant[0]), str(grant[1]), str(grant[2])
    return grant.tool, grant.action, grant.resource


def strategy_credentials(scenario: Scenario, strategy: Strategy) -> list[CredentialDescriptor]:
    """The credentials that stand between tasks under ``strategy``, each principal under its own
    controls: a static key per agent, a key per shared account in use (held by the holders that
    use it), or a workload identity per JIT agent (scoped to its tasks' intents under intent
    scope)."""
    ix = scenario.index()
    creds = []
    for a in scenario.agents:
        s = strategy.of(a.id)
        binding = {"binding": s.binding}
        if s.credential == "static_key":
            creds.append(CredentialDescriptor(id=f"key:{a.id}", subject=a.id, holders=(a.id,), kind="static_key",
                                              attributes=binding))
        elif s.jit_scope == "role":
            creds.append(CredentialDescriptor(id=f"identity:{a.id}", subject=a.id, holders=(a.id,),
                                              kind="workload_identity", attributes=binding))
        else:
            role_grants = {g.key for r in a.roles for g in ix.roles[r].grants}
            intents = {g.key for t in a.tasks for g in ix.tasks[t].intent.operations}
            creds.append(CredentialDescriptor(id=f"identity:{a.id}", subject=a.id, holders=(a.id,),
                                              grants=tuple(sorted(role_grants & intents)), kind="workload_identity",
                                              attributes=binding))
    for sa in scenario.shared_accounts:
        users = account_users(strategy, sa.id, sa.holders)
        if users:
            creds.append(CredentialDescriptor(id=f"key:{sa.id}", subject=sa.id, holders=users,
                                              kind="shared_account_key",
                                              attributes={"binding": strategy.of(sa.id).binding}))
    for h in scenario.humans:
        s = strategy.of(h.id)
        if h.roles and s.credential == "static_key":  # under JIT a human signs in per task: nothing standing
            passed = on_behalf_agents(scenario, h.id) if s.delegation == "pass_through" else ()
            creds.append(CredentialDescriptor(id=f"key:{h.id}", subject=h.id, holders=passed, kind="static_key",
                                              attributes={"binding": s.binding, "mfa": s.mfa}))
    return creds


class _Builder:
    def __init__(self, scenario: Scenario, strategy: Strategy | None = None) -> None:
        self.s = scenario
        self.strategy = strategy
        self.ix = scenario.index()
        self.g = nx.MultiDiGraph(name=scenario.name, scenario=scenario.name, grammar=GRAMMAR_VERSION)
        self.problems: list[Problem] = []

    # -- references ---------------------------------------------------------------------
    def ref(self, value: str, pool: Iterable[str], what: str, location: str) -> bool:
        if value in pool:
            return True
        self.problems.append(Problem(f"unknown {what} {value!r}", location,
                                     suggestion=did_you_mean(value, pool, what + "s")))
        return False

    def operation(self, tool: str, action: str, resource: str, location: str) -> dict[str, Any] | None:
        ok = self.ref(tool, self.ix.tools, "tool", location)
        ok &= self.ref(action, self.s.weights.action_damage, "action", location)
        ok &= self.ref(resource, self.ix.resources, "resource", location)
        if not ok:
            return None
        res = self.ix.resources[resource]
        sens = self.s.weights.sensitivity[res.sensitivity]
        damage = self.s.weights.action_damage[action]
        return {"tool": tool, "action": action, "resource": resource, "value": float(sens * damage),
                "records": int(res.records), "sensitivity": res.sensitivity}

    # -- nodes --------------------------------------------------------------------------
    def add_node(self, type_: str, label: str, **attrs: Any) -> str:
        n = node_id(type_, label)
        self.g.add_node(n, type=type_, label=label, **attrs)
        return n

    def add_edge(self, u: str, v: str, type_: str, reason: str, key: str | None = None, **attrs: Any) -> None:
        self.g.add_edge(u, v, key=key or type_, type=type_, reason=reason, **attrs)

    def build(self, credentials: Sequence[CredentialDescriptor] | None) -> nx.MultiDiGraph:
        s, w, strategy = self.s, self.s.weights, self.strategy
        if strategy is not None:
            self.g.graph["strategy"] = strategy.name
        for h in s.humans:
            self.add_node("human", h.id, title=h.title, approver=h.approver)
        for i, h in enumerate(s.humans):
            for j, r in enumerate(h.roles):
                if self.ref(r, self.ix.roles, "role", f"humans.{i}.roles.{j}"):
                    self.add_edge(node_id("human", h.id), node_id("role", r), "has_role",
                                  f"{h.id}'s own credential carries role {r}, so whoever presents it can use "
                                  f"every grant of {r}")
        for r in s.resources:
            self.add_node("resource", r.id, kind=r.kind, sensitivity=r.sensitivity,
                          sensitivity_weight=float(w.sensitivity[r.sensitivity]), records=int(r.records),
                          environment=r.environment, description=r.description)
        for t in s.tools:
            self.add_node("tool", t.id, kind=t.kind, description=t.description)
        for r in s.roles:
            self.add_node("role", r.id, description=r.description)
        for a in s.agents:
            self.add_node("agent", a.id, owner=a.owner, environment=a.environment, description=a.description,
                          discovery_probability=float(a.behaviour.discovery_probability))
        for sa in s.shared_accounts:
            self.add_node("shared_account", sa.id, environments=",".join(sa.environments),
                          description=sa.description)

        for i, t in enumerate(s.tools):
            for j, op in enumerate(t.operations):
                info = self.operation(t.id, op.action, op.resource, f"tools.{i}.operations.{j}")
                if info:
                    self.add_edge(node_id("tool", t.id), node_id("resource", op.resource), "exposes",
                                  f"tool {t.id} exposes {op.action} on {op.resource}",
                                  key=f"exposes:{t.id}:{op.action}", **info)
        for i, r in enumerate(s.roles):
            for j, gr in enumerate(r.grants):
                info = self.operation(gr.tool, gr.action, gr.resource, f"roles.{i}.grants.{j}")
                if info:
                    self.add_edge(node_id("role", r.id), node_id("resource", gr.resource), "grants",
                                  f"role {r.id} grants {gr.action} on {gr.resource} through {gr.tool} "
                                  f"({info['sensitivity']} sensitivity; value {info['value']:g})",
                                  key=f"grants:{gr.tool}:{gr.action}", **info)
        for i, a in enumerate(s.agents):
            me = node_id("agent", a.id)
            if self.ref(a.owner, self.ix.humans, "human", f"agents.{i}.owner"):
                self.add_edge(node_id("human", a.owner), me, "owns", f"{a.owner} owns agent {a.id}")
            own = strategy.of(a.id) if strategy is not None else None
            intent_only = own is not None and own.credential == "jit_token" and own.jit_scope == "intent"
            for j, r in enumerate(a.roles):
                if self.ref(r, self.ix.roles, "role", f"agents.{i}.roles.{j}"):
                    if intent_only:
                        self.add_edge(me, node_id("role", r), "has_role",
                                      f"{a.id} has role {r}, but its intent-scoped tokens carry only the grants "
                                      f"of {r} that its tasks' intents name", usable=False)
                    else:
                        self.add_edge(me, node_id("role", r), "has_role",
                                      f"{a.id} has role {r}, so it can use every grant of {r}")
            exchange = own is not None and own.delegation == "token_exchange"  # the delegator's controls
            for j, d in enumerate(a.may_delegate_to):
                if self.ref(d, self.ix.agents, "agent", f"agents.{i}.may_delegate_to.{j}") and d != a.id:
                    lost = exchange_blocked(a, self.ix.agents[d]) if exchange else None
                    if lost is not None and own.lossy_hop == "own_authority":
                        self.add_edge(me, node_id("agent", d), "may_delegate_to",
                                      f"{a.id} may delegate to {d}, and token exchange cannot reach it ({lost}): "
                                      f"{d} acts for it on its own authority (confused deputy)")
                    elif lost is not None:
                        self.add_edge(me, node_id("agent", d), "may_delegate_to",
                                      f"{a.id} may delegate to {d}, but token exchange cannot reach it ({lost}): "
                                      f"the hand-off fails, and passes nothing", passes_authority=False)
                    elif exchange:
                        self.add_edge(me, node_id("agent", d), "may_delegate_to",
                                      f"{a.id} may delegate to {d}, but by token exchange: {d} gets at most "
                                      f"{a.id}'s scope narrowed to the sub-task's intent, nothing of its own",
                                      passes_authority=False)
                    else:
                        self.add_edge(me, node_id("agent", d), "may_delegate_to",
                                      f"{a.id} may delegate to {d}, so it can have {d} act for it "
                                      f"with {d}'s own authority (confused deputy)")
        for i, sa in enumerate(s.shared_accounts):
            me = node_id("shared_account", sa.id)
            for j, r in enumerate(sa.roles):
                if self.ref(r, self.ix.roles, "role", f"shared_accounts.{i}.roles.{j}"):
                    self.add_edge(me, node_id("role", r), "has_role",
                                  f"shared account {sa.id} has role {r}, so whoever acts as {sa.id} "
                                  f"can use every grant of {r}")
            users = sa.holders if strategy is None else account_users(strategy, sa.id, sa.holders)
            if not users:
                continue  # not in use: every holder authenticates as itself
            for j, h in enumerate(dict.fromkeys(sa.holders)):
                if h not in users:
                    continue
                if self.ref(h, self.ix.agents, "agent", f"shared_accounts.{i}.holders.{j}"):
                    self.add_edge(node_id("agent", h), me, "holds",
                                  f"{h} holds the key of shared account {sa.id}, so it can act as {sa.id}")
            if strategy is not None:  # the shared key carries the union of its users' roles
                carried = set(sa.roles)
                for h in dict.fromkeys(users):
                    for r in self.ix.agents[h].roles if h in self.ix.agents else ():
                        if r not in carried and r in self.ix.roles:
                            carried.add(r)
                            self.add_edge(me, node_id("role", r), "has_role",
                                          f"shared account {sa.id} carries role {r} of its holder {h}: one key "
                                          f"for every holder's work", key=f"has_role:{h}")

        if credentials is not None:
            creds = list(credentials)
        else:
            creds = standing_credentials(s) if strategy is None else strategy_credentials(s, strategy)
        for c in creds:
            self.credential(c)
        self.stored_secrets()
        if self.problems:
            raise InputError(self.problems, title="cannot build the world graph")
        return self.g

    def stored_secrets(self) -> None:
        """``stores_secret`` edges: each resource listing a principal's secret that keeps its key."""
        fatigue = self.s.attacker.mfa_fatigue_probability > 0
        for r in self.s.resources:
            for owner in dict.fromkeys(r.secrets):
                key = node_id("credential", f"key:{owner}")
                if key not in self.g:
                    continue  # no key at rest: a JIT principal, or a shared account nobody uses
                storage = self.strategy.of(owner).secret_storage if self.strategy is not None else "config"
                if storage == "broker" or (storage == "vault" and r.kind != "vault"):
                    continue
                where = "a vault" if r.kind == "vault" else "written in it"
                reason = (f"{r.id} holds {owner}'s key ({where}; secret_storage: {storage}): whoever reads, lists "
                          f"or exports {r.id} obtains it")
                node = self.g.nodes[key]
                usable = True
                if node.get("binding") == "sender_constrained":
                    usable, reason = False, reason + ", but the key is sender-constrained: useless to a thief"
                elif node.get("mfa") and not fatigue:
                    usable, reason = False, reason + ", but the key needs MFA: useless to a thief"
                self.add_edge(node_id("resource", r.id), key, "stores_secret", reason, usable=usable)

    def credential(self, c: CredentialDescriptor) -> None:
        loc = f"credential {c.id}"
        subject = c.subject.split(":", 1)[1] if c.subject.startswith(("agent:", "shared_account:", "human:")) \
            else c.subject
        if subject in self.ix.agents:
            subject_type, subject_text = "agent", f"agent {subject}"
        elif subject in self.ix.shared_accounts:
            subject_type, subject_text = "shared_account", f"shared account {subject}"
        elif subject in self.ix.humans:
            subject_type, subject_text = "human", f"{subject}"
        else:
            self.problems.append(Problem(f"unknown subject {subject!r}", loc, suggestion=did_you_mean(
                subject, list(self.ix.agents) + list(self.ix.shared_accounts) + list(self.ix.humans),
                "agents, shared accounts or humans")))
            return
        scoped = c.grants is not None
        attrs = {k: v for k, v in c.attributes.items() if k not in ("type", "label")}
        me = self.add_node("credential", c.id, kind=c.kind, subject=node_id(subject_type, subject),
                           scoped=scoped, **attrs)
        sub = node_id(subject_type, subject)
        if scoped:
            self.add_edge(me, sub, "acts_for",
                          f"credential {c.id} acts for {subject_text}, within its own scope only",
                          inherits_scope=False)
            for g in c.grants or ():
                tool, action, resource = _grant_key(g)
                info = self.operation(tool, action, resource, loc)
                if info:
                    self.add_edge(me, node_id("resource", resource), "grants",
                                  f"credential {c.id} is scoped to {action} on {resource} through {tool} "
                                  f"({info['sensitivity']} sensitivity; value {info['value']:g})",
                                  key=f"grants:{tool}:{action}", **info)
        else:
            self.add_edge(me, sub, "acts_for",
                          f"credential {c.id} acts for {subject_text}: whoever presents it is {subject} "
                          f"and gets the grants of its roles", inherits_scope=True)
        for h in dict.fromkeys(c.holders):
            h = h.split(":", 1)[1] if h.startswith("agent:") else h
            if not self.ref(h, self.ix.agents, "agent", f"{loc} holders"):
                continue
            holder = node_id("agent", h)
            implied = not scoped and (holder == sub or self.g.has_edge(holder, sub, key="holds"))
            why = (f"{h} runs tasks on {subject}'s credential {c.id}, handed to it, so it can present it"
                   if subject_type == "human" else
                   f"{h} holds credential {c.id} ({c.kind.replace('_', ' ')}), so it can present it")
            self.add_edge(holder, me, "holds", why, implied=implied)


def build_graph(scenario: Scenario, credentials: Sequence[CredentialDescriptor] | None = None,
                strategy: Strategy | None = None) -> nx.MultiDiGraph:
    """The world graph of ``scenario`` (grammar in the module docstring).

    ``strategy`` draws the estate as that strategy runs it (see the module docstring);
    without one, the standing keys of a static-key estate whose agents hold their shared
    accounts. ``credentials=None`` draws the standing credentials (:func:`standing_credentials`,
    or :func:`strategy_credentials`); pass a list to draw other credentials instead
    (``standing_credentials(s) + runtime`` for both). Raises :class:`InputError` on a
    reference the graph cannot resolve.
    """
    return _Builder(scenario, strategy).build(credentials)


def nodes_of_type(graph: nx.MultiDiGraph, type: str) -> list[str]:
    """Node ids of one type, in insertion order."""
    return [n for n, t in graph.nodes(data="type") if t == type]
