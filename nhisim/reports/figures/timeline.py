"""One run's attack, told credential by credential."""

from __future__ import annotations

import math
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from nhisim.errors import InputError, did_you_mean
from nhisim.reports.figures.style import (
    ATTACK,
    DEFENCE,
    HELD,
    OKABE_ITO,
    STYLE,
    clock_axis,
    new_figure,
    one_run,
    run_clock,
)


def _run_meta(ev: pd.DataFrame) -> dict[str, Any]:
    meta = dict(ev.attrs)
    for col in ("strategy", "scenario", "replication"):
        if col not in meta and col in ev.columns and len(ev):
            meta[col] = ev[col].iloc[0]
    return meta


def _short_kind(kind: str) -> str:
    return str(kind).replace("_", " ")


def attack_timeline(events: Any, benign: bool = False, max_benign: int = 12, incident: str | None = None,
                    title: str | None = None) -> Figure:
    """One run's attack, told credential by credential.

    ``events`` is one run's event log (``RunResult.events``, or
    ``comparison.run_events[(strategy, replication)]``). One row per credential the
    attacker held: its whole lifetime (issue → expiry or revocation effective) in grey,
    the part the attacker could use in orange; malicious requests on it as ▲ (allowed)
    and ✕ (denied); vertical lines for the compromise and the detection; ◆ where the
    response revoked it (grey ◆: revoked by its own lifecycle, e.g. at task end) and | where
    that revocation had reached every enforcement point. A hijacked agent's steering
    window is a row of its own. ``benign=True`` adds up to ``max_benign`` other
    credentials alive during the attack; ``incident`` keeps one incident of several.
    """
    from nhisim.metrics.lifecycle import RunLog

    ev = one_run(events)
    meta = _run_meta(ev)
    log = RunLog(ev)
    horizon = float(meta.get("horizon", log.horizon))
    issued = ev[(ev["event"] == "issue") & (ev["decision"].astype(str) == "allow")]
    issue_info = {c: (t, str(k), s) for c, t, k, s in zip(issued["credential"], issued["t"], issued["code"],
                                                           issued["principal"], strict=True)}
    ends = log.credential_end
    incidents = log.incidents
    acquires = ev[ev["event"] == "acquire"]
    requests = ev[(ev["event"] == "request") & ev["malicious"].astype(bool)]
    detects = ev[ev["event"] == "detect"]
    revokes = ev[ev["event"] == "revoke"]
    quarantines = ev[ev["event"] == "quarantine"]
    if incident is not None:
        if incident not in incidents:
            raise InputError.single(f"no incident {incident!r} in this run", location="incident",
                                    suggestion=did_you_mean(incident, incidents, "incidents"))
        incidents = {incident: incidents[incident]}
        acquires, requests, detects, quarantines = (frame[frame["incident"] == incident] for frame in
                                                    (acquires, requests, detects, quarantines))

    rows: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for incident in incidents.values():
        for h in incident.holdings:
            if h.credential == "(steered agent)":
                key = f"steer:{incident.id}"
                host = ev.loc[(ev["event"] == "compromise") & (ev["incident"] == incident.id), "principal"]
                who = host.iloc[0] if len(host) else incident.id
                rows.append({"key": key, "label": f"{who} steered ({incident.kind.replace('_', ' ')})",
                             "life": (h.start, h.end), "held": (h.start, h.end), "useful": True, "attack": True})
                index[key] = len(rows) - 1
    for row in acquires.itertuples(index=False):
        cred = row.credential
        if cred in index:
            continue
        t0, kind, subject = issue_info.get(cred, (row.t, str(row.code), row.principal))
        end = ends.get(cred, math.inf)
        holding = next((h for i in incidents.values() for h in i.holdings if h.credential == cred), None)
        held_end = holding.end if holding is not None else end
        useful = bool(row.value and row.value > 0)
        rows.append({"key": cred, "label": f"{cred} · {_short_kind(kind)} of {subject}", "life": (t0, end),
                     "held": (row.t, held_end), "useful": useful, "attack": True,
                     "why": "" if useful else _useless_reason(str(row.reason))})
        index[cred] = len(rows) - 1
    for cred in requests["credential"].dropna().unique():
        if cred not in index:
            t0, kind, subject = issue_info.get(cred, (float(requests["t"].min()), "credential", "?"))
            rows.append({"key": cred, "label": f"{cred} · {_short_kind(kind)} of {subject}",
                         "life": (t0, ends.get(cred, math.inf)), "held": None, "useful": True, "attack": True})
            index[cred] = len(rows) - 1

    marks = [t for i in incidents.values() for t in (i.start, i.detected)] + list(revokes.loc[
        revokes["credential"].isin(index), "until"].dropna()) + list(quarantines["t"])
    attack_ends = [r["held"][1] for r in rows if r["held"] is not None]
    finite_marks = [t for t in marks + attack_ends if math.isfinite(t)]
    if rows:
        starts = [r["life"][0] for r in rows] + [i.start for i in incidents.values()]
        lo = min(starts)
        cap = max(horizon, *(finite_marks or [horizon]))
        cap = min(cap, max(7 * horizon, lo + 1))
        hi = max([t for t in finite_marks if t <= cap] + [lo + 60.0])
        if lo > 0 and lo < 0.25 * (hi - lo):
            lo = 0.0
    else:
        lo, hi = 0.0, horizon

    if benign:
        alive = [(c, info) for c, info in issue_info.items() if c not in index and info[0] <= hi
                 and ends.get(c, math.inf) >= lo and info[1] != "workload_identity"]
        alive.sort(key=lambda item: (-(min(ends.get(item[0], math.inf), hi) - max(item[1][0], lo)), item[0]))
        for cred, (t0, kind, subject) in alive[:max_benign]:
            rows.append({"key": cred, "label": f"{cred} · {_short_kind(kind)} of {subject}",
                         "life": (t0, ends.get(cred, math.inf)), "held": None, "useful": False, "attack": False})
            index[cred] = len(rows) - 1

    span = max(hi - lo, 1.0)
    left, right = lo - 0.03 * span, hi + 0.06 * span
    min_width = 0.004 * (right - left)  # a 5-minute token stays visible on a two-day axis
    n = max(len(rows), 1)
    present: dict[str, Any] = {}
    with matplotlib.rc_context(STYLE):
        fig = new_figure(14, 3.2 + 0.62 * n + 1.2)
        ax = fig.add_subplot()
        for y, r in enumerate(rows):
            a, b = r["life"]
            b_draw = min(b, right)
            ax.barh(y, max(b_draw - max(a, left), min_width), left=max(a, left), height=0.56, color="#DDDDDD",
                    edgecolor="#888888", linewidth=0.8)
            present["life"] = Patch(facecolor="#DDDDDD", edgecolor="#888888", label="credential lifetime")
            if b > right:
                ax.annotate(f"→ {'never expires' if math.isinf(b) else 'until ' + run_clock(b)}",
                            (right, y), xytext=(-4, 14), textcoords="offset points", ha="right", va="center",
                            fontsize=11, color="#444444")
            if r["held"] is not None and r["useful"]:
                ha, hb = r["held"]
                hb_draw = min(hb, right)
                if hb_draw >= ha:
                    ax.barh(y, max(hb_draw - ha, min_width), left=ha, height=0.56, color=HELD, alpha=0.75, edgecolor=ATTACK,
                            linewidth=1.2)
                    present["held"] = Patch(facecolor=HELD, alpha=0.75, edgecolor=ATTACK,
                                            label="usable by the attacker")
                    if hb > right:
                        ax.annotate("usable " + ("forever" if math.isinf(hb) else f"until {run_clock(hb)}") + " →",
                                    (right, y), xytext=(-4, -14), textcoords="offset points", ha="right",
                                    va="center", fontsize=11, color=ATTACK)
            elif r["held"] is not None:
                ax.plot([r["held"][0]], [y], marker="o", markersize=10, markerfacecolor="white",
                        markeredgecolor=ATTACK, markeredgewidth=2, linestyle="")
                ax.annotate(f"stolen, but {r.get('why') or 'it grants no access by itself'}", (r["held"][0], y),
                            xytext=(10, 12), textcoords="offset points", fontsize=11, color=ATTACK)
                present["useless"] = Line2D([], [], marker="o", markersize=10, markerfacecolor="white",
                                            markeredgecolor=ATTACK, markeredgewidth=2, linestyle="",
                                            label="stolen but useless")
        # malicious requests
        for decision, marker, colour, text in (("allow", "^", ATTACK, "malicious request allowed"),
                                               ("deny", "x", "black", "malicious request denied")):
            sel = requests[(requests["decision"].astype(str) == decision) if decision == "allow"
                           else (requests["decision"].astype(str) != "allow")]
            sel = sel[sel["credential"].isin(index)]
            if len(sel):
                ys = [index[c] + (0.0 if decision == "allow" else 0.0) for c in sel["credential"]]
                ax.scatter(sel["t"], ys, marker=marker, s=70, color=colour, zorder=5, linewidths=2)
                present[decision] = Line2D([], [], marker=marker, color=colour, linestyle="", markersize=9,
                                           markeredgewidth=2, label=f"{text} ({len(sel)})")
        # response: revocations and their propagation
        mine = revokes[revokes["credential"].isin(index)]
        for row in mine.itertuples(index=False):
            y = index[row.credential]
            eff = row.until if not (isinstance(row.until, float) and math.isnan(row.until)) else row.t
            response = str(row.code) == "response"
            colour = DEFENCE if response else "#555555"
            ax.plot([row.t, eff], [y, y], color=colour, linewidth=2.5, zorder=6)
            ax.plot([row.t], [y], marker="D", color=colour, markersize=10, zorder=7, linestyle="")
            ax.plot([eff], [y], marker="|", color=DEFENCE, markersize=26, markeredgewidth=3.5, zorder=7,
                    linestyle="")
            key = "revoke" if response else "revoke_lifecycle"
            present[key] = Line2D([], [], marker="D", color=colour, linestyle="", markersize=9,
                                  label="revoked by the response" if response else "revoked (lifecycle, e.g. task end)")
            present["effective"] = Line2D([], [], marker="|", color=DEFENCE, linestyle="", markersize=18,
                                          markeredgewidth=3, label="revocation effective everywhere")
        top_labels, bottom_labels = [], []
        for i in incidents.values():
            ax.axvline(i.start, color=ATTACK, linewidth=2.5)
            top_labels.append((i.start, f"compromise ({i.id})"))
            present["compromise"] = Line2D([], [], color=ATTACK, linewidth=2.5, label="compromise")
        for row in detects.itertuples(index=False):
            if row.t <= right:
                ax.axvline(row.t, color=DEFENCE, linewidth=2.5, linestyle="--")
                bottom_labels.append((row.t, f"detected ({row.incident})"))
                present["detect"] = Line2D([], [], color=DEFENCE, linewidth=2.5, linestyle="--",
                                           label="detection" + (" (projected)" if str(row.code) == "projected"
                                                                else ""))
        for row in quarantines.itertuples(index=False):
            ax.axvline(row.t, color=OKABE_ITO["reddish_purple"], linewidth=2.5, linestyle="-.")
            present["quarantine"] = Line2D([], [], color=OKABE_ITO["reddish_purple"], linewidth=2.5,
                                           linestyle="-.", label="quarantine")
        _staggered(ax, top_labels, left, right, ATTACK, top=True)
        _staggered(ax, bottom_labels, left, right, DEFENCE, top=False)
        if left <= horizon <= right:
            ax.axvline(horizon, color="#555555", linewidth=1.8, linestyle=":")
            present["horizon"] = Line2D([], [], color="#555555", linewidth=1.8, linestyle=":",
                                        label="end of simulated time (beyond: projected)")
        ax.set_yticks(range(len(rows)), [r["label"] for r in rows])
        ax.set_ylim(len(rows) - 0.4 if rows else 0.6, -0.8)
        ax.set_xlim(left, right)
        clock_axis(ax, left, right)
        ax.set_xlabel("time in the run (day hh:mm)")
        ax.set_ylabel("credential")
        ax.grid(axis="x", alpha=0.3)
        if not incidents:
            ax.text(0.5, 0.5, "no compromise in this run", transform=ax.transAxes, ha="center", va="center",
                    fontsize=16, color="#555555")
        if present:
            fig.legend(handles=list(present.values()), loc="outside lower center", ncols=min(3, len(present)),
                       frameon=False, fontsize=12)
        strategy = meta.get("strategy", "")
        who = f" under {strategy}" if strategy else ""
        seed = meta.get("seed")
        fig.suptitle(title or f"Attack timeline: {meta.get('scenario', '')}{who}"
                     + (f" (seed {seed})" if seed is not None else ""))
    return fig


