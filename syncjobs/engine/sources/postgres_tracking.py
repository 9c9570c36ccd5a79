"""SQL Server's change tracking, emulated in PostgreSQL: the DDL that installs it and the SQL that reads it.

Everything lives in the schema ``ctportal_ct``. Statement-level triggers with transition tables write a
per-table log in bulk and mark the writing transaction in ``pending``; a deferred constraint trigger on
``pending`` then fires once per transaction at commit and hands out the version. It takes a table lock
that is held until the transaction ends, so versions are handed out in commit order: a reader whose
snapshot shows version ``v`` can never later meet a change committed with a version ``<= v``. The lock
(rather than updating a counter row) keeps REPEATABLE READ and SERIALIZABLE writers from failing with
serialization errors; the number itself comes from a sequence, so a transaction that fails after being
stamped leaves a harmless gap.
"""

from __future__ import annotations

from collections.abc import Sequence

from syncjobs.engine.sqlnames import quote_ansi, quote_literal

SCHEMA = "ctportal_ct"
S = quote_ansi(SCHEMA)

# One function for the whole database: stamp the committing transaction with the next version.
_STAMP = f"""
BEGIN
    LOCK TABLE {S}.meta IN EXCLUSIVE MODE;
    v := nextval('{S}.clock');
    INSERT INTO {S}.commits (xid, version, committed_at, nonce)
    VALUES (NEW.xid, v, clock_timestamp(), gen_random_uuid()::text)
    ON CONFLICT (xid) DO UPDATE
        SET version = EXCLUDED.version, committed_at = EXCLUDED.committed_at, nonce = EXCLUDED.nonce;
    UPDATE {S}.tables SET min_valid_version = v, enabled_version = v WHERE min_valid_version IS NULL;
    DELETE FROM {S}.pending WHERE xid = NEW.xid;
    RETURN NULL;
END"""

INSTALL = [
    "SELECT pg_advisory_xact_lock(hashtext('ctportal_ct install'))",
    f"CREATE SCHEMA IF NOT EXISTS {S}",
    f"CREATE TABLE IF NOT EXISTS {S}.meta (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), "
    "database_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
    f"INSERT INTO {S}.meta (database_id) VALUES (gen_random_uuid()::text) ON CONFLICT DO NOTHING",
    f"CREATE SEQUENCE IF NOT EXISTS {S}.clock AS bigint START 1",
    f"CREATE TABLE IF NOT EXISTS {S}.commits (xid xid8 PRIMARY KEY, version bigint NOT NULL UNIQUE, "
    "committed_at timestamptz NOT NULL, nonce text NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {S}.pending (xid xid8 PRIMARY KEY)",
    f"CREATE TABLE IF NOT EXISTS {S}.tables (relid regclass PRIMARY KEY, log_table text NOT NULL UNIQUE, "
    "track_columns boolean NOT NULL, retention interval NOT NULL, min_valid_version bigint, "
    "enabled_version bigint, enabled_at timestamptz NOT NULL DEFAULT now())",
    f"CREATE INDEX IF NOT EXISTS tables_unstamped ON {S}.tables (relid) WHERE min_valid_version IS NULL",
    f"CREATE OR REPLACE FUNCTION {S}.stamp() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
    f"SET search_path = pg_catalog, pg_temp AS {quote_literal('DECLARE v bigint; ' + _STAMP)}",
    f"""DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'stamp_at_commit' AND tgrelid = '{S}.pending'::regclass)
    THEN CREATE CONSTRAINT TRIGGER stamp_at_commit AFTER INSERT ON {S}.pending
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {S}.stamp();
    END IF; END $$""",
]

_EVENTS = ("INSERT", "UPDATE", "DELETE")


def log_name(relid: int) -> str:
    """The log table of a tracked table, by its oid (its own name may hold anything)."""
    return f"log_{relid}"


def _keys(prefix: str, names: Sequence[str]) -> str:
    return ", ".join(f"{prefix}{quote_ansi(n)}" for n in names)


def _changed_columns(columns: Sequence[tuple[str, bool]]) -> str:
    """The names of the columns an update changed, compared one by one (fast)."""
    tests = [
        f"CASE WHEN n.{quote_ansi(c)} IS DISTINCT FROM o.{quote_ansi(c)} THEN {quote_literal(c)} END"
        if comparable
        else f"CASE WHEN n.{quote_ansi(c)}::text IS DISTINCT FROM o.{quote_ansi(c)}::text THEN {quote_literal(c)} END"
        for c, comparable in columns
    ]
    return f"array_remove(ARRAY[{', '.join(tests)}]::text[], NULL)"


# After columns are added, dropped or renamed, the column-by-column comparison no longer matches the
# table; comparing the rows as jsonb then keeps the trigger working (slower) until tracking is re-enabled.
_CHANGED_ANY = "ARRAY(SELECT e.key FROM jsonb_each(to_jsonb(n)) e WHERE e.value IS DISTINCT FROM j.old -> e.key)"


