"""One conformance suite for every source: the change-tracking copy behaves the same everywhere.

Runs on SQLite and PostgreSQL always, and on SQL Server when CTPORTAL_TEST_SQLSERVER_DSN is set.
Every assertion is on the bytes of the file the copy wrote, or on the watermark it handed back.
"""

from __future__ import annotations

import csv as csvmodule

import pytest

from syncjobs.engine.changetracking import copy_table
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.sources import FullTable, Query
from syncjobs.engine.streaming import copy_rows
from syncjobs.engine.types import SYS_CHANGE_COLUMNS, SYS_CHANGE_OPERATION, SYS_CHANGE_VERSION
from tests.engine.sync_helpers import HEADER, TUTORIAL_ROWS, Syncer, csv, make_order_lines, make_people, people


def test_a_plain_copy_of_the_tutorial_table_is_the_tutorials_full_copy_file(under_test, folder_sink):
    table = make_people(under_test)
    with under_test.source.snapshot() as snapshot:
        described = snapshot.describe(table)
    result = copy_rows(under_test.source, FullTable(described), folder_sink, csv(), "adftutorial/full.csv")
    text = folder_sink.read("adftutorial/full.csv").decode()
    assert text.splitlines()[0] == "PersonID,Name,Age"
    assert sorted(text.splitlines()[1:]) == ['1,"aaaa",21', '2,"bbbb",24', '3,"cccc",20', '4,"dddd",26', '5,"eeee",22']
    assert result.rows_written == 5


