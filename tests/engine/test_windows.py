"""Change windows on every source: parts, manifests, resumed full copies, and what a rerun finds.

Every test ends in ``verify_table``: the sink's windows replayed against the source, row for row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from syncjobs.engine.changetracking import CopyOptions, copy_table
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.manifests import manifest_path, schema_hash, write_manifest
from syncjobs.engine.types import Column, TableName
from syncjobs.engine.verification import verify_table
from syncjobs.engine.windows import LocalJournal, PendingWindow, SyncState
from tests.engine.sync_helpers import Syncer, csv, make_order_lines, make_people, people

TEN = [(i, f"name {i}", 20 + i) for i in range(1, 11)]


def verify(u, sink, table):
    report = verify_table(u.source, table, sink, csv(), "out")
    assert report.exact, report.as_dict()
    return report


def parts(sink, prefix: str) -> list[str]:
    return [p.rsplit("/", 1)[1] for p in sink.list(prefix + "/") if "/part-" in p]


def stop_after_parts(sink, count: int):
    """A cancel that comes once ``count`` part files are committed anywhere under out/."""
    return lambda: len([p for p in sink.list("out/") if "/part-" in p]) >= count


def test_a_full_window_is_split_at_max_rows_per_file_and_every_part_has_a_header(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test, rows=TEN), max_rows_per_file=3)
    result = sync.copy()
    window = result.window
    assert window.prefix == f"out/{str(sync.table)}/g0001/{0:020d}-{result.watermark.version:020d}"
    assert parts(folder_sink, window.prefix) == [f"part-0000{i}-c0001.csv" for i in range(4)]
    assert [f.rows for f in result.files] == [3, 3, 3, 1]
    assert all(folder_sink.read(f.path).decode().startswith("PersonID,Name,Age,") for f in result.files)
    verify(under_test, folder_sink, sync.table)


def test_the_manifest_names_each_file_with_rows_bytes_and_checksum(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test, rows=TEN), max_rows_per_file=4)
    full = sync.copy()
    t, q = people(under_test), under_test.q
    under_test.run(
        f"UPDATE {t} SET {q('Age')} = 1 WHERE {q('PersonID')} <= 3",
        f"DELETE FROM {t} WHERE {q('PersonID')} = 10",
        f"INSERT INTO {t} ({q('PersonID')}, {q('Name')}, {q('Age')}) VALUES (11, 'eleven', 11)",
    )
    delta = sync.copy()
    first = json.loads(folder_sink.read(full.window.manifest))
    second = json.loads(folder_sink.read(delta.window.manifest))
    assert first["mode"] == "full" and first["replacesTable"] and "upserts" in first["note"]
    assert (first["fromVersion"], first["toVersion"]) == (0, full.watermark.version)
    assert second["mode"] == "delta" and not second["replacesTable"]
    assert second["fromVersion"] == first["toVersion"] and second["toVersion"] == delta.watermark.version
    assert second["operations"] == {"I": 1, "U": 3, "D": 1} and second["rows"] == 5
    assert [f["rows"] for f in second["files"]] == [4, 1]  # deltas are split too
    for entry in second["files"]:
        data = folder_sink.read(f"{delta.window.prefix}/{entry['name']}")
        assert entry["bytes"] == len(data)
        assert entry["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert [c["name"] for c in second["columns"]][-2:] == ["SYS_CHANGE_VERSION", "SYS_CHANGE_OPERATION"]
    assert first["schemaHash"] == second["schemaHash"] and second["keyColumns"] == ["PersonID"]
    assert second["table"]["name"] == sync.table.name and second["generation"] == 1
    verify(under_test, folder_sink, sync.table)


def test_a_full_copy_stopped_half_way_resumes_after_its_committed_parts(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test, rows=TEN), max_rows_per_file=3, batch_rows=1)
    with pytest.raises(TerminalError):
        sync.copy(should_stop=stop_after_parts(folder_sink, 2))
    pending = sync.state.pending
    assert sync.watermark is None and len(pending.parts) == 2
    assert not folder_sink.list(pending.prefix + "/_manifest")  # no manifest: the window does not exist yet
    result = sync.copy()
    assert result.window.prefix == pending.prefix  # the same window, the same baseline
    assert (result.window.parts_resumed, result.window.parts_written) == (2, 2)
    assert result.rows_written == 4 and result.window.rows == 10
    assert sorted(parts(folder_sink, pending.prefix)) == [
        "part-00000-c0001.csv",
        "part-00001-c0001.csv",
        "part-00002-c0002.csv",
        "part-00003-c0002.csv",
    ]
    verify(under_test, folder_sink, sync.table)


def test_changes_made_while_a_full_copy_was_interrupted_arrive_in_the_next_delta(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test, rows=TEN), max_rows_per_file=3, batch_rows=1)
    with pytest.raises(TerminalError):
        sync.copy(should_stop=stop_after_parts(folder_sink, 2))
    t, q = people(under_test), under_test.q
    under_test.run(
        f"UPDATE {t} SET {q('Name')} = 'early, done' WHERE {q('PersonID')} = 2",  # in a committed part
        f"UPDATE {t} SET {q('Name')} = 'late, to read' WHERE {q('PersonID')} = 9",  # in a part still to read
        f"DELETE FROM {t} WHERE {q('PersonID')} = 1",
        f"INSERT INTO {t} ({q('PersonID')}, {q('Name')}, {q('Age')}) VALUES (0, 'zero', 0)",
    )
    full = sync.copy()
    assert full.mode == "full"
    delta = sync.copy()
    assert delta.window.from_version == full.window.to_version
    assert sorted(delta.counts.items()) == [("D", 1), ("I", 1), ("U", 2)]  # the late row's change comes again
    verify(under_test, folder_sink, sync.table)


def test_a_pending_window_with_a_manifest_is_advanced_from_it_without_copying(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    before = sync.state
    journal = LocalJournal()
    first = copy_table(
        under_test.source, sync.table, folder_sink, csv(), "out", replace(before, claim=1), journal=journal
    )
    sync.state = replace(before, pending=journal.window, claim=1)  # killed between manifest and advance
    files = folder_sink.list("out/")
    again = sync.copy()
    assert again.window.from_manifest and again.rows_written == 0
    assert [f.path for f in again.files] == [f.path for f in first.files]
    assert again.watermark == first.watermark
    assert folder_sink.list("out/") == files
    verify(under_test, folder_sink, sync.table)


def test_a_part_whose_record_is_refused_is_removed_and_a_dead_attempts_files_go_with_the_manifest(
    under_test, folder_sink
):
    sync = Syncer(under_test, folder_sink, make_people(under_test, rows=TEN), max_rows_per_file=5)

    class RefusesTheSecondPart(LocalJournal):
        def record(self, window):
            if len(window.parts) == 2:
                raise TerminalError("claim_lost", "the claim was taken between the part's commit and its record")
            super().record(window)

    journal = RefusesTheSecondPart()
    state, options = replace(sync.state, claim=1), CopyOptions(max_rows_per_file=5)
    with pytest.raises(TerminalError):
        copy_table(under_test.source, sync.table, folder_sink, csv(), "out", state, journal=journal, options=options)
    prefix = journal.window.prefix
    assert parts(folder_sink, prefix) == ["part-00000-c0001.csv"]  # the refused part was taken back
    # what a kill -9 between a commit and its record leaves: a part no record (and so no manifest) names
    folder_sink.create_exclusive(f"{prefix}/part-00001-c0001.csv", b"PersonID,Name,Age\r\n")
    sync.state = replace(sync.state, pending=journal.window, claim=1)
    result = sync.copy()
    assert parts(folder_sink, prefix) == ["part-00000-c0001.csv", "part-00001-c0002.csv"]
    assert json.loads(folder_sink.read(result.window.manifest))["files"][1]["name"] == "part-00001-c0002.csv"
    verify(under_test, folder_sink, sync.table)


def test_a_run_that_lost_its_claim_writes_no_manifest_and_takes_back_its_delta(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    sync.copy()
    under_test.run(f"UPDATE {people(under_test)} SET {under_test.q('Age')} = 5")
    before = folder_sink.list("out/")

    class Fenced(LocalJournal):
        def check_claim(self):
            raise TerminalError("claim_lost", "another run holds the watermark now")

    with pytest.raises(TerminalError) as caught:
        copy_table(under_test.source, sync.table, folder_sink, csv(), "out", sync.state, journal=Fenced())
    assert caught.value.reason == "claim_lost"
    assert folder_sink.list("out/") == before  # its delta's part was written, then taken back


def test_an_exclusive_manifest_keeps_the_first_attempts(folder_sink):
    window = PendingWindow(1, "delta", "", "", 5, 9, "out/t/g0001/x", "db:1", 5, 5)
    winner = {"generation": 1, "fromVersion": 5, "toVersion": 9, "files": [{"name": "part-00000-c0001.csv"}]}
    assert write_manifest(folder_sink, window, winner) == winner
    loser = {**winner, "files": [{"name": "part-00000-c0002.csv"}]}
    assert write_manifest(folder_sink, window, loser) == winner
    assert json.loads(folder_sink.read(manifest_path(window.prefix))) == winner


def test_quiet_runs_write_nothing_and_the_chain_of_manifests_stays_continuous(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    make_people(under_test, "other")
    full = sync.copy()
    under_test.run(f"UPDATE {under_test.qt('other')} SET {under_test.q('Age')} = 2")  # the database moves on
    quiet = sync.copy()
    assert quiet.files == () and quiet.watermark.version > full.watermark.version
    under_test.run(f"UPDATE {people(under_test)} SET {under_test.q('Age')} = 3 WHERE {under_test.q('PersonID')} = 4")
    delta = sync.copy()
    assert delta.window.from_version == full.window.to_version  # the last manifest's to, not the watermark
    assert delta.previous_version == quiet.watermark.version
    verify(under_test, folder_sink, sync.table)


def test_a_pending_delta_is_copied_again_with_the_same_versions(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test), batch_rows=1)
    sync.copy()
    t, q = people(under_test), under_test.q
    under_test.run(f"UPDATE {t} SET {q('Age')} = 7 WHERE {q('PersonID')} IN (1, 2, 3)")
    stops = iter([False, True])
    with pytest.raises(TerminalError):
        sync.copy(should_stop=lambda: next(stops, True))
    pending = sync.state.pending
    under_test.run(f"UPDATE {t} SET {q('Age')} = 8 WHERE {q('PersonID')} = 5")  # after the window's to
    again = sync.copy()
    assert (again.window.prefix, again.window.to_version) == (pending.prefix, pending.to_version)
    assert again.counts == {"U": 3}
    assert sync.copy().counts == {"U": 1}
    verify(under_test, folder_sink, sync.table)


def test_a_pending_delta_whose_changes_expired_is_abandoned_for_a_new_generation(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test), batch_rows=1)
    sync.copy()
    under_test.run(f"UPDATE {people(under_test)} SET {under_test.q('Age')} = 7")
    stops = iter([False, True])
    with pytest.raises(TerminalError):
        sync.copy(should_stop=lambda: next(stops, True))
    abandoned = sync.state.pending.prefix
    under_test.expire_change_information()
    result = sync.copy()
    assert result.mode == "reinitialized" and result.window.generation == 2
    assert "abandoned" in result.reason
    assert folder_sink.list(abandoned + "/") == []
    verify(under_test, folder_sink, sync.table)


def test_a_portal_that_forgot_its_state_starts_a_generation_the_sink_has_not_used(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    sync.copy()
    sync.state = SyncState(claim=sync.state.claim)  # the watermark row was lost
    result = sync.copy()
    assert result.mode == "full" and result.window.generation == 2
    verify(under_test, folder_sink, sync.table)


def test_parallel_copies_read_each_part_in_its_own_snapshot_and_deliver_each_row_once(under_test, folder_sink):
    rows = [(i, f"n{i}", i) for i in range(1, 41)]
    sync = Syncer(under_test, folder_sink, make_people(under_test, rows=rows), max_rows_per_file=4, parallel_copies=3)
    result = sync.copy()
    assert len(result.files) == 10 and sum(f.rows for f in result.files) == 40
    under_test.run(f"DELETE FROM {people(under_test)} WHERE {under_test.q('PersonID')} > 30")
    sync.copy()
    verify(under_test, folder_sink, sync.table)


def test_composite_text_keys_split_into_parts_in_the_databases_own_order(under_test, folder_sink):
    name = "order lines"
    make_order_lines(under_test, name, "(1, 'b', 1), (1, 'a', 2), (2, 'A', 3), (2, 'é', 4), (10, 'z', 5)")
    sync = Syncer(under_test, folder_sink, under_test.table(name), max_rows_per_file=2, parallel_copies=2)
    result = sync.copy()
    assert [f.rows for f in sorted(result.files, key=lambda f: f.path)] == [2, 2, 1]
    verify(under_test, folder_sink, sync.table)


def test_the_schema_hash_changes_with_a_column():
    assert schema_hash((Column("a", "int"),)) != schema_hash((Column("a", "string"),))


def test_verification_finds_a_lost_file_a_lost_window_and_a_window_delivered_twice(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    sync.copy()
    t, q = people(under_test), under_test.q
    under_test.run(f"UPDATE {t} SET {q('Age')} = 70 WHERE {q('PersonID')} = 1")
    delta = sync.copy()
    under_test.run(f"UPDATE {t} SET {q('Age')} = 71 WHERE {q('PersonID')} = 2")
    last = sync.copy()
    # the old bug: the same window delivered a second time under another name
    copy_prefix = delta.window.prefix + "-again"
    for path in folder_sink.list(delta.window.prefix + "/"):
        folder_sink.create_exclusive(copy_prefix + path[len(delta.window.prefix) :], folder_sink.read(path))
    twice = verify_table(under_test.source, sync.table, folder_sink, csv(), "out")
    assert twice.duplicate_deliveries == 1 and not twice.exact
    folder_sink.delete(manifest_path(copy_prefix))
    folder_sink.delete(manifest_path(last.window.prefix))  # a window lost
    folder_sink.delete(delta.files[0].path)  # a file lost
    report = verify_table(under_test.source, sync.table, folder_sink, csv(), "out")
    assert report.files_bad == 1 and report.rows_stale == 1
    assert report.to_version == delta.window.to_version and report.keys_left_out == 1


@pytest.mark.parametrize(
    ("table", "folder"),
    [
        (TableName(".."), "root/__"),
        (TableName("."), "root/_"),
        (TableName("..\\..\\x"), "root/.._.._x"),
        (TableName("../../x"), "root/.._.._x"),
        (TableName("x", "dbo"), "root/dbo.x"),
    ],
)
def test_a_table_folder_is_one_folder_under_the_root_whatever_the_table_is_called(table, folder):
    from syncjobs.engine.sinks.folder import relative_parts
    from syncjobs.engine.windows import table_folder

    assert table_folder("root", table) == folder
    assert len(relative_parts(table_folder("root", table))) == 2
