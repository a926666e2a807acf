"""MCP client configurations: the servers they start or reach, and the secrets they hand over.

The shapes the common clients write:

- ``{"mcpServers": {name: server}}``: Claude Desktop (``claude_desktop_config.json``),
  Claude Code (``.mcp.json``; ``~/.claude.json`` also nests them under ``projects``),
  Cursor (``.cursor/mcp.json``), Windsurf (``mcp_config.json``), Gemini CLI, Cline, Roo;
- ``{"servers": {name: server}, "inputs": [...]}``: VS Code (``.vscode/mcp.json``; in
  ``settings.json`` the same under ``"mcp"``), JSON with comments allowed;
- ``{"context_servers": {name: server}}``: Zed.

A server is local (``command``, ``args``, ``env``, ``envFile``; Zed also nests them as
``command: {path, args, env}``) or remote (``url``, Windsurf's ``serverUrl``, Gemini's
``httpUrl``; ``headers``; ``type`` ``sse`` or ``http``).

A **secret** is an environment variable, a header or an argument that holds a credential:
by its name (``*TOKEN*``, ``*KEY``, ``*SECRET*``, ``*PASSWORD*``, ``Authorization``,
``--api-key``, ...), by the shape of its value (``ghp_``, ``xoxb-``, ``sk-``, ``AKIA``, a
JWT, a password inside a connection URL, ...), or both. Its value is never kept: only
its name, where it was found, how it is supplied (written in the file, an environment
variable ``${env:NAME}``/``${NAME}``, a VS Code prompt ``${input:id}``, a file) and a
fingerprint (a SHA-256 of the value, or of the reference) to tell when several servers
hold the same secret. The fingerprint stays in memory; it is never printed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from nhisim.errors import InputError, Problem, clip
from nhisim.importers.common import Source, json_documents, plain, read_input, strip_json_comments

EXAMPLE = "claude_desktop_config.json or .vscode/mcp.json"
REMOTE_TYPES = {"sse": "sse", "http": "http", "streamable-http": "http", "streamablehttp": "http",
                "streamable_http": "http", "remote": "http", "url": "http"}
LOCAL_TYPES = {"stdio", "local", "binary"}

# --------------------------------------------------------------------------- secrets


@dataclass(frozen=True)
class Secret:
    """One secret handed to one server (its value is never kept)."""

    server: str  # the server's name in the configuration
    name: str  # the variable, header or option that carries it
    where: str  # "env", "header", "argument 3", "url"
    source: str  # plaintext | env | input | file | placeholder
    reference: str  # the variable, input id or file it comes from ("" when written in the file)
    looks_like: str  # what its value's shape says it is ("GitHub personal access token"), or ""
    fingerprint: str = field(repr=False, compare=False)  # SHA-256 of the value or of the reference: never shown

    @property
    def supplied(self) -> str:
        """How the secret reaches the server, in words."""
        return {"plaintext": "written in the configuration file",
                "env": f"from the environment variable {self.reference}",
                "input": f"typed at a VS Code prompt ({self.reference}), kept in its secret storage",
                "file": f"read from the file {self.reference}",
                "placeholder": "a placeholder not yet filled in"}[self.source]


# a value's shape: the credential kinds vendors document by prefix
_PREFIXES = (
    (r"github_pat_", "GitHub fine-grained personal access token"),
    (r"gh[pousr]_", "GitHub token"),
    (r"glpat-", "GitLab personal access token"),
    (r"xox[bpaer]-", "Slack token"),
    (r"xapp-", "Slack app token"),
    (r"sk-ant-", "Anthropic API key"),
    (r"sk_(?:live|test)_|rk_(?:live|test)_", "Stripe key"),
    (r"sk-", "API secret key (sk-)"),
    (r"(?:AKIA|ASIA)[A-Z0-9]{12,}", "AWS access key id"),
    (r"AIza[0-9A-Za-z_\-]{20,}", "Google API key"),
    (r"ya29\.", "Google OAuth access token"),
    (r"eyJ[0-9A-Za-z_\-]+\.eyJ", "JSON Web Token"),
    (r"sntry[su]_", "Sentry token"),
    (r"lin_api_", "Linear API key"),
    (r"(?:ntn_|secret_)[0-9A-Za-z]{20,}", "Notion integration token"),
    (r"hf_[0-9A-Za-z]{20,}", "Hugging Face token"),
    (r"npm_[0-9A-Za-z]{20,}", "npm token"),
    (r"pypi-", "PyPI token"),
    (r"SG\.[0-9A-Za-z_\-]{16,}", "SendGrid API key"),
    (r"shp(?:at|ss|ca)_", "Shopify token"),
    (r"dop_v1_", "DigitalOcean token"),
    (r"-----BEGIN [A-Z ]*PRIVATE KEY", "private key"),
)
_PREFIX = re.compile("|".join(f"(?P<p{i}>{pattern})" for i, (pattern, _) in enumerate(_PREFIXES)))
_SECRET_NAME = re.compile(
    r"token|secret|passw(or)?d|passphrase|api[-_]?key|apikey|access[-_]?key|private[-_]?key|credential|"
    r"authorization|^auth$|[-_]auth$|cookie|session|(^|[-_])pat($|[-_])|(^|[-_])key$|^x-api-key$|dsn|"
    r"connection[-_]?string|database[-_]?url|db[-_]?url", re.IGNORECASE)
# names that say "not the secret itself" even when a secret word is in them
_NOT_SECRET_NAME = re.compile(r"(^|[-_])(id|url|uri|path|dir|file|host|port|region|mode|level|timeout|name|"
                              r"user(name)?|type|header|expir\w*)$", re.IGNORECASE)
_CONNECTION_NAME = re.compile(r"dsn|connection[-_]?string|database[-_]?url|db[-_]?url", re.IGNORECASE)
_SECRET_OPTION = re.compile(r"^--?(token|api[-_]?key|apikey|key|password|passwd|secret|client[-_]?secret|"
                            r"auth|auth[-_]?token|access[-_]?token|bearer|pat|cookie)$", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"^(<[^>]*>|\[[^\]]*\]|your[-_ ].*|.*[-_ ]here|replace.*|change[-_ ]?me|x{3,}|\.{3}|"
                          r"\*{3,}|todo|tbd|null|none|changeit)$", re.IGNORECASE)
# ${input:id}, ${env:NAME}, ${NAME}, ${NAME:-default}, {env:NAME} (opencode), ${file:/path} (Windsurf)
_REFERENCE = re.compile(r"\$\{(?P<kind>input|env|file):(?P<ref>[^}]+)\}|\$\{(?P<var>[A-Za-z_][A-Za-z0-9_]*)"
                        r"(?::-[^}]*)?\}|\{env:(?P<oc>[A-Za-z_][A-Za-z0-9_]*)\}")
# variables the clients fill in themselves: paths, not secrets
_PREDEFINED = {"workspaceFolder", "workspaceFolderBasename", "userHome", "pathSeparator", "cwd", "fileDirname",
               "workspaceRoot", "CLAUDE_PLUGIN_ROOT", "HOME"}
_SCHEME = re.compile(r"^(bearer|basic|token|bot|apikey|api-key)\s+", re.IGNORECASE)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like(value: str) -> str:
    """What a value's shape says it is (a GitHub token, a JWT, ...), or ''."""
    match = _PREFIX.match(_SCHEME.sub("", value.strip()))
    if not match:
        return ""
    index = int(next(k for k, v in match.groupdict().items() if v is not None)[1:])
    return _PREFIXES[index][1]