def _update_sql(into: str, keys: Sequence[str], changed: str, old_json: bool) -> str:
    match = " AND ".join(f"n.{quote_ansi(k)} = o.{quote_ansi(k)}" for k in keys)
    return (
        f"{into} SELECT {_keys('o.', keys)}, 'D', NULL::text[] FROM old_rows o "
        f"WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE {match}) "
        f"UNION ALL SELECT {_keys('n.', keys)}, 'I', NULL FROM new_rows n "
        f"WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE {match}) "
        f"UNION ALL SELECT {_keys('n.', keys)}, 'U', {changed} FROM new_rows n JOIN old_rows o ON {match}"
        + (" CROSS JOIN LATERAL (SELECT to_jsonb(o) AS old) j" if old_json else "")
    )


def _capture_body(
    relid: int, table: str, log: str, keys: Sequence[str], columns: Sequence[tuple[str, bool]] | None
) -> str:
    """The statement trigger: one INSERT ... SELECT per statement, from the transition tables."""
    ks = [f"k{i}" for i in range(1, len(keys) + 1)]
    into = f"INSERT INTO {log} ({', '.join(ks)}, op, cols)"
    if columns is None:
        update = _update_sql(into, keys, "NULL", False)
    else:
        names = ", ".join(quote_literal(c) for c, _ in columns)
        update = f"""IF ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = {relid}::oid AND attnum > 0
            AND NOT attisdropped ORDER BY attnum) = ARRAY[{names}]::text[]
        THEN {_update_sql(into, keys, _changed_columns(columns), False)};
        ELSE {_update_sql(into, keys, _CHANGED_ANY, True)};
        END IF"""
    return f"""DECLARE logged bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN {into} SELECT {_keys("", keys)}, 'I', NULL FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN {into} SELECT {_keys("", keys)}, 'D', NULL FROM old_rows;
    ELSIF TG_OP = 'UPDATE' THEN {update};
    ELSE {into} SELECT {_keys("", keys)}, 'D', NULL FROM {table};
    END IF;
    GET DIAGNOSTICS logged = ROW_COUNT;
    IF logged > 0 THEN
        INSERT INTO {S}.pending (xid) VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END"""


