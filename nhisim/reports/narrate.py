"""A run told step by step, in plain sentences a trainer can read out.

:func:`narrate` turns one run's event log into a list of ``(t, sentence, kind)``, in time
order, keeping only the key moments: the compromise, what the attacker did with what it
held (the first time it tried each operation; repeats are counted and told as one
sentence), detection, revocation and its propagation, quarantine, the end of the
attacker's access, and what the controls cost legitimate work (collateral denials,
overreach, denied requests, failed tasks; the first few of each, then a count)::

    t=05:54 COMPROMISE: support-bot's credential leaked (logs): the attacker obtained sta-support-bot#1
            (static key of support-bot). With it the attacker can reach export crm-db, read crm-db,
            ... (potential blast radius 190).
    t=06:04 the attacker used support-bot's static key sta-support-bot#1 to export crm-db (critical):
            ALLOWED under rbac

``kind`` is one of :data:`KINDS`; :data:`MAJOR` are the moments worth a pause in class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from nhisim.reports.format import fmt
from nhisim.scenario.threats import threat_models
from nhisim.sim.decisions import told  # the one decision vocabulary, as a story tells it
from nhisim.sim.state import template_of

KINDS = ("compromise", "acquire", "malicious_allowed", "malicious_denied", "malicious_repeats", "detect", "revoke",
         "propagated", "expired", "quarantine", "release", "give_up", "collateral", "overreach", "discover",
         "redeclare", "switch", "legit_denied", "task_failed", "outage", "retire", "summary")
MAJOR = frozenset({"compromise", "malicious_allowed", "malicious_denied", "detect", "revoke", "propagated", "expired",
                   "quarantine", "release", "give_up", "collateral", "outage", "retire", "summary"})

THREAT_WORDS = {kind: model.LABEL for kind, model in threat_models().items()}  # "a secret leak", ...


def clock(t: float) -> str:
    """``t=02:14``, or ``t=1d 02:14`` after the first day."""
    days, rest = divmod(int(round(max(t, 0.0))), 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    text = f"{h:02d}:{m:02d}"
    return f"t={days}d {text}" if days else f"t={text}"


def _is_false(value: Any) -> bool:
    """False, but not None/NA (no task)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return False
    return not bool(value)


def _words(kind: Any) -> str:
    return str(kind).replace("_", " ")


def _scope_text(scope: Any, limit: int = 4) -> str:
    if not isinstance(scope, str) or not scope:
        return ""
    items = []
    for part in scope.split("|"):
        key, _, value = part.rpartition("=")
        action, _, resource = key.partition(":")
        items.append((float(value or 0), f"{action} {resource}"))
    items.sort(key=lambda item: -item[0])
    names = [name for _, name in items]
    text = ", ".join(names[:limit])
    if len(names) > limit:
        text += f" and {len(names) - limit} more"
    return text


@dataclass
class _Counter:
    """Repeats of one kind of moment after its first few are told."""

    told: set = field(default_factory=set)
    extra: int = 0
    total: int = 0
    allowed: int = 0