def secret_name(name: str) -> bool:
    """Whether a variable, header or option name says it carries a secret."""
    if not _SECRET_NAME.search(name):
        return False
    return not _NOT_SECRET_NAME.search(name) or bool(_CONNECTION_NAME.search(name))


def url_password(value: str) -> str | None:
    """The password inside a URL's ``user:password@`` part, or None."""
    if "://" not in value:
        return None
    try:
        password = urlsplit(value.strip()).password
    except ValueError:
        return None
    return password or None


def redacted_url(value: str) -> str:
    """A URL with no user, password, query or fragment: safe to show."""
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<an unreadable URL>"
    return plain(f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "<a URL>", 120)


def classify(server: str, name: str, where: str, value: str, *, by_name: bool, scope: str) -> Secret | None:
    """The secret ``value`` is, if it is one: by its name (``by_name``), its shape, or a reference.

    ``scope`` keeps references that mean different things apart: a VS Code input id is the
    file's own, an environment variable is the machine's.
    """
    name = plain(name, 80)
    text = value.strip()
    core = _SCHEME.sub("", text)
    reference = next((m for m in _REFERENCE.finditer(text) if m.group("var") not in _PREDEFINED), None)
    if reference is not None:
        if not by_name and not _SCHEME.match(text):
            return None  # ${workspaceFolder}-like values of ordinary settings
        kind = reference.group("kind") or "env"
        ref = reference.group("ref") or reference.group("var") or reference.group("oc")
        ref_scope = scope if kind == "input" else ""
        return Secret(server, name, where, kind, plain(ref, 80), "", _digest(f"{kind}:{ref_scope}:{ref}"))
    shape = looks_like(text)
    password = url_password(text)
    if password is not None:
        return Secret(server, name, where, "plaintext", "", "password in a connection URL", _digest(password))
    if not (by_name or shape):
        return None
    if by_name and _CONNECTION_NAME.search(name) and not shape:
        return None  # a connection string with no password in it
    if not core or _PLACEHOLDER.match(core):
        return Secret(server, name, where, "placeholder", "", "", _digest(f"placeholder:{server}:{name}"))
    if by_name and not shape and ("/" in core or core.startswith("~")) and "credential" in name.lower():
        return Secret(server, name, where, "file", plain(core, 120), "a key file", _digest(f"file:{core}"))
    return Secret(server, name, where, "plaintext", "", shape, _digest(core))


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    """One configured MCP server, as much as the importer needs (no secret values)."""

    name: str
    client: str
    config: str
    transport: str  # stdio | sse | http
    command: str = ""
    package: str = ""  # the argument that names the server's package or script, when one does
    url: str = ""  # redacted: scheme, host, port and path only
    secrets: list[Secret] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)  # names of the other variables and headers
    disabled: bool = False
    notes: list[str] = field(default_factory=list)
    match_text: str = ""  # name, command, package-like arguments and URL, lower case, for the catalogue

    @property
    def launch(self) -> str:
        """How the server is started or reached, in words safe to show."""
        if self.transport == "stdio":
            return plain(" ".join(filter(None, [os.path.basename(self.command), self.package])), 160)
        return f"{self.transport} {self.url}"


