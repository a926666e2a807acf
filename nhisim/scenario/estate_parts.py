"""The parts a synthetic estate is drawn from (for :mod:`nhisim.scenario.generate`).

Familiar systems with their kind, typical sensitivity and size; which systems one tool
plausibly fronts together; departments with their teams, job functions and where their
work goes; how often a tool exposes each action, how often work needs it and how long it
takes; task rates, deadlines, tool kinds and environments. Plain data: the generator
draws from it with its own seeded random source.
"""

from __future__ import annotations

from typing import Any

# base name, kind, typical sensitivity, log10 range of records
RESOURCES: tuple[tuple[str, str, str, tuple[float, float]], ...] = (
    ("crm", "saas", "high", (4, 6.5)),
    ("customer-db", "database", "high", (4.5, 7)),
    ("billing-ledger", "database", "critical", (4, 6.5)),
    ("payroll", "saas", "critical", (2.5, 4.5)),
    ("hr-records", "database", "critical", (2.5, 4.5)),
    ("ticket-queue", "saas", "medium", (3.5, 6)),
    ("support-kb", "saas", "low", (2.5, 4)),
    ("wiki", "saas", "low", (3, 5)),
    ("source-repo", "repository", "high", (3, 5.5)),
    ("ci-pipeline", "system", "high", (3, 5)),
    ("k8s-cluster", "system", "critical", (2, 4)),
    ("feature-flags", "system", "medium", (2, 3.5)),
    ("secrets-vault", "vault", "critical", (2, 4)),
    ("cloud-account", "system", "critical", (2, 4)),
    ("log-bucket", "bucket", "medium", (6, 8)),
    ("backups", "bucket", "high", (4, 7)),
    ("analytics-warehouse", "warehouse", "high", (6, 8)),
    ("marketing-assets", "bucket", "low", (3, 5)),
    ("product-catalog", "database", "low", (3, 5)),
    ("contracts", "document-store", "high", (3, 5)),
    ("email", "saas", "medium", (5, 7)),
    ("chat", "saas", "medium", (5, 7)),
    ("calendar", "saas", "low", (3, 5)),
    ("vendor-portal", "saas", "medium", (2.5, 4.5)),
)
RESOURCE_INFO = {base: (kind, sens, recs) for base, kind, sens, recs in RESOURCES}
# systems that one tool plausibly fronts together
DOMAINS = {
    "customer": ("crm", "customer-db", "ticket-queue", "support-kb", "product-catalog"),
    "finance": ("billing-ledger", "payroll", "vendor-portal", "contracts"),
    "people": ("hr-records", "calendar"),
    "engineering": ("source-repo", "ci-pipeline", "k8s-cluster", "feature-flags", "secrets-vault", "cloud-account"),
    "data": ("analytics-warehouse", "log-bucket", "backups"),
    "collaboration": ("email", "chat", "wiki", "marketing-assets"),
}
DOMAIN = {base: domain for domain, bases in DOMAINS.items() for base in bases}

