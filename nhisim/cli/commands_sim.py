"""Commands that simulate: ``run`` and ``compare``."""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from nhisim.cli.common import (
    JSON_OPTION,
    STDIN_NAME,
    app,
    force_if,
    is_stdio,
    make_console,
    messages_console,
    no_stdio_folder,
    output_target,
    parse_sets,
    plain,
    runs_bar,
    scenario_arg,
    stdin_once,
    time_bar,
)
from nhisim.cli.envelope import emit
from nhisim.errors import InputError
from nhisim.experiments.logfiles import LogFile, LogParquet, ParquetRows, events_schema
from nhisim.files import FolderLock, make_folders, naming, temporary_beside, whole_file, whole_files

console = make_console()
err = make_console(stderr=True)


def _split(values: str | None) -> list[str] | None:
    return [v.strip() for v in values.split(",") if v.strip()] if values else None


def output_dir(path: Path) -> Path:
    """A results folder we may write to (created if missing), or a clear error."""
    if path.exists() and not path.is_dir():
        raise InputError.single("is a file, not a folder", file=str(path), location="--out",
                                suggestion="give a folder for --out")
    try:
        make_folders(path)
        probe = path / ".nhisim-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise InputError.single(f"cannot write to this folder: {exc.strerror or exc}", file=str(path),
                                location="--out", suggestion="choose a folder you can write to") from None
    return path