@dataclass
class ClientConfig:
    """One configuration file: which client wrote it, its servers, its notes."""

    path: str
    client: str
    servers: list[Server]
    notes: list[str] = field(default_factory=list)


def _client_name(path: Path, shape: str) -> str:
    name = path.name.lower()
    text = str(path).replace("\\", "/").lower()
    if shape == "servers":
        return "VS Code"
    if shape == "context_servers":
        return "Zed"
    if name == "claude_desktop_config.json":
        return "Claude Desktop"
    if name in {".mcp.json", ".claude.json"} or "/.claude/" in text:
        return "Claude Code"
    if "/.cursor/" in text or name == "cursor.json":
        return "Cursor"
    if "windsurf" in text or "codeium" in text:
        return "Windsurf"
    if "/.gemini/" in text:
        return "Gemini CLI"
    if "cline" in name or "roo" in name:
        return "Cline"
    return "MCP client"


def _servers_of(data: Any, name: str) -> tuple[str, list[tuple[str, dict, str]], Any]:
    """(shape, [(location, servers mapping, prefix)], inputs) of a configuration document."""
    if not isinstance(data, Mapping):
        raise InputError.single(f"an MCP configuration is a JSON object, not a {_kind(data)}", file=name, line=1,
                                suggestion=f'expected {{"mcpServers": {{...}}}} or {{"servers": {{...}}}} ({EXAMPLE})')
    found: list[tuple[str, dict, str]] = []
    inputs: Any = data.get("inputs", [])
    if "mcpServers" in data:
        found.append(("mcpServers", data["mcpServers"], ""))
    if "servers" in data:
        found.append(("servers", data["servers"], ""))
    if isinstance(data.get("mcp"), Mapping) and "servers" in data["mcp"]:  # VS Code settings.json
        found.append(("mcp.servers", data["mcp"]["servers"], ""))
        inputs = data["mcp"].get("inputs", inputs)
    if "context_servers" in data:
        found.append(("context_servers", data["context_servers"], ""))
    projects = data.get("projects")
    if isinstance(projects, Mapping):  # ~/.claude.json: per-project servers
        for folder, project in projects.items():
            if isinstance(project, Mapping) and isinstance(project.get("mcpServers"), Mapping) and project["mcpServers"]:
                prefix = Path(str(folder)).name or "project"
                found.append((f"projects.{folder}.mcpServers", project["mcpServers"], prefix))
    if not found:
        keys = ", ".join(clip(k, 40) for k in list(data)[:8]) or "none"
        raise InputError.single(f"no MCP servers: the file has no mcpServers, servers or context_servers key "
                                f"(its keys: {keys})", file=name, line=1,
                                suggestion=f"give the MCP configuration of a client ({EXAMPLE})")
    shape = "servers" if found[0][0] in ("servers", "mcp.servers") else found[0][0].split(".")[0]
    return shape, found, inputs


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def read_config(path: Source) -> ClientConfig:
    """Read one client configuration: its servers and their secrets, or bad input saying what is wrong."""
    name = str(path)
    text = read_input(path, "MCP client configuration", EXAMPLE)
    documents = json_documents(strip_json_comments(text), name, what="MCP client configuration")
    if len(documents) > 1:
        raise InputError.single(f"the file holds {len(documents)} JSON documents; a configuration is one object",
                                file=name, line=documents[1][1], suggestion="give one client configuration file")
    data = documents[0][0]
    shape, found, inputs = _servers_of(data, name)
    client = _client_name(Path(name), shape)
    problems: list[Problem] = []
    notes: list[str] = []
    prompts = _inputs(inputs, problems)
    servers: list[Server] = []
    for location, mapping, prefix in found:
        if not isinstance(mapping, Mapping):
            problems.append(Problem(f"must be an object of servers by name, not a {_kind(mapping)}", location,
                                    suggestion='e.g. {"github": {"command": "npx", "args": [...]}}'))
            continue
        for server_name, entry in mapping.items():
            label = f"{prefix}/{server_name}" if prefix else str(server_name)
            server = _server(label, entry, f"{location}.{server_name}", client, name, problems)
            if server is not None:
                servers.append(server)
    for server in servers:
        for secret in server.secrets:
            if secret.source == "input" and secret.reference not in prompts:
                server.notes.append(f"{secret.name} refers to ${{input:{secret.reference}}}, which the file's "
                                    "inputs do not declare")
            elif secret.source == "input" and not prompts[secret.reference]:
                server.notes.append(f"the input {secret.reference} is not marked password: true, so VS Code "
                                    "shows what is typed")
    if problems:
        raise InputError(problems, file=name, title="invalid MCP configuration")
    if not servers:
        raise InputError.single("the configuration lists no MCP servers", file=name,
                                suggestion="add a server, or give the configuration that lists them")
    return ClientConfig(name, client, servers, notes)


