"""Importers: real agent estates and traces turned into scenarios.

Pure data to scenario, nothing simulated: :mod:`~nhisim.importers.mcp` reads MCP client
configurations (Claude Desktop, Claude Code, VS Code, Cursor, Windsurf, Zed, ...) and
:mod:`~nhisim.importers.otel` reads OpenTelemetry GenAI spans; each returns an
:class:`~nhisim.importers.common.Imported`: a validated scenario, its YAML (with a header
and ``# TODO:`` lines where a person must fill something in) and a report of what was
read, what was guessed and what is left to fill in.
"""
