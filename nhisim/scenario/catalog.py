"""The threat catalog: MAESTRO layers and threats, OWASP Agentic T1–T17, ASI01–ASI10, NHI1–NHI10.

The catalog is data (``nhisim/data/catalog.yaml``, read with :mod:`importlib.resources`):
each item has an id, its title as published and a description in our own words.
Scenario files name items in ``tags:``, one list per framework, and :func:`check_tags`
rejects an id the catalog does not know, suggesting the nearest valid one.

How tags name items
-------------------
``tags.maestro``
    a layer ``L1`` .. ``L7``; a threat of a layer ``L<n>:<slug>``
    (``L7:agent-identity-attack``, ``L4:lateral-movement``); a cross-layer threat
    ``cross:<slug>`` (``cross:privilege-escalation``, ``cross:lateral-movement``). The
    slug is the official threat name in lower case, words joined by ``-``. A layer's
    threat also counts as covering its layer.
``tags.owasp_agentic``
    OWASP Agentic AI Threats & Mitigations ``T1`` .. ``T17`` (T16, T17 from v1.1).
``tags.owasp_asi``
    OWASP Top 10 for Agentic Applications 2026 ``ASI01`` .. ``ASI10``.
``tags.owasp_nhi``
    OWASP Non-Human Identities Top 10 2025 ``NHI1`` .. ``NHI10``.

``nhisim catalog`` lists every item with the scenarios that cover it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import yaml

from nhisim.errors import Problem, did_you_mean, nearest

if TYPE_CHECKING:
    from nhisim.scenario.models import Tags

#: framework keys, in display order; each is also the name of its list in ``tags:``
FRAMEWORKS = ("maestro", "owasp_agentic", "owasp_asi", "owasp_nhi")
SHORT_NAMES = {"maestro": "MAESTRO", "owasp_agentic": "OWASP T&M", "owasp_asi": "OWASP ASI",
               "owasp_nhi": "OWASP NHI"}


@dataclass(frozen=True)
class CatalogItem:
    """One catalog entry."""

    framework: str
    id: str
    title: str
    description: str
    kind: str  # layer | layer threat | cross-layer threat | threat | risk
    layer: str | None = None  # MAESTRO layer of a layer threat
    note: str = ""


@dataclass(frozen=True)
class Framework:
    key: str
    title: str
    source: str


def slugify(name: str) -> str:
    """``Agent Identity Attack`` -> ``agent-identity-attack`` (the MAESTRO threat tag form)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class Catalog:
    """Every item of every framework, looked up by (framework, id)."""

    def __init__(self, frameworks: list[Framework], items: list[CatalogItem]) -> None:
        self.frameworks = {f.key: f for f in frameworks}
        self.items = items
        self._by_key = {(i.framework, i.id): i for i in items}

    def __len__(self) -> int:
        return len(self.items)

    def ids(self, framework: str) -> list[str]:
        """The ids of one framework, in catalog order."""
        return [i.id for i in self.items if i.framework == framework]

    def get(self, framework: str, item_id: str) -> CatalogItem | None:
        return self._by_key.get((framework, item_id))

    def find(self, item_id: str) -> list[CatalogItem]:
        """Items with this id in any framework."""
        return [i for i in self.items if i.id == item_id]

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._by_key

    def suggest(self, framework: str, tag: str) -> str:
        """A hint for an unknown tag: its normal form, the right list, or the nearest id."""
        fixed = self.normalize(framework, tag)
        if fixed is not None and fixed != tag:
            return f"did you mean {fixed!r}?"
        elsewhere = [f for f in FRAMEWORKS if f != framework and self.normalize(f, tag) is not None]
        if elsewhere:
            f = elsewhere[0]
            return (f"{self.normalize(f, tag)!r} is an id of {self.frameworks[f].title}; "
                    f"put it under tags.{f}")
        pool = self.ids(framework)
        if framework == "maestro":
            slug = slugify(tag.split(":", 1)[-1])
            matches = [i for i in pool if i.split(":", 1)[-1] == slug]
            if matches:
                return "did you mean " + " or ".join(repr(m) for m in matches) + "?"
            form = "MAESTRO tags are L1..L7, L<n>:<threat-slug> or cross:<threat-slug>"
            best = nearest(tag, pool, cutoff=0.6)
            if best is not None:
                return f"did you mean {best!r}? ({form})"
            best_slug = nearest(slug, [i.split(":", 1)[-1] for i in pool if ":" in i], cutoff=0.6)
            if best_slug is not None:
                matches = [i for i in pool if i.endswith(":" + best_slug)]
                return "did you mean " + " or ".join(repr(m) for m in matches) + f"? ({form})"
            return f"{form}; `nhisim catalog` lists them"
        return did_you_mean(tag, pool, f"{SHORT_NAMES[framework]} ids")

    def normalize(self, framework: str, tag: str) -> str | None:
        """The catalog id a loosely written tag means (``asi1``, ``NHI01:2025``, ``L7:Agent Identity Attack``)."""
        text = str(tag).strip()
        if (framework, text) in self._by_key:
            return text
        if framework == "maestro":
            head, _, rest = text.partition(":")
            head = head.strip().lower()
            if head in ("cross", "cross-layer", "crosslayer", "x"):
                head = "cross"
            elif re.fullmatch(r"(l|layer\s*)?[1-7]", head):
                head = "L" + head[-1]
            else:
                return None
            candidate = head if not rest else f"{head}:{slugify(rest)}"
            return candidate if (framework, candidate) in self._by_key else None
        text = re.sub(r":\s*20\d\d$", "", text.upper().replace(" ", ""))
        match = re.fullmatch(r"(ASI|NHI|T)0*(\d+)", text)
        if not match:
            return None
        prefix, number = match.group(1), int(match.group(2))
        candidate = f"ASI{number:02d}" if prefix == "ASI" else f"{prefix}{number}"
        expected = {"ASI": "owasp_asi", "NHI": "owasp_nhi", "T": "owasp_agentic"}[prefix]
        if expected != framework:
            return None
        return candidate if (framework, candidate) in self._by_key else None

    def covered(self, tags: Tags) -> set[tuple[str, str]]:
        """(framework, id) of every catalog item the tags name (a layer threat also covers its layer)."""
        out: set[tuple[str, str]] = set()
        for framework in FRAMEWORKS:
            for tag in getattr(tags, framework):
                item = self.get(framework, tag)
                if item is None:
                    continue
                out.add((framework, item.id))
                if item.layer:
                    out.add((framework, item.layer))
        return out