def _inputs(inputs: Any, problems: list[Problem]) -> dict[str, bool]:
    """VS Code's declared inputs: id -> whether it is a password prompt."""
    if inputs in (None, []):
        return {}
    if not isinstance(inputs, list):
        problems.append(Problem(f"must be a list of input definitions, not a {_kind(inputs)}", "inputs"))
        return {}
    out = {}
    for i, item in enumerate(inputs):
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            problems.append(Problem("an input needs an id", f"inputs[{i}]",
                                    suggestion='e.g. {"type": "promptString", "id": "github-pat", "password": true}'))
            continue
        out[item["id"]] = bool(item.get("password", False))
    return out


def _strings(value: Any, location: str, problems: list[Problem], what: str) -> list[str] | None:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                              for v in value):
        problems.append(Problem(f"{what} must be a list of strings", location, suggestion='e.g. ["-y", "package"]'))
        return None
    return [str(v) for v in value]


def _mapping(value: Any, location: str, problems: list[Problem], what: str) -> dict[str, str] | None:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(Problem(f"{what} must be an object of names and values, not a {_kind(value)}", location))
        return None
    out = {}
    for key, item in value.items():
        if item is None:  # some clients use null to unset an inherited variable
            continue
        if isinstance(item, (dict, list)):
            problems.append(Problem(f"{what} values are strings; {clip(key, 40)!r} is a {_kind(item)}",
                                    f"{location}.{key}"))
            continue
        out[str(key)] = str(item).lower() if isinstance(item, bool) else str(item)
    return out