def _staggered(ax, labels: list[tuple[float, str]], left: float, right: float, colour: str, top: bool) -> None:
    """Labels of vertical lines, each on the first level where it overlaps no other (about 7.5 px a character).

    A label that would run past the right edge is put on the left of its line.
    """
    width_px = max(ax.get_window_extent().width, 1.0)
    per_char = 7.5 / width_px * (right - left)
    levels: list[list[tuple[float, float]]] = []
    for x, text in sorted(labels):
        width = per_char * (len(text) + 2)
        a, b, ha = (x, x + width, "left") if x + width <= right else (x - width, x, "right")
        level = next((k for k, spans in enumerate(levels) if all(b < s0 or a > s1 for s0, s1 in spans)), len(levels))
        if level == len(levels):
            levels.append([])
        levels[level].append((a, b))
        y = (1.0 + 0.075 * level) if top else (0.01 + 0.075 * level)
        ax.text(x, y, f" {text} " if ha == "left" else f"{text} ", transform=ax.get_xaxis_transform(), ha=ha,
                va="bottom", fontsize=11, color=colour, clip_on=False,
                bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.8})


def _useless_reason(reason: str) -> str:
    if "sender" in reason:
        return "sender-constrained: useless to the attacker"
    if "already" in reason:
        return "already expired or revoked"
    return "it grants no access by itself"
