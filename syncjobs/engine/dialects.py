"""SQL dialects: how a database spells the few statements the portal writes for it itself.

Each database connector declares its :class:`Dialect` (``SqlServerSource.dialect``...). The portal
writes a preview's first rows, the wrapper that checks a query compiles, and a stored procedure's
call; everything else is the operator's SQL or the source's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.sqlnames import quote_ansi
from syncjobs.engine.types import TableName


@dataclass(frozen=True)
class Dialect:
    """A database family's spelling, as plain data: identifier quoting and statement templates."""

    name: str
    """The database's name in messages ("SQL Server")."""
    quote: Callable[[str], str]
    """Quotes one identifier (``sqlnames.quote_tsql`` or ``quote_ansi``)."""
    first_rows: str
    """A table's first rows: ``{table}`` (quoted, qualified) and ``{limit}`` (an integer)."""
    no_rows: str
    """An operator's query wrapped so it compiles but returns nothing: ``{query}``."""
    procedure_call: str = ""
    """A stored procedure's call: ``{name}`` and ``{arguments}``; empty when the database has none."""
    procedure_argument: str = ""
    """One named argument of that call: ``{name}`` as written, ``{quoted}`` quoted; a placeholder for its value."""
    is_change_tracking_native: bool = False
    """True when CHANGETABLE and the CHANGE_TRACKING_* functions are the database's own (SQL Server); else the
    source rewrites them over the portal's emulation (``sources/tsql_functions.py``), which it also keeps up."""

    def qualified(self, name: TableName) -> str:
        """``schema.table`` (or ``table``), each part quoted."""
        return ".".join(self.quote(part) for part in (name.schema, name.name) if part)

    def first_rows_sql(self, name: TableName, limit: int) -> str:
        """SELECT of the table's first ``limit`` rows (Author's preview)."""
        return self.first_rows.format(table=self.qualified(name), limit=int(limit))

    def no_rows_sql(self, query: str) -> str:
        """``query`` wrapped so that running it checks it compiles and reads no rows (Validate)."""
        return self.no_rows.format(query=query)

    def procedure_call_sql(self, name: TableName, parameters: Iterable[str]) -> str:
        """The call of stored procedure ``name`` with named ``parameters`` (values go as placeholders)."""
        if not self.procedure_call:
            raise TerminalError(
                "unsupported_activity", f"{self.name} has no stored procedures: use a Script activity instead"
            )
        arguments = ", ".join(self.procedure_argument.format(name=p, quoted=self.quote(p)) for p in parameters)
        return self.procedure_call.format(name=self.qualified(name), arguments=arguments).rstrip()


def ansi(name: str, *, procedure_call: str = "", procedure_argument: str = "") -> Dialect:
    """The spelling PostgreSQL and SQLite share (double-quoted names, LIMIT), and a stored procedure's call."""
    return Dialect(
        name,
        quote_ansi,
        first_rows="SELECT * FROM {table} LIMIT {limit}",
        no_rows="SELECT * FROM ({query}) AS q WHERE 1=0",
        procedure_call=procedure_call,
        procedure_argument=procedure_argument,
    )
