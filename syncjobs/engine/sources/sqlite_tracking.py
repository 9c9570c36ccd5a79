"""SQL Server's change tracking, emulated in SQLite: the DDL that installs it and the SQL that reads it.

Side tables, all named ``_ctportal_*``: ``_ctportal_meta`` (a random database id), ``_ctportal_clock``
(the database-wide version), ``_ctportal_versions`` (when each version was written, and a random nonce
per version), ``_ctportal_tables`` (the registry) and one log per tracked table, ``_ctportal_ct_<n>``,
holding the key values under ``k1..kn`` (columns without a declared type, so every value keeps the
type the table gave it and joins back to the table compare like with like).

Version granularity, honestly: SQLite triggers cannot see transaction boundaries, so every row change
takes the next clock value (the trigger increments the clock), not every transaction. A transaction
that changes three rows uses three versions. Because SQLite has one writer at a time, versions are
still handed out in commit order, and a reader whose WAL snapshot shows version ``v`` can never later
meet a committed change with a version ``<= v``. A rolled-back transaction rolls its versions back too.

A primary-key update is logged as a delete of the old key and an insert of the new one, at one version.
Disabling tracking moves the clock on, so a watermark taken before a table was re-enabled (or dropped
and re-created) is always below its new minimum valid version.
"""

from __future__ import annotations

from collections.abc import Sequence

from syncjobs.engine.sqlnames import quote_ansi, quote_literal

META = quote_ansi("_ctportal_meta")
CLOCK = quote_ansi("_ctportal_clock")
VERSIONS = quote_ansi("_ctportal_versions")
TABLES = quote_ansi("_ctportal_tables")
PREFIX = "_ctportal_"

# Seconds since 1970 with fractions; unixepoch() has whole seconds only before SQLite 3.42.
NOW = "((julianday('now') - 2440587.5) * 86400.0)"

WAL = "PRAGMA journal_mode = WAL"

INSTALL = [
    f"CREATE TABLE IF NOT EXISTS {META} (database_id TEXT NOT NULL, created_at REAL NOT NULL)",
    f"INSERT INTO {META} (database_id, created_at) SELECT lower(hex(randomblob(16))), {NOW} "
    f"WHERE NOT EXISTS (SELECT 1 FROM {META})",
    f"CREATE TABLE IF NOT EXISTS {CLOCK} (version INTEGER NOT NULL)",
    f"INSERT INTO {CLOCK} (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {CLOCK})",
    f"CREATE TABLE IF NOT EXISTS {VERSIONS} (version INTEGER PRIMARY KEY, committed_at REAL NOT NULL, "
    "nonce TEXT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {TABLES} (id INTEGER PRIMARY KEY, table_name TEXT NOT NULL UNIQUE COLLATE NOCASE, "
    "track_columns INTEGER NOT NULL, min_valid_version INTEGER NOT NULL, retention_seconds INTEGER NOT NULL, "
    "enabled_version INTEGER NOT NULL, enabled_at REAL NOT NULL)",
]

# What every logged row change starts with: the next version, with its time and nonce.
_TICK = [
    f"UPDATE {CLOCK} SET version = version + 1",
    f"INSERT INTO {VERSIONS} (version, committed_at, nonce) SELECT version, {NOW}, lower(hex(randomblob(8))) "
    f"FROM {CLOCK}",
]
_EVENTS = ("insert", "update", "delete")


def log_table(table_id: int) -> str:
    """The quoted name of a tracked table's log (by registry id: the table's own name may hold anything)."""
    return quote_ansi(f"{PREFIX}ct_{int(table_id)}")


def trigger_name(table_id: int, event: str) -> str:
    """The quoted name of one of a tracked table's three triggers."""
    return quote_ansi(f"{PREFIX}ct_{int(table_id)}_{event}")


def trigger_names(table_id: int) -> list[str]:
    """The unquoted names of a tracked table's triggers, to check they still exist."""
    return [f"{PREFIX}ct_{int(table_id)}_{event}" for event in _EVENTS]


def _ks(count: int) -> list[str]:
    return [f"k{i}" for i in range(1, count + 1)]