class _Narrator:
    def __init__(self, events: pd.DataFrame, scenario: Any, strategy: str, limit: int) -> None:
        self.ev = events
        self.strategy = strategy
        self.limit = limit
        self.horizon = float(events.attrs.get("horizon", math.nan))
        run_end = events.loc[events["event"] == "run_end", "t"]
        if math.isnan(self.horizon):
            self.horizon = float(run_end.iloc[-1]) if len(run_end) else float(events["t"].max())
        self.sensitivity: dict[str, str] = {}
        if scenario is not None:
            self.sensitivity = {r.id: r.sensitivity for r in scenario.resources}
        issued = events[(events["event"] == "issue") & (events["decision"].astype(str) == "allow")]
        self.cred_kind = dict(zip(issued["credential"], issued["code"].astype(str), strict=True))
        self.cred_subject = dict(zip(issued["credential"], issued["principal"], strict=True))
        self.out: list[tuple[float, str, str]] = []
        self.pending: dict[Any, dict[str, Any]] = {}  # repeats not told yet, by incident
        self.seen_malicious: set = set()
        self.seen_incidents = set(events.loc[events["event"] == "compromise", "incident"].dropna())
        self.counters: dict[str, _Counter] = {}
        # (incident, credential) harvested -> (how it was obtained, the resource it was read in), and the
        # resources the attacker then reached with it
        self.harvested: dict[tuple, tuple[str, str]] = {}
        self.reached: dict[tuple, list[str]] = {}

    # -- helpers
    def op(self, action: Any, resource: Any) -> str:
        sens = self.sensitivity.get(resource)
        return f"{action} {resource}" + (f" ({sens})" if sens else "")

    def cred(self, cred: Any, owner: Any = None, possessive: bool = True) -> str:
        kind = _words(self.cred_kind.get(cred, "credential"))
        subject = owner if owner is not None else self.cred_subject.get(cred)
        if possessive and subject:
            return f"{subject}'s {kind} {cred}"
        return f"{kind} {cred}"

    def after(self, t: float) -> str:
        return " (after the simulated horizon: projected)" if t > self.horizon + 1e-9 else ""

    def say(self, t: float, text: str, kind: str) -> None:
        if kind in MAJOR and kind not in ("malicious_allowed", "malicious_denied", "collateral"):
            self.flush()
        self.out.append((float(t), text, kind))

    def flush(self) -> None:
        several = len(self.seen_incidents) > 1
        for incident, p in sorted(self.pending.items(), key=lambda item: item[1]["last"]):
            denied = p["n"] - p["allowed"]
            verdict = ("all ALLOWED" if denied == 0 else "all DENIED" if p["allowed"] == 0
                       else f"{p['allowed']} ALLOWED, {denied} DENIED")
            span = f"between {clock(p['first'])} and {clock(p['last'])}" if p["last"] > p["first"] else \
                f"at {clock(p['first'])}"
            which = f" (incident {incident})" if several else ""
            self.out.append((p["last"], f"the attacker repeated these requests{which} {p['n']} more "
                                        f"time{'s' if p['n'] != 1 else ''} {span}: {verdict} under {self.strategy}",
                             "malicious_repeats"))
        self.pending = {}

    def limited(self, kind: str, key: Any, allowed: bool = False) -> bool:
        """Count a minor moment; True when it should be told (its first ``limit`` distinct keys)."""
        c = self.counters.setdefault(kind, _Counter())
        c.total += 1
        c.allowed += int(allowed)
        if key in c.told:
            return False
        if len(c.told) >= self.limit:
            c.extra += 1
            return False
        c.told.add(key)
        return True

    # -- the story
    def run(self) -> list[tuple[float, str, str]]:
        ev = self.ev
        acquired_at: dict[str, float] = {}
        useful: dict[str, bool] = {}
        quarantined = set(ev.loc[ev["event"] == "quarantine", "principal"].dropna())
        compromise_times = {r.incident: r.t for r in ev[ev["event"] == "compromise"].itertuples(index=False)}
        acquires_at_compromise: dict[str, list] = {}
        for r in ev[ev["event"] == "acquire"].itertuples(index=False):
            acquired_at.setdefault(r.credential, r.t)
            useful[r.credential] = useful.get(r.credential, False) or bool(r.value and r.value > 0)
            if compromise_times.get(r.incident) == r.t:
                acquires_at_compromise.setdefault(r.incident, []).append(r)
        ends = self._credential_ends(acquired_at, useful)
        end_moments = sorted((t, cred, cause) for cred, (t, cause) in ends.items())
        end_i = 0

        for r in ev.itertuples(index=False):
            while end_i < len(end_moments) and end_moments[end_i][0] < r.t:
                self._end_moment(*end_moments[end_i])
                end_i += 1
            event = str(r.event)
            if event == "compromise":
                self._compromise(r, acquires_at_compromise.get(r.incident, []))
            elif event == "acquire":
                at_compromise = compromise_times.get(r.incident) == r.t  # told with the compromise
                if not at_compromise and self.limited("acquire", (r.incident, r.credential)):
                    self._acquire(r)
            elif event == "request":
                if bool(r.malicious):
                    self._malicious(r)
                else:
                    self._benign_request(r, quarantined)
            elif event == "issue" and str(r.decision) == "deny":
                if bool(r.malicious):
                    key = ("issue", r.incident, r.code)
                    if key not in self.seen_malicious:
                        self.seen_malicious.add(key)
                        self.say(r.t, f"the issuer refused the attacker a token as {r.principal}: {r.reason}: "
                                      f"DENIED under {self.strategy}", "malicious_denied")
                    else:
                        self._repeat(r.incident, r.t, False)
                elif self.limited("legit_denied", ("issue", r.principal, r.code)):
                    self.say(r.t, f"the issuer refused {r.principal} a token ({r.reason}): its work cannot go on",
                             "legit_denied")
            elif event == "detect":
                self._detect(r)
            elif event == "revoke":
                self._revoke(r, ends)
            elif event == "quarantine":
                self.say(r.t, f"QUARANTINE: {r.reason}{self.after(r.t)}", "quarantine")
            elif event == "release":
                self.say(r.t, f"the attacker lost control of incident {r.incident}: {r.reason}{self.after(r.t)}",
                         "release")
            elif event == "give_up":
                self.say(r.t, f"the attacker gave up on incident {r.incident}: {r.reason}", "give_up")
            elif event == "task_end" and str(r.decision) == "failed":
                template = template_of(r.task) if isinstance(r.task, str) else "a task"
                if self.limited("task_failed", (r.principal, template, r.reason)):
                    self.say(r.t, f"{r.principal}'s task {template} failed: {r.reason}", "task_failed")
            elif event == "discover" and str(r.code) == "needed":
                if self.limited("discover", (r.principal, r.action, r.resource)):
                    self.say(r.t, f"{r.principal} found at run time that its task needs to "
                                  f"{self.op(r.action, r.resource)}, which its declared intent does not include",
                             "discover")
            elif event == "redeclare":
                if bool(r.malicious):
                    self.say(r.t, f"the steered {r.principal} re-declared its task's intent to include "
                                  f"{self.op(r.action, r.resource)}: {'APPROVED' if r.decision == 'allow' else 'REFUSED'}"
                                  f" under {self.strategy}", "malicious_allowed" if r.decision == "allow"
                             else "malicious_denied")
                elif self.limited("redeclare", (r.principal, r.action, r.resource, r.decision)):
                    tail = str(r.reason).rpartition("; ")[2]
                    self.say(r.t, f"{r.principal} re-declared its task's intent to include "
                                  f"{self.op(r.action, r.resource)}: {tail}", "redeclare")
            elif event == "switch":
                if self.limited("switch", (r.principal, r.code)):
                    self.say(r.t, f"{r.principal}: {r.reason}", "switch")
            elif event == "outage":
                self.say(r.t, f"ISSUER OUTAGE: {r.reason}", "outage")
            elif event == "retire":
                self.say(r.t, f"OFFBOARDING: {r.reason}", "retire")
        while end_i < len(end_moments):
            self._end_moment(*end_moments[end_i])
            end_i += 1
        self.flush()
        self._totals()
        return self.out

    def _credential_ends(self, acquired_at: dict[str, float], useful: dict[str, bool]) -> dict[str, tuple]:
        """When each stolen, usable credential stopped working, and why."""
        from nhisim.metrics.lifecycle import RunLog

        ends = RunLog(self.ev).credential_end
        revokes = self.ev[self.ev["event"] == "revoke"]
        out = {}
        for cred, t_acq in acquired_at.items():
            if not useful.get(cred):
                continue
            end = ends.get(cred, math.inf)
            if not math.isfinite(end) or end <= t_acq:
                continue
            rows = revokes[revokes["credential"] == cred]
            cause = "expired"
            for row in rows.itertuples(index=False):
                if row.until == end:
                    cause = "propagated" if row.t < end else "revoked_now"
            out[cred] = (end, cause)
        return out

    def _end_moment(self, t: float, cred: str, cause: str) -> None:
        if cause == "revoked_now":
            return  # told with the revocation itself
        if cause == "propagated":
            self.say(t, f"the revocation of {cred} has reached every enforcement point: the attacker can no "
                        f"longer use it{self.after(t)}", "propagated")
            return
        kind = self.cred_kind.get(cred, "")
        how = "was rotated away" if kind in ("static_key", "shared_key") else "expired"
        self.say(t, f"{self.cred(cred)} {how}: the attacker can no longer use it{self.after(t)}", "expired")

    def _acquire(self, r: Any) -> None:
        """The attacker came to hold one more credential: harvested from a resource (read by the attacker,
        or by the agent whose context it has), written again where it had leaked, or else."""
        via = r.decision if isinstance(r.decision, str) else ""
        reach = f", which reaches {_scope_text(r.scope)}" if r.value and r.value > 0 else \
            f" ({r.reason.rpartition(': ')[2]})"
        if via in ("harvested", "republished"):
            how = str(r.reason).partition(" (")[0]  # the engine's own words for how it got it
            if via == "harvested":
                self.harvested[(r.incident, r.credential)] = (how, str(r.resource))
            self.say(r.t, f"{how} ({self.cred(r.credential, possessive=False)}){reach}", "acquire")
        else:
            self.say(r.t, f"the attacker now also holds {self.cred(r.credential)}{reach}", "acquire")

    def _compromise(self, r: Any, acquires: Sequence[Any]) -> None:
        kind = THREAT_WORDS.get(str(r.code), _words(r.code))
        head = f"COMPROMISE ({kind}, incident {r.incident}): {r.reason}"
        if r.value and r.value > 0:
            head += f". With it the attacker can reach {_scope_text(r.scope)} (potential blast radius " \
                    f"{fmt('blast_radius', float(r.value))})"
        elif getattr(threat_models().get(str(r.code)), "STEERS_AGENT", False):  # the attacker steers the agent
            head += ". At that moment the agent holds no standing access (potential blast radius 0)"
        else:
            useless = [a for a in acquires if not (a.value and a.value > 0)]
            why = "; ".join(f"{a.credential}: {a.reason}" for a in useless)
            head += ". It gives the attacker nothing usable" + (f" ({why})" if why else "")
        self.say(r.t, head, "compromise")
        for acquired in acquires:  # what came with the compromise in another way (keys the agent had read)
            if isinstance(acquired.decision, str) and self.limited("acquire", (acquired.incident,
                                                                               acquired.credential)):
                self._acquire(acquired)

    def _who(self, r: Any) -> tuple[str, str]:
        presenter = str(r.presenter)
        principal = r.principal
        if presenter.startswith("attacker:"):
            return "the attacker", self.cred(r.credential, principal)
        chain = str(r.chain) if isinstance(r.chain, str) and r.chain else ""
        if chain and ">" in chain and chain.split(">")[0] != presenter:
            host = chain.split(">")[0]
            return f"{presenter} (acting for {host}, which the attacker steers)", self.cred(r.credential, principal)
        owner = "its" if principal == presenter else f"{principal}'s"
        return f"{presenter} (steered by the attacker)", f"{owner} {self.cred(r.credential, possessive=False)}"

    def _malicious(self, r: Any) -> None:
        allowed = str(r.decision) == "allow"
        key = (r.incident, r.action, r.resource, allowed, str(r.code))
        if key in self.seen_malicious:
            self._repeat(r.incident, r.t, allowed)
            return
        self.seen_malicious.add(key)
        who, cred = self._who(r)
        verb = "used" if allowed else "tried to use"
        text = f"{who} {verb} {cred} to {self.op(r.action, r.resource)}: "
        if allowed and (r.incident, r.credential) in self.harvested:
            reached = self.reached.setdefault((r.incident, r.credential), [])
            if r.resource not in reached:
                reached.append(r.resource)
        if allowed:
            text += f"ALLOWED under {self.strategy}"
            if str(r.code) == "approved":
                text += " (a human approved the escalation)"
            elif r.records and r.records > 0 and r.action in ("read", "export", "list"):
                text += f" ({r.records:,.0f} records)"
        else:
            text += f"DENIED under {self.strategy} ({told(str(r.code), r.reason)})"
        self.say(r.t, text, "malicious_allowed" if allowed else "malicious_denied")

    def _repeat(self, incident: Any, t: float, allowed: bool) -> None:
        p = self.pending.setdefault(incident, {"n": 0, "allowed": 0, "first": None, "last": None})
        p["n"] += 1
        p["allowed"] += int(allowed)
        p["first"] = t if p["first"] is None else p["first"]
        p["last"] = t

    def _benign_request(self, r: Any, quarantined: set) -> None:
        code = str(r.code)
        allowed = str(r.decision) == "allow"
        if code == "revoked_response" and r.presenter not in quarantined:
            if self.limited("collateral", (r.presenter, r.credential)):
                self.say(r.t, f"{r.presenter}'s legitimate {self.op(r.action, r.resource)} failed: "
                              f"{self.cred(r.credential)} was revoked by the response to the attack (collateral)",
                         "collateral")
            return
        if _is_false(r.in_intent):
            if self.limited("overreach", (r.presenter, r.action, r.resource, allowed), allowed):
                self.say(r.t, f"{r.presenter} tried to {self.op(r.action, r.resource)}, outside its task's intent "
                              f"(overreach): {'ALLOWED' if allowed else 'DENIED'} under {self.strategy}"
                              + ("" if allowed and code == "allowed" else f" ({told(code, r.reason)})"), "overreach")
            return
        if not allowed and self.limited("legit_denied", (r.presenter, code)):
            self.say(r.t, f"{r.presenter}'s legitimate {self.op(r.action, r.resource)} was DENIED under "
                          f"{self.strategy} ({told(code, r.reason)})", "legit_denied")

    def _detect(self, r: Any) -> None:
        reason = str(r.reason)
        how = reason[len("detected by "):] if reason.startswith("detected by ") else reason
        if how.startswith("a triaged alert: "):
            text = f"DETECTED (incident {r.incident}): an alert was triaged ({how[len('a triaged alert: '):]})"
        else:
            text = f"DETECTED (incident {r.incident}) by {how}"
        until = r.until
        if until is not None and not (isinstance(until, float) and math.isnan(until)):
            delay = until - r.t
            text += (f"; the response acts at {clock(until)} (after {fmt('time_to_revoke_s', delay)})"
                     if delay > 0 else "; the response acts at once")
        self.say(r.t, text, "detect")

    def _revoke(self, r: Any, ends: dict[str, tuple]) -> None:
        cred = r.credential
        stolen = cred in ends
        response = str(r.code) == "response"
        if not (response or stolen):
            return
        until = r.until if not (isinstance(r.until, float) and math.isnan(r.until)) else r.t
        text = (f"REVOKED: {self.cred(cred)} ({r.reason})" if response
                else f"{self.cred(cred)} was revoked by its lifecycle ({r.reason})")
        if until <= r.t:
            text += ", effective everywhere at once"
            if stolen:
                text += ": the attacker can no longer use it"
        else:
            text += f"; the revocation reaches every enforcement point only at {clock(until)} " \
                    f"({fmt('time_to_revoke_s', until - r.t)} later)"
        self.say(r.t, text + self.after(r.t), "revoke")

    def _totals(self) -> None:
        from nhisim.metrics import compute_metrics
        from nhisim.metrics.story import is_story

        t_end = max(float(self.ev["t"].max()), self.horizon) if len(self.ev) else self.horizon
        parts = []
        for kind, words in (("collateral", "legitimate requests failed as collateral"),
                            ("overreach", "overreach attempts"), ("discover", "needed discoveries"),
                            ("redeclare", "intent re-declarations"), ("switch", "goal switches"),
                            ("legit_denied", "legitimate requests denied"), ("task_failed", "tasks failed")):
            c = self.counters.get(kind)
            if c and c.extra:
                extra = f" ({c.allowed} allowed)" if kind == "overreach" else ""
                parts.append(f"{c.total} {words}{extra}")
        if parts:
            self.out.append((t_end, "In all (only the first few were told): " + "; ".join(parts) + ".", "summary"))
        for key, (how, _) in self.harvested.items():
            reached = self.reached.get(key)
            self.out.append((t_end, f"PIVOT (incident {key[0]}): {how} ({key[1]}), and "
                                    + (f"reached {', '.join(reached)} with it." if reached
                                       else "reached nothing with it."), "summary"))
        m = self.ev.attrs.get("metrics") if is_story(self.ev) else None
        try:
            m = m or compute_metrics(self.ev)
        except Exception:  # a log without the columns the metrics need: tell the story without totals
            return
        bits = []
        if not math.isnan(m["blast_radius"]):
            bits += [f"blast radius {fmt('blast_radius', m['blast_radius'])}",
                     f"exposure window {fmt('exposure_window_s', m['exposure_window_s'])}",
                     f"{fmt('malicious_allowed', m['malicious_allowed'])} malicious requests allowed and "
                     f"{fmt('malicious_denied', m['malicious_denied'])} denied"]
        else:
            bits.append("no compromise")
        if not math.isnan(m["task_success_rate"]):
            bits.append(f"{fmt('task_success_rate', m['task_success_rate'])} of tasks succeeded")
        self.out.append((t_end, f"END under {self.strategy}: " + ", ".join(bits) + ".", "summary"))


def narrate(events: Any, scenario: Any = None, strategy: str | None = None, limit: int = 4
            ) -> list[tuple[float, str, str]]:
    """Key moments of one run as ``(t, sentence, kind)``, in time order.

    ``events`` is one run's event log (``RunResult.events`` or a DataFrame); ``scenario``
    (optional) adds each resource's sensitivity; ``limit`` is how many distinct moments of
    each minor kind (overreach, denied legitimate requests, failed tasks, collateral)
    are told before they are only counted.
    """
    frame = getattr(events, "events", events)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("narrate() needs one run's event log (a DataFrame or a RunResult)")
    if strategy is None:
        strategy = getattr(events, "strategy", None) or frame.attrs.get("strategy")
        if strategy is None and "strategy" in frame.columns and len(frame):
            strategy = str(frame["strategy"].iloc[0])
    frame = frame.sort_values("t", kind="stable")
    return _Narrator(frame.reset_index(drop=True), scenario, strategy or "this strategy", limit).run()


def lines(story: Sequence[tuple[float, str, str]]) -> list[str]:
    """``t=06:04 sentence`` lines of a story."""
    return [f"{clock(t)} {text}" for t, text, _ in story]


__all__ = ["KINDS", "MAJOR", "clock", "lines", "narrate"]
