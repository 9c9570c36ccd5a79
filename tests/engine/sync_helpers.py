"""Helpers shared by the conformance and window suites: a people table on any source, and a syncer
that keeps a table's sync state (watermark, generation, pending window) as the portal would."""

from __future__ import annotations

from dataclasses import replace

from syncjobs.engine.changetracking import CopyOptions, copy_table, next_state
from syncjobs.engine.formats.delimited import DelimitedTextFormat, DelimitedTextOptions
from syncjobs.engine.windows import LocalJournal, SyncState

HEADER = "PersonID,Name,Age,SYS_CHANGE_VERSION,SYS_CHANGE_OPERATION"
TUTORIAL_ROWS = [(1, "aaaa", 21), (2, "bbbb", 24), (3, "cccc", 20), (4, "dddd", 26), (5, "eeee", 22)]


def csv() -> DelimitedTextFormat:
    return DelimitedTextFormat(DelimitedTextOptions(first_row_as_header=True, row_delimiter="\n"))


def make_people(u, name: str = "data_source_table", rows=TUTORIAL_ROWS, track: bool = True):
    u.run(
        f"CREATE TABLE {u.qt(name)} ({u.q('PersonID')} int NOT NULL, {u.q('Name')} varchar(255), "
        f"{u.q('Age')} int, PRIMARY KEY ({u.q('PersonID')}))"
    )
    if rows:
        values = ", ".join(f"({p}, '{n}', {a})" for p, n, a in rows)
        u.run(f"INSERT INTO {u.qt(name)} ({u.q('PersonID')}, {u.q('Name')}, {u.q('Age')}) VALUES {values}")
    if track:
        u.source.enable_change_tracking(u.table(name))
    return u.table(name)


def make_order_lines(u, name: str, rows: str):
    """A tracked table with a composite key (int, varchar); ``rows`` is the VALUES list."""
    q = u.q
    u.run(
        f"CREATE TABLE {u.qt(name)} ({q('OrderID')} int NOT NULL, {q('Line')} varchar(10) NOT NULL, "
        f"{q('Qty')} int, PRIMARY KEY ({q('OrderID')}, {q('Line')}))",
        f"INSERT INTO {u.qt(name)} VALUES {rows}",
    )
    u.source.enable_change_tracking(u.table(name))
    return u.table(name)


def people(u, name: str = "data_source_table") -> str:
    """The quoted name of a people table, for hand-written DML."""
    return u.qt(name)


class Syncer:
    """Copies one table again and again, keeping its sync state as the portal would.

    Each copy takes a new claim (its fencing token tags the parts it writes), as each run does.
    """

    def __init__(self, u, sink, table, **options) -> None:
        self.u, self.sink, self.table, self.options = u, sink, table, options
        self.state = SyncState()

    @property
    def watermark(self):
        return self.state.watermark

    def copy(self, **options):
        settings = {**self.options, **options}
        should_stop = settings.pop("should_stop", None)
        journal = LocalJournal()
        self.state = replace(self.state, claim=self.state.claim + 1)
        try:
            result = copy_table(
                self.u.source,
                self.table,
                self.sink,
                settings.pop("fmt", None) or csv(),
                "out",
                self.state,
                journal=journal,
                options=CopyOptions(**settings),
                should_stop=should_stop,
            )
        except BaseException:
            self.state = replace(self.state, pending=journal.window or self.state.pending)
            raise
        self.state = next_state(result, self.state)
        return result

    def lines(self, result) -> list[str]:
        """The window's rows as one file would hold them: the header once, then every part's rows."""
        texts = [self.sink.read(f.path).decode().splitlines() for f in result.files]
        return texts[0][:1] + [line for text in texts for line in text[1:]] if texts else []