def _log_row(log: str, count: int, op: str, cols: str, row: str, keys: Sequence[str], where: str = "") -> str:
    values = ", ".join(f"{row}.{quote_ansi(k)}" for k in keys)
    return (
        f"INSERT INTO {log} (version, op, cols, {', '.join(_ks(count))}) "
        f"SELECT version, '{op}', {cols}, {values} FROM {CLOCK}{where};"
    )


def _changed_columns(columns: Sequence[str]) -> str:
    """A JSON array of the columns whose value an update changed (``IS NOT`` treats NULLs as values)."""
    picks = " UNION ALL ".join(
        f"SELECT {quote_literal(c)} AS c WHERE OLD.{quote_ansi(c)} IS NOT NEW.{quote_ansi(c)}" for c in columns
    )
    return f"(SELECT json_group_array(c) FROM ({picks}))"


def enable_statements(
    table_id: int,
    table: str,
    keys: Sequence[str],
    columns: Sequence[str] | None,
    retention_days: int,
) -> list[str]:
    """Create the log and the three triggers, and register the table at the current version.

    Args:
        table_id: the registry id; table: the table's real (unquoted) name; keys: the primary key's
        columns in key order; columns: every column in table order for column tracking, None for none.
    """
    log, quoted, count = log_table(table_id), quote_ansi(table), len(keys)
    same_key = " AND ".join(f"NEW.{quote_ansi(k)} IS OLD.{quote_ansi(k)}" for k in keys)
    cols = "NULL" if columns is None else _changed_columns(columns)
    key_defs = ", ".join(_ks(count))
    bodies = {
        "insert": _log_row(log, count, "I", "NULL", "NEW", keys),
        "delete": _log_row(log, count, "D", "NULL", "OLD", keys),
        "update": "\n    ".join(
            [
                _log_row(log, count, "U", cols, "NEW", keys, f" WHERE {same_key}"),
                _log_row(log, count, "D", "NULL", "OLD", keys, f" WHERE NOT ({same_key})"),
                _log_row(log, count, "I", "NULL", "NEW", keys, f" WHERE NOT ({same_key})"),
            ]
        ),
    }
    statements = [
        f"CREATE TABLE {log} (seq INTEGER PRIMARY KEY, version INTEGER NOT NULL, op TEXT NOT NULL, cols TEXT, "
        f"{key_defs})",
        f"CREATE INDEX {quote_ansi(f'{PREFIX}ct_{int(table_id)}_version')} ON {log} (version)",
        f"CREATE INDEX {quote_ansi(f'{PREFIX}ct_{int(table_id)}_keys')} ON {log} ({key_defs}, op, version)",
    ]
    tick = ";\n    ".join(_TICK)
    statements += [
        f"CREATE TRIGGER {trigger_name(table_id, event)} AFTER {event.upper()} ON {quoted} FOR EACH ROW BEGIN\n"
        f"    {tick};\n    {bodies[event]}\nEND"
        for event in _EVENTS
    ]
    statements.append(
        f"INSERT INTO {TABLES} (id, table_name, track_columns, min_valid_version, retention_seconds, "
        f"enabled_version, enabled_at) SELECT {int(table_id)}, {quote_literal(table)}, "
        f"{0 if columns is None else 1}, version, {int(retention_days) * 86400}, version, {NOW} FROM {CLOCK}"
    )
    return statements


def disable_statements(table_id: int) -> list[str]:
    """Drop the triggers and the log, unregister the table, and move the clock on (see the module doc)."""
    return [
        *(f"DROP TRIGGER IF EXISTS {trigger_name(table_id, event)}" for event in _EVENTS),
        f"DROP TABLE IF EXISTS {log_table(table_id)}",
        f"DELETE FROM {TABLES} WHERE id = {int(table_id)}",
        *_TICK,
    ]


def current_version_sql() -> str:
    """CHANGE_TRACKING_CURRENT_VERSION(): the clock as this transaction sees it."""
    return f"(SELECT version FROM {CLOCK})"


def min_valid_version_sql(table: str) -> str:
    """CHANGE_TRACKING_MIN_VALID_VERSION(): NULL when the table is not tracked, as on SQL Server."""
    return f"(SELECT min_valid_version FROM {TABLES} WHERE table_name = {quote_literal(table)})"