@app.command(epilog="Example: nhisim run scenarios/leaked_key.yaml --strategy zsp --seed 3")
def run(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="scenario file (`-`: standard input)"),
    strategy: str = typer.Option("rbac", "--strategy", "-s", help="strategy name (scenario's or a preset)"),
    seed: int = typer.Option(None, "--seed", help="random seed (default: the scenario's run.seed)"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path, e.g. strategies.zsp.ttl=1h"),
    events: Path = typer.Option(None, "--events", help="write the event log to this Parquet or CSV file (`-`: CSV "
                                                       "on stdout, the metrics then on stderr)"),
    as_json: bool = JSON_OPTION,
    engine: str = typer.Option(None, "--engine", help="decision engine: native or cedar (default: each strategy's "
                                                      "engine, else native)"),
    force: bool = typer.Option(False, "--force", help="run even when the work estimate is over the limit "
                                                      "(NHISIM_FORCE=1 does the same)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar (for logs and scripts)"),
) -> None:
    """Run one scenario under one strategy with one seed and print its metrics."""
    from contextlib import nullcontext

    force_if(force)
    from nhisim.experiments import run as run_once
    from nhisim.reports.format import fmt, label

    csv = events is not None and (is_stdio(events) or events.suffix.lower() == ".csv")
    writing = (output_target(events, "--events", "event log", suffix=".csv" if csv else ".parquet",
                             binary=not csv, as_json=as_json) if events is not None else nullcontext())
    with writing as target:
        source, overrides = scenario_arg(file, parse_sets(set_))
        with contextlib.ExitStack() as held:
            log_to = None  # without --events, the run keeps no log at all
            if target is not None:  # the log goes to the file as the run writes it, never held whole
                temp = held.enter_context(whole_file(target))
                fh = held.enter_context(open(temp, "wb"))  # opened here: Arrow cannot open every name
                log_to = held.enter_context(CsvRows(fh) if csv else LogParquet(fh)).add
            with time_bar(quiet or as_json, f"{plain(STDIN_NAME if is_stdio(file) else file.name)} · {strategy}"
                          ) as shown:
                result = run_once(source, strategy=strategy, seed=seed, overrides=overrides, engine=engine,
                                  progress=shown, events_to=log_to, keep_events=False)
    if as_json:
        emit(ctx, {"scenario": result.scenario, "strategy": result.strategy, "seed": result.seed,
                   "replication": result.replication, "metrics": result.metrics},
             outputs=[events] if events is not None else [])
        return
    table = Table(title=f"{result.scenario} · {result.strategy} · seed {result.seed}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for metric, value in result.metrics.items():
        table.add_row(label(metric), fmt(metric, value))
    messages_console(is_stdio(events)).print(table)


def comparison_table(comparison, metrics=None) -> Table:
    """The Rich summary table of a comparison: one row per metric, one column per strategy.

    Cells are the mean and its 95% CI; green/red mark a paired difference vs the baseline
    that is significantly better/worse.
    """
    from nhisim.reports.format import HEADLINE, fmt_ci, label

    metrics = list(metrics or HEADLINE)
    summary = comparison.summary(metrics).set_index(["strategy", "metric"])
    table = Table(title=f"{comparison.scenario.name}: {comparison.replications} paired replications, "
                        f"baseline {comparison.baseline} (mean, 95% CI)")
    table.add_column("metric", style="bold")
    for strategy in comparison.strategies:
        table.add_column(strategy, justify="right")
    for metric in metrics:
        cells = []
        for strategy in comparison.strategies:
            r = summary.loc[(strategy, metric)]
            text = fmt_ci(metric, r["mean"], r["ci_low"], r["ci_high"])
            colour = {"better": "green", "worse": "red"}.get(r["better"])
            cells.append(f"[{colour}]{text}[/]" if colour else text)
        table.add_row(label(metric), *cells)
    return table


def run_comparisons(files: list[Path], strategies: list[str] | None, replications: int | None, seed: int | None,
                    baseline: str | None, overrides: dict, quiet: bool, engine: str | None = None,
                    executor: str = "serial", workers: int | None = None, keep_events: bool = True,
                    events_to: StreamedEvents | None = None):
    """Compare on each file with a progress bar; return the Comparison objects (with every run's
    event log if ``keep_events``: the runs' metrics are the same either way). With ``events_to``
    the logs go there as the runs finish (each worker writes its runs' to a file as they go), and
    the comparisons do not hold them."""
    from nhisim.experiments import compare

    stdin_once(files)
    out = []
    with runs_bar(quiet, on=err) as track:
        for file in files:
            source, rest = scenario_arg(file, overrides)
            tick = track(STDIN_NAME if is_stdio(file) else plain(file.name))
            out.append(compare(source, strategies=strategies, replications=replications, seed=seed,
                               baseline=baseline, overrides=rest, progress=tick, engine=engine,
                               executor=executor, workers=workers, keep_events=keep_events,
                               events_to=events_to.add if events_to is not None else None,
                               log_folder=events_to.log_folder if events_to is not None else None))
    return out


@app.command(epilog="Example: nhisim compare scenarios/leaked_key.yaml --strategies rbac,zsp -r 20 --out results")
def compare(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="scenario files (`-`: one from standard input)"),
    strategies: str = typer.Option(None, "--strategies", help="comma-separated strategy names (default: all)"),
    replications: int = typer.Option(None, "--replications", "-r", min=1, max=1_000_000, help="paired replications per strategy"),
    seed: int = typer.Option(None, "--seed", help="base seed"),
    baseline: str = typer.Option(None, "--baseline", help="strategy the others are compared against"),
    out: Path = typer.Option(None, "--out", help="folder for runs.parquet and events.parquet"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path"),
    as_json: bool = JSON_OPTION,
    engine: str = typer.Option(None, "--engine", help="decision engine: native or cedar (default: each strategy's "
                                                      "engine, else native)"),
    executor: str = typer.Option("processes", "--executor", help="serial, processes (one per core) or dask"),
    workers: int = typer.Option(None, "--workers", min=1, max=1024, help="worker processes (default: one per core)"),
    force: bool = typer.Option(False, "--force", help="run even when the work estimate is over the limit "
                                                      "(NHISIM_FORCE=1 does the same)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an earlier comparison's results in --out"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar (for logs and scripts)"),
) -> None:
    """Compare strategies on scenarios with paired random runs and confidence intervals."""
    force_if(force)
    with contextlib.ExitStack() as held:
        events = None
        if out is not None:
            no_stdio_folder(out, "--out")
            output_dir(out)
            keep_results(out, overwrite)  # a refused folder is left as it was, its lock file untouched
            held.enter_context(FolderLock(out, "comparison"))  # no sweep or comparison writes here meanwhile
            events = held.enter_context(StreamedEvents(out))
        # the event logs are written with the results (--out), as the runs finish; a table or an
        # envelope needs none of them
        try:
            comparisons = run_comparisons(files, _split(strategies), replications, seed, baseline, parse_sets(set_),
                                          quiet=quiet or as_json, engine=engine, executor=executor, workers=workers,
                                          keep_events=out is not None, events_to=events)
        except OSError as exc:  # a worker writing a log to the results folder: name the folder, not its file
            if events is None or not str(exc.filename or "").startswith(str(events.log_folder)):
                raise
            raise naming(exc, out) from None
        written = write_results(out, comparisons, files, overwrite, events) if out is not None else []
    notes = [note for comparison in comparisons for note in comparison.notes]
    if as_json:
        runs = pd.concat([c.runs for c in comparisons], ignore_index=True)
        emit(ctx, {"comparisons": [comparison_result(c) for c in comparisons], "runs": runs}, notes=notes,
             outputs=written)
        return
    for comparison in comparisons:
        console.print(comparison_table(comparison))
    for note in notes:
        err.print(f"note: {note}", markup=False)
    if out is not None:
        console.print(f"wrote {', '.join(plain(p) for p in written)}")


def comparison_result(comparison) -> dict:
    """A comparison as ``--json`` tells it: what was compared, and each metric's summary row."""
    return {"scenario": comparison.scenario.name, "strategies": comparison.strategies,
            "baseline": comparison.baseline, "seed": comparison.seed, "replications": comparison.replications,
            "summary": comparison.summary()}


def keep_results(out: Path, overwrite: bool) -> None:
    """Refuse to write a comparison over results: a sweep's always, an earlier comparison's unless asked."""
    from nhisim.experiments.store import MANIFEST
    from nhisim.reports.results import META_FILE

    if (out / MANIFEST).exists():  # a sweep's runs.parquet would be replaced by ours: never
        raise InputError.single("is a sweep's results folder; a comparison would overwrite its runs", file=str(out),
                                location="--out", suggestion="give a new folder for --out")
    earlier = [name for name in (META_FILE, "runs.parquet", "events.parquet") if (out / name).exists()]
    if earlier and not overwrite:
        raise InputError.single(f"holds an earlier comparison ({', '.join(earlier)})", file=str(out),
                                location="--out", suggestion="give a new folder, or --overwrite to replace it")


def write_results(out: Path, comparisons, files: list[Path] | None, overwrite: bool,
                  events: StreamedEvents) -> list[Path]:
    """runs.parquet (one row per run), events.parquet (every run's event log, written as the runs
    finished: ``events``), and comparison.json (what ``nhisim report`` needs to rebuild each
    comparison: scenario, strategies, baseline, seed, replications), put in place together;
    returns the files written.

    ``out`` is checked again first: if results appeared there meanwhile (written by something
    that does not take the folder lock), the comparison goes to a new folder beside it rather
    than over them, and a note says where.
    """
    from nhisim.reports.results import META_FILE, comparison_meta_json

    try:
        keep_results(out, overwrite)
    except InputError as exc:
        taken, out = out, _free_folder(out)
        err.print(f"note: {exc.problems[0].message}; this comparison is saved in {out} instead of "
                  f"{taken}", markup=False, soft_wrap=True)
    runs = pd.concat([c.runs for c in comparisons], ignore_index=True)
    targets = [out / "runs.parquet", out / META_FILE] + ([out / "events.parquet"] if events.runs else [])
    # a scenario read from standard input has no file to name (the effective scenario is stored whole)
    named = [None if is_stdio(f) else f for f in files or []]
    with whole_files(*targets) as temps:
        with open(temps[0], "wb") as fh:  # opened here: Arrow cannot open a name that is not UTF-8
            runs.to_parquet(fh, index=False)
        temps[1].write_bytes(comparison_meta_json(comparisons, named).encode("utf-8"))
        if events.runs:
            events.move_to(temps[2])
    return targets


class CsvRows:
    """An event log written to CSV as it comes, a batch of about :attr:`BATCH` rows at a time (the
    header once): the same bytes as the whole frame's ``to_csv``. A context manager: the last
    batch is written when it closes."""

    BATCH = 65_536

    def __init__(self, fh) -> None:
        self._fh = fh
        self._header = True
        self._waiting: list[dict] = []
        self._waiting_rows = 0

    def __enter__(self) -> CsvRows:
        return self

    def __exit__(self, kind, *exc_info) -> None:
        if kind is None:
            self.write()

    def add(self, columns: dict, meta: dict) -> None:
        self._waiting.append(columns)
        self._waiting_rows += len(columns["t"])
        if self._waiting_rows >= self.BATCH:
            self.write()

    def write(self) -> None:
        """Write the rows waiting."""
        import numpy as np

        if not self._waiting:
            return
        pieces, self._waiting, self._waiting_rows = self._waiting, [], 0
        columns = {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]}
        pd.DataFrame(columns, copy=False).to_csv(self._fh, header=self._header, index=False)
        self._header = False


class StreamedEvents:
    """Every run's event log appended to a Parquet file as the runs finish, in the order of the
    runs: a comparison of a large estate writes its logs without holding them (a 1,000-agent
    day's log is hundreds of MB as a table). Each worker writes its run's log to a file of
    :attr:`log_folder` as the run goes (:class:`~nhisim.experiments.logfiles.LogFile`), which
    is copied in a row group at a time. Small logs are gathered into row groups (:class:`ParquetRows`). The file is a temporary one
    in the results folder until :func:`write_results` puts it in place with the others; a
    command that stops first removes it, and the workers' files."""

    def __init__(self, folder: Path) -> None:
        import tempfile

        self.folder = folder
        try:
            self.path = temporary_beside(folder / "events.parquet")
            self.log_folder = Path(tempfile.mkdtemp(prefix=".nhisim-logs-", dir=folder))
        except OSError as exc:
            raise naming(exc, folder) from None
        self.runs = 0
        self._file = None
        self._rows: ParquetRows | None = None

    def __enter__(self) -> StreamedEvents:
        return self

    def __exit__(self, *exc_info) -> None:
        import shutil

        with contextlib.suppress(OSError):  # already failing, or already put in place
            self._close()
        with contextlib.suppress(OSError):
            self.path.unlink()
        shutil.rmtree(self.log_folder, ignore_errors=True)

    def add(self, strategy: str, replication: int, events: LogFile) -> None:
        """One run's log: the file its worker wrote it to (with ``scenario``, ``strategy`` and
        ``replication`` columns), which is then removed."""
        import pyarrow.parquet as pq

        metadata = _events_schema_for_pandas().metadata
        try:
            if self._rows is None:
                self._file = open(self.path, "wb")  # opened here: Arrow cannot open a name that is not UTF-8
                self._rows = ParquetRows(self._file)
            with open(events.path, "rb") as fh:
                source = pq.ParquetFile(fh)
                for group in range(source.num_row_groups):
                    self._rows.add(source.read_row_group(group).replace_schema_metadata(metadata))
            os.unlink(events.path)
            self.runs += 1
        except OSError as exc:  # a full disk: name the results folder, never the temporary file
            raise naming(exc, self.folder) from None

    def move_to(self, target: Path) -> None:
        """Close the file and put it at ``target`` (a temporary path of :func:`whole_files`)."""
        try:
            if self._rows is not None:
                self._rows.close()
            self._close()
            os.replace(self.path, target)
        except OSError as exc:
            raise naming(exc, self.folder) from None

    def _close(self) -> None:
        rows, file, self._rows, self._file = self._rows, self._file, None, None
        if rows is not None:
            rows.abandon()
        if file is not None:
            file.close()


@functools.cache
def _events_schema_for_pandas():
    """:func:`~nhisim.experiments.logfiles.events_schema` with pandas' account of its columns (what
    ``read_parquet`` follows): text as text, ``in_intent`` as a nullable boolean."""
    import pyarrow as pa

    rows = events_schema().empty_table().to_pandas()
    rows["in_intent"] = rows["in_intent"].astype("boolean")
    return pa.Table.from_pandas(rows, schema=events_schema(), preserve_index=False).schema


def _free_folder(taken: Path) -> Path:
    """A new folder beside ``taken`` (``taken-2``, ``taken-3``, ...), created for this command."""
    n = 2
    while True:
        folder = taken.with_name(f"{taken.name}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1