def test_the_first_change_tracking_copy_is_full_with_a_baseline(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    result = sync.copy()
    assert result.mode == "full" and result.reason_code == "no_watermark"
    body = sync.lines(result)
    assert body[0] == HEADER
    assert sorted(body[1:]) == [f'{p},"{n}",{a},,' for p, n, a in TUTORIAL_ROWS]
    with under_test.source.snapshot() as snapshot:
        assert result.watermark.version == snapshot.current_version()


def test_the_tutorials_insert_and_update_give_exactly_an_i_and_a_u_row(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    base = sync.copy().watermark.version
    t = people(under_test)
    q = under_test.q
    under_test.run(
        f"INSERT INTO {t} ({q('PersonID')}, {q('Name')}, {q('Age')}) VALUES (6, 'new', '50')",
        f"UPDATE {t} SET {q('Age')} = '10', {q('Name')} = 'update' WHERE {q('PersonID')} = 1",
    )
    result = sync.copy()
    assert result.mode == "delta"
    assert sync.lines(result) == [HEADER, f'1,"update",10,{base + 2},"U"', f'6,"new",50,{base + 1},"I"']
    assert result.watermark.version == base + 2
    assert result.counts == {"I": 1, "U": 1}
    assert result.rows_written == 2


def test_deleted_rows_keep_their_keys(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    base = sync.copy().watermark.version
    under_test.run(f"DELETE FROM {people(under_test)} WHERE {under_test.q('PersonID')} = 3")
    result = sync.copy()
    assert sync.lines(result) == [HEADER, f'3,,,{base + 1},"D"']


def test_insert_then_update_is_one_insert_and_insert_then_delete_is_one_delete(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    base = sync.copy().watermark.version
    t, q = people(under_test), under_test.q
    under_test.run(
        f"INSERT INTO {t} ({q('PersonID')}, {q('Name')}, {q('Age')}) VALUES (7, 'seven', 70)",
        f"UPDATE {t} SET {q('Name')} = 'seven again' WHERE {q('PersonID')} = 7",
        f"INSERT INTO {t} ({q('PersonID')}, {q('Name')}, {q('Age')}) VALUES (8, 'eight', 80)",
        f"DELETE FROM {t} WHERE {q('PersonID')} = 8",
    )
    result = sync.copy()
    assert sync.lines(result) == [HEADER, f'7,"seven again",70,{base + 2},"I"', f'8,,,{base + 4},"D"']


def test_a_primary_key_update_is_a_delete_of_the_old_key_and_an_insert_of_the_new(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    base = sync.copy().watermark.version
    q = under_test.q
    under_test.run(f"UPDATE {people(under_test)} SET {q('PersonID')} = 20 WHERE {q('PersonID')} = 2")
    result = sync.copy()
    body = [line.split(",") for line in sync.lines(result)[1:]]
    assert [(r[0], r[1], r[2], r[4]) for r in body] == [("2", "", "", '"D"'), ("20", '"bbbb"', "24", '"I"')]
    assert all(base < int(r[3]) <= result.watermark.version for r in body)


def test_composite_keys_identify_rows(under_test, folder_sink):
    q, name = under_test.q, "order_lines"
    make_order_lines(under_test, name, "(1, 'a', 1), (1, 'b', 2), (2, 'a', 3)")
    sync = Syncer(under_test, folder_sink, under_test.table(name))
    base = sync.copy().watermark.version
    under_test.run(
        f"UPDATE {under_test.qt(name)} SET {q('Qty')} = 20 WHERE {q('OrderID')} = 1 AND {q('Line')} = 'b'",
        f"DELETE FROM {under_test.qt(name)} WHERE {q('OrderID')} = 2 AND {q('Line')} = 'a'",
    )
    result = sync.copy()
    assert sync.lines(result) == [
        "OrderID,Line,Qty,SYS_CHANGE_VERSION,SYS_CHANGE_OPERATION",
        f'1,"b",20,{base + 1},"U"',
        f'2,"a",,{base + 2},"D"',
    ]


def test_column_tracking_names_the_columns_an_update_changed(under_test, folder_sink):
    columns = (SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION, SYS_CHANGE_COLUMNS)
    sync = Syncer(under_test, folder_sink, make_people(under_test), change_columns=columns)
    sync.copy()
    t, q = people(under_test), under_test.q
    under_test.run(
        f"UPDATE {t} SET {q('Age')} = 99 WHERE {q('PersonID')} = 1",
        f"UPDATE {t} SET {q('Name')} = 'renamed' WHERE {q('PersonID')} = 1",
        f"UPDATE {t} SET {q('Age')} = 30 WHERE {q('PersonID')} = 2",
        f"INSERT INTO {t} ({q('PersonID')}, {q('Name')}, {q('Age')}) VALUES (6, 'new', 50)",
    )
    body = list(csvmodule.reader(sync.lines(sync.copy())[1:], escapechar="\\", doublequote=False))
    assert [(row[0], row[-1]) for row in body] == [("1", "Name,Age"), ("2", "Age"), ("6", "")]


def test_an_expired_watermark_reinitializes_with_a_full_copy(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    sync.copy()
    t, q = people(under_test), under_test.q
    under_test.run(f"UPDATE {t} SET {q('Age')} = 1 WHERE {q('PersonID')} = 1")
    under_test.expire_change_information()
    result = sync.copy()
    assert result.mode == "reinitialized" and result.reason_code == "min_version_expired"
    assert "minimum valid version" in result.reason
    assert len(sync.lines(result)) == 1 + 5
    assert result.watermark.version >= result.min_valid_version


def test_a_quiet_table_still_moves_its_watermark(under_test, folder_sink):
    quiet = Syncer(under_test, folder_sink, make_people(under_test, "quiet"))
    busy_table = make_people(under_test, "busy")
    first = quiet.copy().watermark.version
    q = under_test.q
    under_test.run(f"UPDATE {under_test.qt('busy')} SET {q('Age')} = 1 WHERE {q('PersonID')} = 1")
    result = quiet.copy()
    assert result.mode == "delta" and result.rows_written == 0
    assert result.files == () and result.window.manifest == ""  # a quiet window writes nothing
    assert result.watermark.version > first
    assert busy_table.name == "busy"


def test_two_tables_changed_in_one_transaction_are_copied_together(under_test, folder_sink):
    one = Syncer(under_test, folder_sink, make_people(under_test, "one"))
    two = Syncer(under_test, folder_sink, make_people(under_test, "two"))
    one.copy()
    two.copy()
    q = under_test.q
    conn = under_test.connect()
    cur = conn.cursor()
    if under_test.name == "sqlite":
        cur.execute("BEGIN")
    for name in ("one", "two"):
        cur.execute(f"UPDATE {under_test.qt(name)} SET {q('Age')} = 77 WHERE {q('PersonID')} = 4")
    conn.commit() if under_test.name != "sqlite" else cur.execute("COMMIT")
    conn.close()
    a, b = one.copy(), two.copy()
    line_a, line_b = one.lines(a)[1], two.lines(b)[1]
    assert line_a.startswith('4,"dddd",77,') and line_a.endswith(',"U"')
    assert line_b.startswith('4,"dddd",77,') and line_b.endswith(',"U"')
    if under_test.name != "sqlite":  # SQLite's triggers cannot see transactions: one version per row change
        assert line_a == line_b


def test_writes_committed_while_a_copy_runs_never_leak_past_its_watermark(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    sync.copy()
    t, q = people(under_test), under_test.q
    for pid in (1, 2, 3):
        under_test.run(f"UPDATE {t} SET {q('Age')} = {pid * 100} WHERE {q('PersonID')} = {pid}")
    writer = under_test.connect()
    calls = []

    def write_concurrently() -> bool:
        if not calls:
            cur = writer.cursor()
            if under_test.name == "sqlite":
                cur.execute("BEGIN")
            cur.execute(f"INSERT INTO {t} ({q('PersonID')}, {q('Name')}, {q('Age')}) VALUES (99, 'late', 1)")
            writer.commit() if under_test.name != "sqlite" else cur.execute("COMMIT")
        calls.append(1)
        return False

    result = sync.copy(batch_rows=1, should_stop=write_concurrently)
    writer.close()
    assert len(calls) >= 2, "the concurrent write must happen while the copy is reading"
    assert [line.split(",")[0] for line in sync.lines(result)[1:]] == ["1", "2", "3"]
    late = sync.copy()
    assert sync.lines(late)[1:] == [f'99,"late",1,{late.watermark.version},"I"']
    assert late.watermark.version > result.watermark.version


def test_a_cancelled_copy_writes_nothing_and_a_rerun_copies_the_same_window(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    sync.copy()
    before = sync.watermark
    t, q = people(under_test), under_test.q
    for pid in (1, 2, 3):
        under_test.run(f"UPDATE {t} SET {q('Age')} = 0 WHERE {q('PersonID')} = {pid}")
    stops = iter([False, True])
    with pytest.raises(TerminalError) as caught:
        sync.copy(batch_rows=1, should_stop=lambda: next(stops))
    assert caught.value.reason == "cancelled"
    assert sync.watermark == before
    assert [p.rsplit("/", 1)[1] for p in folder_sink.list("out")] == ["_manifest.json", "part-00000-c0001.csv"]
    result = sync.copy()
    assert [line.split(",")[0] for line in sync.lines(result)[1:]] == ["1", "2", "3"]


def test_a_restore_below_the_watermark_reinitializes(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    sync.copy()
    under_test.backup()
    t, q = people(under_test), under_test.q
    under_test.run(f"UPDATE {t} SET {q('Age')} = 1 WHERE {q('PersonID')} = 1")
    sync.copy()
    under_test.restore()
    result = sync.copy()
    assert result.mode == "reinitialized"
    assert result.reason_code in ("restored", "identity_changed")
    assert len(sync.lines(result)) == 1 + 5


def test_a_restore_followed_by_new_writes_past_the_watermark_is_still_detected(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    sync.copy()
    under_test.backup()
    t, q = people(under_test), under_test.q
    under_test.run(f"UPDATE {t} SET {q('Age')} = 1 WHERE {q('PersonID')} = 1")
    synced = sync.copy().watermark.version
    under_test.restore()
    for age in (2, 3, 4):
        under_test.run(f"UPDATE {t} SET {q('Age')} = {age} WHERE {q('PersonID')} = 5")
    result = sync.copy()
    assert result.watermark.version > synced
    assert result.mode == "reinitialized" and result.reason_code == "identity_changed"


def test_a_table_without_a_primary_key_gives_a_clear_error(under_test, folder_sink):
    under_test.run(f"CREATE TABLE {under_test.qt('heap')} ({under_test.q('a')} int)")
    with pytest.raises(TerminalError) as caught:
        copy_table(under_test.source, under_test.table("heap"), folder_sink, csv(), "x")
    assert caught.value.reason == "no_primary_key"
    assert "heap" in caught.value.message
    assert folder_sink.list() == []


def test_a_table_without_change_tracking_gives_a_clear_error(under_test, folder_sink):
    table = make_people(under_test, "untracked", track=False)
    with pytest.raises(TerminalError) as caught:
        copy_table(under_test.source, table, folder_sink, csv(), "x")
    assert caught.value.reason == "change_tracking_disabled"
    assert "untracked" in caught.value.message
    assert folder_sink.list() == []


ODD_TABLE = 'odd "table"; [x] ñandú'
ODD_COLUMNS = ("Person ID", 'na"me', "[br]", "semi;colon", "Ñame")


def test_names_with_spaces_quotes_brackets_semicolons_and_accents_are_quoted(under_test, folder_sink):
    q = under_test.q
    cols = ", ".join(f"{q(c)} varchar(20)" for c in ODD_COLUMNS[1:])
    under_test.run(
        f"CREATE TABLE {under_test.qt(ODD_TABLE)} ({q(ODD_COLUMNS[0])} int NOT NULL PRIMARY KEY, {cols})",
        f"INSERT INTO {under_test.qt(ODD_TABLE)} VALUES (1, 'a', 'b', 'c', 'd')",
    )
    table = under_test.table(ODD_TABLE)
    under_test.source.enable_change_tracking(table)
    sync = Syncer(under_test, folder_sink, table)
    sync.copy()
    under_test.run(f"UPDATE {under_test.qt(ODD_TABLE)} SET {q('Ñame')} = 'é' WHERE {q('Person ID')} = 1")
    body = sync.lines(sync.copy())
    assert body[0] == 'Person ID,"na\\"me",[br],semi;colon,Ñame,SYS_CHANGE_VERSION,SYS_CHANGE_OPERATION'
    assert body[1].startswith('1,"a","b","c","é",')


@pytest.mark.parametrize(
    "hostile", ['x"; DROP TABLE victim; --', "x]; DROP TABLE victim; --", "x'); DROP TABLE victim; --"]
)
def test_hostile_names_are_never_executed(under_test, folder_sink, hostile):
    make_people(under_test, "victim", track=False)
    table = make_people(under_test, hostile)
    sync = Syncer(under_test, folder_sink, table)
    sync.copy()
    under_test.run(f"DELETE FROM {under_test.qt(hostile)} WHERE {under_test.q('PersonID')} = 1")
    assert sync.lines(sync.copy())[1].endswith('"D"')
    with under_test.source.snapshot() as snapshot:
        assert len(list(snapshot.read(FullTable(snapshot.describe(under_test.table("victim")))))[0].rows) == 5


def test_the_tutorials_own_lookup_and_copy_queries_run_unchanged(under_test):
    """Seed, "Create a pipeline for the delta copy", steps 6 and 8 (PostgreSQL folds the names).

    SQL Server runs them natively; there the test's own schema qualifies the table, as the server is shared.
    """
    t = under_test.qt("data_source_table") if under_test.name == "sqlserver" else "data_source_table"
    under_test.run(
        f"create table {t} (PersonID int NOT NULL, Name varchar(255), Age int, PRIMARY KEY (PersonID))",
        f"INSERT INTO {t} (PersonID, Name, Age) VALUES (1, 'aaaa', 21), (2, 'bbbb', 24), "
        "(3, 'cccc', 20), (4, 'dddd', 26), (5, 'eeee', 22)",
    )
    source = under_test.source
    source.enable_change_tracking(under_test.table("data_source_table"))
    lookup = "SELECT CHANGE_TRACKING_CURRENT_VERSION() as CurrentChangeTrackingVersion"
    base = list(source.execute(lookup)[0].values())[0]
    under_test.run(
        f"INSERT INTO {t} (PersonID, Name, Age) VALUES (6, 'new', '50')",
        f"UPDATE {t} SET Age = '10', name='update' where PersonID = 1",
    )
    current = list(source.execute(lookup)[0].values())[0]
    copy_query = (
        f"SELECT {t}.PersonID,{t}.Name,{t}.Age, CT.SYS_CHANGE_VERSION, "
        f"SYS_CHANGE_OPERATION from {t} RIGHT OUTER JOIN CHANGETABLE(CHANGES {t}, "
        f"{base}) AS CT ON {t}.PersonID = CT.PersonID where CT.SYS_CHANGE_VERSION <= {current}"
    )
    with source.snapshot() as snapshot:
        rows = sorted(row for batch in snapshot.read(Query(copy_query)) for row in batch.rows)
        minimum = snapshot.min_valid_version(snapshot.describe(under_test.table("data_source_table")))
    assert rows == [(1, "update", 10, base + 2, "U"), (6, "new", 50, base + 1, "I")]
    assert current == base + 2
    check = f"SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('{t}')) AS v"
    assert list(source.execute(check)[0].values())[0] == minimum