def _changed_names(columns: Sequence[str]) -> list[str]:
    """Per column, whether any update in the group changed it (``max`` over the group's rows)."""
    return [
        f"max(EXISTS (SELECT 1 FROM json_each(l.cols) j WHERE j.value = {quote_literal(c)})) AS c{i}"
        for i, c in enumerate(columns, 1)
    ]


def changes_sql(
    table_id: int, keys: Sequence[str], columns: Sequence[str] | None, after_sql: str, upto: int | None
) -> str:
    """CHANGETABLE(CHANGES t, after): one row per key changed in ``after < version <= upto``.

    Columns: the key columns under their own names, then SYS_CHANGE_VERSION,
    SYS_CHANGE_CREATION_VERSION, SYS_CHANGE_OPERATION, SYS_CHANGE_COLUMNS (from ``columns``, in that
    order; None when column tracking is off) and SYS_CHANGE_CONTEXT (always NULL).
    """
    log, ks = log_table(table_id), _ks(len(keys))
    upper = "" if upto is None else f" AND l.version <= {int(upto)}"
    created_upper = "" if upto is None else f" AND c.version <= {int(upto)}"
    # The newest change's operation: versions are non-negative, so zero-padded text sorts like numbers.
    aggregates = [
        "max(l.version) AS version",
        "substr(max(printf('%020d', l.version) || l.op), 21) AS last_op",
        "max(l.op = 'I') AS inserted",
        *(_changed_names(columns) if columns else []),
    ]
    group = (
        f"SELECT {', '.join(f'l.{k}' for k in ks)}, {', '.join(aggregates)} FROM {log} l "
        f"WHERE l.version > ({after_sql}){upper} GROUP BY {', '.join(f'l.{k}' for k in ks)}"
    )
    names = " || ".join(
        f"CASE WHEN g.c{i} THEN {quote_literal(',' + c)} ELSE '' END" for i, c in enumerate(columns or (), 1)
    )
    changed = f"nullif(substr({names}, 2), '')" if columns else "NULL"
    same = " AND ".join(f"c.{k} IS g.{k}" for k in ks)
    return f"""(SELECT {", ".join(f"g.{k} AS {quote_ansi(name)}" for k, name in zip(ks, keys, strict=True))},
    g.version AS "SYS_CHANGE_VERSION",
    (SELECT max(c.version) FROM {log} c WHERE {same} AND c.op = 'I'{created_upper})
        AS "SYS_CHANGE_CREATION_VERSION",
    CASE WHEN g.last_op = 'D' THEN 'D' WHEN g.inserted THEN 'I' ELSE 'U' END AS "SYS_CHANGE_OPERATION",
    CASE WHEN g.last_op <> 'D' AND NOT g.inserted THEN {changed} END AS "SYS_CHANGE_COLUMNS",
    NULL AS "SYS_CHANGE_CONTEXT"
FROM ({group}) g)"""


def identity_sql() -> str:
    """The database id and the nonce of the newest version at or below ``?``."""
    return (
        f"SELECT (SELECT database_id FROM {META}), "
        f"(SELECT nonce FROM {VERSIONS} WHERE version <= ? ORDER BY version DESC LIMIT 1)"
    )


def horizon_sql() -> str:
    """The newest version written before ``?`` (seconds since 1970): what retention lets go."""
    return f"SELECT max(version) FROM {VERSIONS} WHERE committed_at < ?"


def purge_log_sql(table_id: int) -> str:
    """Delete a log's entries at or below version ``?``."""
    return f"DELETE FROM {log_table(table_id)} WHERE version <= ?"


def raise_min_valid_sql() -> str:
    """Raise table ``?``'s minimum valid version to ``?`` (never lower it)."""
    return f"UPDATE {TABLES} SET min_valid_version = max(min_valid_version, ?2) WHERE id = ?1"


def purge_versions_sql() -> str:
    """Delete version records no valid watermark can need.

    Kept: the newest record at or below the lowest minimum valid version (so database_identity still
    answers for a watermark there) and everything above it; the newest record always stays.
    """
    lowest = f"coalesce((SELECT min(min_valid_version) FROM {TABLES}), (SELECT version FROM {CLOCK}))"
    return (
        f"DELETE FROM {VERSIONS} WHERE version < (SELECT max(version) FROM {VERSIONS} WHERE version <= {lowest}) "
        f"AND version < (SELECT max(version) FROM {VERSIONS})"
    )