def _server(label: str, entry: Any, location: str, client: str, file: str,
            problems: list[Problem]) -> Server | None:
    label = plain(label, 100)  # a name is shown and written: no control characters, not 10,000 characters
    if not isinstance(entry, Mapping):
        problems.append(Problem(f"a server is an object with command or url, not a {_kind(entry)}", location,
                                suggestion='e.g. {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]}'))
        return None
    source = entry.get("source") if isinstance(entry.get("source"), Mapping) else None  # Zed's older shape
    body: Mapping = {**entry, **source} if source else entry
    command = body.get("command")
    args_value, env_value = body.get("args"), body.get("env")
    if isinstance(command, Mapping):  # Zed: command: {path, args, env}
        args_value = command.get("args", args_value)
        env_value = command.get("env", env_value)
        command = command.get("path")
    url = body.get("url") or body.get("serverUrl") or body.get("httpUrl")
    kind = str(body.get("type") or body.get("transport") or "").lower()
    if command is None and url is None:
        problems.append(Problem("the server has neither command (a local server) nor url (a remote one)", location,
                                suggestion='add "command" with "args", or "url" (and "headers")'))
        return None
    if command is not None and not isinstance(command, str):
        problems.append(Problem(f"command must be a string, not a {_kind(command)}", f"{location}.command"))
        return None
    if url is not None and not isinstance(url, str):
        problems.append(Problem(f"url must be a string, not a {_kind(url)}", f"{location}.url"))
        return None
    args = _strings(args_value, f"{location}.args", problems, "args")
    env = _mapping(env_value, f"{location}.env", problems, "env")
    headers = _mapping(body.get("headers"), f"{location}.headers", problems, "headers")
    if args is None or env is None or headers is None:
        return None
    if url is not None and command is None:
        transport = REMOTE_TYPES.get(kind.replace(" ", ""), "sse" if url.rstrip("/").endswith("/sse") else "http")
    else:
        transport = "stdio"
    server = Server(label, client, file, transport, command=command or "", disabled=bool(body.get("disabled")))
    if kind and kind not in REMOTE_TYPES and kind not in LOCAL_TYPES:
        server.notes.append(f"unknown type {plain(kind, 30)!r}: taken as {transport}")
    scope = os.path.abspath(file)
    found: list[Secret] = []
    for key, value in env.items():
        secret = classify(label, key, "env", value, by_name=secret_name(key), scope=scope)
        (found.append(secret) if secret else server.settings.append(key))
    for key, value in headers.items():
        secret = classify(label, key, "header", value, by_name=secret_name(key), scope=scope)
        (found.append(secret) if secret else server.settings.append(key))
    if url is not None:
        server.url = redacted_url(url)
        found.extend(_url_secrets(label, url, "url", scope))
    found.extend(_argument_secrets(label, args, env, scope))
    env_file = body.get("envFile")
    if isinstance(env_file, str) and env_file:
        server.notes.append(f"loads more variables from {plain(env_file, 80)} (envFile), not read: list its "
                            "secrets by hand")
    server.secrets = _unique(found)
    server.package = _package(args)
    words = [label, os.path.basename(command or ""), server.package, server.url]
    words += [a for a in args if not _holds_secret(a)]
    server.match_text = " ".join(words).lower()
    return server