def check_tags(tags: Tags, catalog: Catalog | None = None) -> list[Problem]:
    """A problem for every tag the catalog does not know, located as ``tags.owasp_asi.0``."""
    catalog = catalog or load_catalog()
    problems = []
    for framework in FRAMEWORKS:
        seen: set[str] = set()
        for i, tag in enumerate(getattr(tags, framework)):
            where = f"tags.{framework}.{i}"
            if (framework, tag) not in catalog:
                problems.append(Problem(f"unknown {SHORT_NAMES[framework]} id {tag!r}", where,
                                        suggestion=catalog.suggest(framework, tag)))
            elif tag in seen:
                problems.append(Problem(f"{tag!r} is listed twice", where, suggestion="list each id once"))
            seen.add(tag)
    return problems


def _parse(data: dict) -> Catalog:
    frameworks: list[Framework] = []
    items: list[CatalogItem] = []
    fw = data["frameworks"]
    for key in FRAMEWORKS:
        spec = fw[key]
        frameworks.append(Framework(key, spec["title"], spec.get("source", "")))
        if key == "maestro":
            for layer in spec["layers"]:
                items.append(CatalogItem(key, layer["id"], layer["title"], layer["description"], "layer",
                                         note=layer.get("note", "")))
                for threat in layer.get("threats", []):
                    items.append(CatalogItem(key, f"{layer['id']}:{threat['id']}", threat["title"],
                                             threat["description"], "layer threat", layer=layer["id"],
                                             note=threat.get("note", "")))
            for threat in spec.get("cross_layer", []):
                items.append(CatalogItem(key, f"cross:{threat['id']}", threat["title"], threat["description"],
                                         "cross-layer threat", note=threat.get("note", "")))
        else:
            kind = "risk" if key in ("owasp_asi", "owasp_nhi") else "threat"
            for item in spec["items"]:
                items.append(CatalogItem(key, item["id"], item["title"], item["description"], kind,
                                         note=item.get("note", "")))
    return Catalog(frameworks, items)


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The catalog shipped with the package (read once)."""
    text = resources.files("nhisim").joinpath("data", "catalog.yaml").read_text(encoding="utf-8")
    return _parse(yaml.safe_load(text))


def lookup(item_id: str, framework: str | None = None) -> CatalogItem | None:
    """The catalog item with this id (in ``framework`` if given), or None."""
    catalog = load_catalog()
    if framework is not None:
        return catalog.get(framework, item_id)
    found = catalog.find(item_id)
    return found[0] if found else None