def enable_statements(
    relid: int,
    table: str,
    keys: Sequence[tuple[str, str]],
    columns: Sequence[tuple[str, bool]] | None,
    retention_days: int,
) -> list[str]:
    """Create the log, the capture function and triggers, and register the table.

    Args:
        relid: the table's oid; table: its quoted, qualified name; keys: (name, SQL type) in key order;
        columns: for column tracking, every column in table order with whether ``=`` compares it
        (else its text is compared); None turns column tracking off.
    """
    log = f"{S}.{quote_ansi(log_name(relid))}"
    function = f"{S}.{quote_ansi(f'capture_{relid}')}"
    names = [name for name, _ in keys]
    key_columns = ", ".join(f"k{i} {sql_type} NOT NULL" for i, (_, sql_type) in enumerate(keys, 1))
    body = _capture_body(relid, table, log, names, columns)
    statements = [
        f'CREATE TABLE {log} ({key_columns}, op "char" NOT NULL, cols text[], '
        "xid xid8 NOT NULL DEFAULT pg_current_xact_id(), seq bigint GENERATED ALWAYS AS IDENTITY)",
        f"CREATE INDEX ON {log} (xid)",
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
        f"SET search_path = pg_catalog, pg_temp AS {quote_literal(body)}",
    ]
    for event in _EVENTS:
        refs = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows"}.get(
            event, "OLD TABLE AS old_rows NEW TABLE AS new_rows"
        )
        statements.append(
            f"CREATE TRIGGER ctportal_ct_{event.lower()} AFTER {event} ON {table} "
            f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    statements += [
        f"CREATE TRIGGER ctportal_ct_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        # The enabling transaction is stamped too: its version becomes the table's minimum valid version,
        # so a watermark taken before tracking was (re-)enabled can never pass as valid.
        f"INSERT INTO {S}.tables (relid, log_table, track_columns, retention) VALUES "
        f"({relid}, {quote_literal(log_name(relid))}, {'false' if columns is None else 'true'}, "
        f"make_interval(days => {int(retention_days)}))",
        f"INSERT INTO {S}.pending (xid) VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING",
    ]
    return statements


def disable_statements(relid: int, table: str) -> list[str]:
    """Drop the triggers, the capture function and the log, and unregister the table."""
    return [
        *(f"DROP TRIGGER IF EXISTS ctportal_ct_{e.lower()} ON {table}" for e in (*_EVENTS, "TRUNCATE")),
        f"DROP FUNCTION IF EXISTS {S}.{quote_ansi(f'capture_{relid}')}()",
        f"DROP TABLE IF EXISTS {S}.{quote_ansi(log_name(relid))}",
        f"DELETE FROM {S}.tables WHERE relid = {relid}",
    ]


def current_version_sql() -> str:
    """CHANGE_TRACKING_CURRENT_VERSION(): the newest version this snapshot can see."""
    return f"(SELECT coalesce(max(version), 0) FROM {S}.commits)"


def min_valid_version_sql(relid: int) -> str:
    """CHANGE_TRACKING_MIN_VALID_VERSION(): NULL when the table is not tracked, as on SQL Server."""
    return f"(SELECT min_valid_version FROM {S}.tables WHERE relid = {relid}::oid::regclass)"


def changes_sql(relid: int, keys: Sequence[str], after_sql: str, upto: int | None, track_columns: bool) -> str:
    """CHANGETABLE(CHANGES t, after): one row per key changed in ``after < version <= upto``.

    Columns: the key columns under their own names, then sys_change_version,
    sys_change_creation_version, sys_change_operation, sys_change_columns, sys_change_context (lower
    case, so that the tutorial's unquoted ``CT.SYS_CHANGE_VERSION`` resolves).
    """
    log = f"{S}.{quote_ansi(log_name(relid))}"
    ks = [f"k{i}" for i in range(1, len(keys) + 1)]
    kl = ", ".join(ks)

    def match(left: str, right: str) -> str:
        return " AND ".join(f"{left}.{k} = {right}.{k}" for k in ks)

    upper = "" if upto is None else f" AND m.version <= {int(upto)}"
    names = (
        "(SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_attribute a "
        f"WHERE a.attrelid = {relid}::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY(u.cols))"
        if track_columns
        else "NULL::text"
    )
    return f"""(WITH w AS (
    SELECT {", ".join(f"l.{k}" for k in ks)}, l.op, l.cols, l.seq, m.version
    FROM {log} l JOIN {S}.commits m ON m.xid = l.xid
    WHERE m.version > ({after_sql})::bigint{upper}
), net AS (
    SELECT DISTINCT ON ({kl}) {kl}, op, version FROM w ORDER BY {kl}, version DESC, seq DESC
), inserted AS (
    SELECT {kl} FROM w WHERE op = 'I' GROUP BY {kl}
), updated AS (
    SELECT {kl}, array_agg(DISTINCT col) AS cols FROM w CROSS JOIN LATERAL unnest(w.cols) col
    WHERE op = 'U' GROUP BY {kl}
)
SELECT {", ".join(f"n.{k} AS {quote_ansi(name)}" for k, name in zip(ks, keys, strict=True))},
    n.version AS sys_change_version,
    (SELECT m.version FROM {log} l JOIN {S}.commits m ON m.xid = l.xid
     WHERE {match("l", "n")} AND l.op = 'I'{upper} ORDER BY m.version DESC, l.seq DESC LIMIT 1)
        AS sys_change_creation_version,
    CASE WHEN n.op = 'D' THEN 'D' WHEN i.k1 IS NOT NULL THEN 'I' ELSE 'U' END AS sys_change_operation,
    CASE WHEN n.op = 'U' AND i.k1 IS NULL THEN (SELECT {names} FROM updated u WHERE {match("u", "n")}) END
        AS sys_change_columns,
    NULL::bytea AS sys_change_context
FROM net n LEFT JOIN inserted i ON {match("i", "n")})"""


def identity_sql() -> str:
    """The database id and the nonce of the newest commit at or below version %s."""
    return (
        f"SELECT (SELECT database_id FROM {S}.meta), "
        f"(SELECT nonce FROM {S}.commits WHERE version <= %s ORDER BY version DESC LIMIT 1)"
    )


def raise_min_valid_versions_sql() -> str:
    """Raise each table's minimum valid version to the newest version older than its retention (now = %s)."""
    horizon = f"(SELECT max(m.version) FROM {S}.commits m WHERE m.committed_at < %(now)s::timestamptz - t.retention)"
    return (
        f"UPDATE {S}.tables t SET min_valid_version = greatest(t.min_valid_version, {horizon}) "
        f"WHERE {horizon} > t.min_valid_version"
    )


def tracked_logs_sql() -> str:
    """Each tracked table's log and minimum valid version."""
    return f"SELECT log_table, min_valid_version FROM {S}.tables WHERE min_valid_version IS NOT NULL"


def purge_log_sql(log_table: str) -> str:
    """Delete a log's entries at or below a table's minimum valid version (%s)."""
    return f"DELETE FROM {S}.{quote_ansi(log_table)} l USING {S}.commits m WHERE m.xid = l.xid AND m.version <= %s"


def purge_commits_sql() -> str:
    """Delete the commits no table needs any more: below every minimum valid version.

    The newest of those stays as a floor, so that database_identity still answers exactly for a
    watermark taken just before the change information it relied on was purged, and the newest commit
    (the current version) always stays.
    """
    newest = f"(SELECT max(version) FROM {S}.commits)"
    lowest = f"coalesce((SELECT min(min_valid_version) FROM {S}.tables), {newest})"
    return f"DELETE FROM {S}.commits WHERE version < (SELECT max(version) FROM {S}.commits WHERE version < {lowest})"