def _unique(secrets: list[Secret]) -> list[Secret]:
    seen: set[str] = set()
    out = []
    for secret in secrets:
        if secret.fingerprint not in seen:
            seen.add(secret.fingerprint)
            out.append(secret)
    return out


def _holds_secret(arg: str) -> bool:
    return bool(looks_like(arg) or url_password(arg) or "=" in arg and secret_name(arg.split("=", 1)[0].lstrip("-")))


def _package(args: list[str]) -> str:
    """The argument naming the server's package or script (shown and matched), if one does."""
    for arg in args:
        if arg.startswith("-") or _holds_secret(arg) or "://" in arg:
            continue
        if arg.startswith("@") or "mcp" in arg.lower() or "server" in arg.lower() or arg.endswith((".py", ".js")):
            return plain(os.path.basename(arg) if arg.endswith((".py", ".js")) else arg, 100)
    return ""


def _url_secrets(server: str, url: str, where: str, scope: str) -> list[Secret]:
    found = []
    secret = classify(server, "connection URL password", where, url, by_name=False, scope=scope)
    if secret is not None:
        found.append(secret)
    try:
        query = parse_qsl(urlsplit(url.strip()).query)
    except ValueError:
        query = []
    for key, value in query:
        if secret_name(key) or looks_like(value):
            secret = classify(server, f"{key} (URL query)", where, value, by_name=True, scope=scope)
            if secret is not None:
                found.append(secret)
    return found


def _argument_secrets(server: str, args: list[str], env: Mapping[str, str], scope: str) -> list[Secret]:
    """Secrets on the command line: option values, header options, connection URLs, Docker ``-e NAME``."""
    found: list[Secret] = []
    i = 0
    while i < len(args):
        arg, where = args[i], f"argument {i + 1}"
        following = args[i + 1] if i + 1 < len(args) else None
        option, _, attached = arg.partition("=")
        if option in ("-e", "--env") and following is not None:  # docker run -e NAME[=value]
            name, has_value, value = following.partition("=")
            if has_value and secret_name(name):
                secret = classify(server, name, f"argument {i + 2}", value, by_name=True, scope=scope)
                found += [secret] if secret else []
            elif not has_value and secret_name(name) and name not in env:
                found.append(Secret(server, name, f"argument {i + 2}", "env", plain(name, 80), "",
                                    _digest(f"env::{name}")))
            i += 2
            continue
        if option.lower() in ("--header", "-h", "--headers") and (attached or following):
            header = attached or following or ""
            key, _, value = header.partition(":")
            if secret_name(key.strip()):
                secret = classify(server, key.strip(), where, value.strip(), by_name=True, scope=scope)
                found += [secret] if secret else []
            i += 1 if attached else 2
            continue
        if _SECRET_OPTION.match(option):
            value = attached if attached else following
            if value is not None:
                secret = classify(server, option.lstrip("-"), where, value, by_name=True, scope=scope)
                found += [secret] if secret else []
                i += 1 if attached else 2
                continue
        if "://" in arg:
            found.extend(_url_secrets(server, arg, where, scope))
        elif looks_like(arg):
            secret = classify(server, f"argument {i + 1}", where, arg, by_name=False, scope=scope)
            found += [secret] if secret else []
        i += 1
    return found