# department: (share of teams, resources it works on, team names, job-function verbs, outbound destination)
DEPARTMENTS: dict[str, tuple[float, tuple[str, ...], tuple[str, ...], tuple[str, ...], str]] = {
    "engineering": (
        3.0,
        ("source-repo", "ci-pipeline", "k8s-cluster", "feature-flags", "log-bucket", "secrets-vault"),
        ("platform", "payments", "mobile", "web", "search"),
        ("review", "deploy", "test", "release", "patch", "monitor"),
        "internal",
    ),
    "support": (
        2.0,
        ("ticket-queue", "support-kb", "crm", "customer-db", "chat", "email"),
        ("tier1", "tier2", "escalations", "billing-support"),
        ("triage", "answer", "escalate", "refund", "summarise"),
        "customers",
    ),
    "sales": (
        1.5,
        ("crm", "customer-db", "email", "product-catalog", "calendar", "contracts"),
        ("inbound", "outbound", "renewals", "partners"),
        ("qualify", "quote", "follow-up", "forecast", "enrich"),
        "customers",
    ),
    "finance": (
        1.2,
        ("billing-ledger", "payroll", "analytics-warehouse", "contracts", "email", "vendor-portal"),
        ("payables", "receivables", "treasury", "fpa"),
        ("reconcile", "invoice", "forecast", "audit", "pay"),
        "partners",
    ),
    "data": (
        1.2,
        ("analytics-warehouse", "customer-db", "log-bucket", "backups", "product-catalog"),
        ("analytics", "ml", "etl"),
        ("ingest", "clean", "report", "enrich", "train"),
        "internal",
    ),
    "it-ops": (
        1.0,
        ("cloud-account", "backups", "k8s-cluster", "chat", "wiki", "secrets-vault"),
        ("infra", "helpdesk", "identity"),
        ("provision", "backup", "patch", "monitor", "rotate"),
        "internal",
    ),
    "security": (
        0.8,
        ("secrets-vault", "log-bucket", "cloud-account", "k8s-cluster", "source-repo"),
        ("secops", "appsec", "grc"),
        ("scan", "rotate", "investigate", "audit", "harden"),
        "internal",
    ),
    "hr": (
        0.7,
        ("hr-records", "payroll", "calendar", "email", "wiki"),
        ("people-ops", "recruiting", "benefits"),
        ("onboard", "offboard", "schedule", "screen", "answer"),
        "internal",
    ),
    "marketing": (
        0.8,
        ("marketing-assets", "email", "crm", "analytics-warehouse", "product-catalog"),
        ("growth", "content", "events"),
        ("segment", "publish", "campaign", "report", "localise"),
        "customers",
    ),
    "legal": (
        0.5,
        ("contracts", "wiki", "email", "hr-records", "vendor-portal"),
        ("commercial", "privacy"),
        ("review", "draft", "redline", "archive"),
        "partners",
    ),
}
DEPARTMENT_NAMES = tuple(DEPARTMENTS)
DEPARTMENT_WEIGHTS = tuple(v[0] for v in DEPARTMENTS.values())

# order in which a task performs its operations; how often a tool exposes each action;
# how often a job function needs it; its service time
ACTION_ORDER = ("list", "read", "execute", "write", "send", "export", "delete", "admin")
ACTION_RANK = {a: i for i, a in enumerate(ACTION_ORDER)}
EXPOSED = {"list": 0.5, "write": 0.6, "export": 0.3, "delete": 0.25, "send": 0.15, "execute": 0.1, "admin": 0.15}
EXPOSED_BY_KIND = {
    "saas": {"send": 0.5},
    "system": {"execute": 0.7, "admin": 0.4},
    "repository": {"execute": 0.3},
    "vault": {"admin": 0.5},
}
NEEDED = {"read": 5.0, "list": 2.0, "write": 3.0, "send": 1.5, "export": 1.0, "execute": 1.0, "delete": 0.4, "admin": 0.2}
SERVICE: dict[str, tuple[Any, ...]] = {
    "list": ({"exponential": 2}, {"exponential": 5}),
    "read": ({"exponential": 5}, {"exponential": 10}, {"exponential": 20}),
    "write": ({"exponential": 10}, {"exponential": 20}, {"exponential": 30}),
    "send": ({"exponential": 5}, {"uniform": [2, 15]}),
    "export": ({"lognormal": {"median": 120, "sigma": 0.8}}, {"lognormal": {"median": 600, "sigma": 1.0}}),
    "execute": ({"exponential": 60}, {"lognormal": {"median": 300, "sigma": 0.7}}),
    "delete": ({"exponential": 10},),
    "admin": ({"exponential": 30}, {"fixed": 60}),
}
TASK_RATES = ("30/h", "12/h", "6/h", "4/h", "4/h", "2/h", "2/h", "1/h", "8/d", "2/d")
TASK_RATE_WEIGHTS = (1, 2, 3, 4, 4, 3, 3, 2, 1, 1)
ORCHESTRATION_RATES = ("6/h", "4/h", "2/h", "1/h", "8/d")
DEADLINES = ("15m", "1h", "4h", "1d")
TOOL_KINDS = ("api", "mcp", "cli")
GENERIC_TOOLS = ("integration-api", "sql-cli", "automation-mcp", "browser-mcp", "admin-cli", "workflow-api",
                  "shell-cli", "data-gateway-api", "filesystem-mcp", "ops-console-api")
ENVIRONMENTS = ("prod", "dev", "staging")
ENVIRONMENT_WEIGHTS = (0.8, 0.12, 0.08)

DELEGATION_SHARE = 0.5
