"""Faults by real means against a whole portal: every change delivered exactly once, every run ended.

Real ``kill -9`` of qcluster, Azurite stopped with SIGTERM (a ``kill -9`` of Azurite itself can lose
blobs it acknowledged: it keeps its metadata in memory and saves it every few seconds, so that would test
the emulator, not the portal), the source's backend terminated with ``pg_terminate_backend``, a worker
frozen with SIGSTOP past the stall limit and resumed. Named seams (``CTPORTAL_FAULT_POINT``) only where
no real means can hit the point: between two statements. Each test ends in ``verify_sync`` and a tally row.
"""

from __future__ import annotations

import random
import time

import pytest

from syncjobs.engine.faults import FAULT_POINT_VARIABLE, MANIFEST_WRITTEN, PARTS_COMMITTED
from tests.faults import harness
from tests.fixtures.postgres import admin_connect, drop_database, pg_connect

ROWS, PART_ROWS = 100_000, 10_000

pytestmark = pytest.mark.faults


def test_kill_9_mid_full_copy(faults):
    faults.install(ROWS, PART_ROWS)
    worker = faults.start_worker()
    faults.trigger()
    faults.wait_for(lambda: faults.pending_parts() >= 2, "the full copy never committed a part")
    worker.kill()
    assert 2 <= faults.pending_parts() < ROWS // PART_ROWS  # killed half way: a window left pending
    faults.settle()
    faults.tally("kill -9 mid-full-copy")


def test_kill_9_mid_delta(faults):
    faults.install(ROWS, PART_ROWS)
    faults.start_worker()
    faults.sync()
    faults.writer.burst(50)
    with pg_connect(faults.pg) as conn:
        conn.execute("UPDATE items SET n = n + 1")  # a delta of every row: long enough to be killed in
    faults.trigger()
    faults.wait_for(lambda: (faults.watermark()["pending"] or {}).get("mode") == "delta", "no delta started")
    time.sleep(0.3)
    faults.workers[0].kill()
    assert faults.watermark()["pending"]["mode"] == "delta"  # killed inside the window
    faults.settle()
    faults.tally("kill -9 mid-delta")


@pytest.mark.parametrize(
    ("point", "full"),
    [(PARTS_COMMITTED, True), (PARTS_COMMITTED, False), (MANIFEST_WRITTEN, True), (MANIFEST_WRITTEN, False)],
)
def test_killed_between_commit_and_advance(faults, point, full):
    faults.install(20_000, 3_000)
    if not full:
        faults.start_worker()
        faults.sync()
        faults.workers[0].kill()
        faults.writer.burst(200)
    doomed = faults.start_worker(**{FAULT_POINT_VARIABLE: point})
    faults.trigger()
    faults.wait_for(doomed.died, f"the worker never reached {point}")
    assert faults.watermark()["pending"] is not None  # the window is written; the watermark did not move
    faults.start_worker()
    faults.call("recover")
    run_id = faults.sync()
    window = faults.output(run_id)["changeTracking"]["window"]
    assert window["fromManifest"] is (point == MANIFEST_WRITTEN)  # a manifest: advanced from it, nothing copied
    if full or point == MANIFEST_WRITTEN:
        assert window["partsWritten"] == 0  # every part was recorded before the kill: none read again
    else:
        assert window["partsWritten"] >= 1  # a delta is copied again whole; the dead attempt's file is removed
    faults.settle()
    faults.tally(f"kill between {'parts and manifest' if point == PARTS_COMMITTED else 'manifest and advance'} "
                 f"({'full' if full else 'delta'})")  # fmt: skip


def test_random_kill_points_over_30_cycles(faults):
    faults.install(20_000, 2_000)
    chance = random.Random(2024)
    hits = {"queued": 0, "mid-window": 0, "after": 0}
    for _ in range(30):
        # Where to aim: while queued (at once), inside a window (once one is pending), or once the run ended.
        aim = chance.choice(("queued", "mid-window", "mid-window", "after"))
        worker = faults.start_worker()
        faults.writer.burst(chance.randint(5, 60))
        with pg_connect(faults.pg) as conn:  # and a bulk change, so that windows take a while to copy
            changed = 20 if aim == "mid-window" else chance.randint(0, 20)
            conn.execute("UPDATE items SET n = n + 1 WHERE id %% 20 < %s", (changed,))
        run_id = faults.trigger()
        if chance.random() < 0.3:
            faults.trigger()  # a second one queued behind it: the kill may take it from the broker
        if aim == "mid-window":
            faults.wait_for(
                lambda r=run_id: (
                    faults.status(r) in harness.FINISHED
                    or (faults.status(r) != "Queued" and faults.watermark()["pending"])
                ),
                "the run neither opened a window nor ended",
            )
            time.sleep(chance.uniform(0.0, 0.1))
        elif aim == "after":
            faults.wait_for(lambda r=run_id: faults.status(r) != "Queued", "the worker never took the run")
            time.sleep(chance.uniform(0.0, 0.3))
        worker.kill()
        pending = faults.watermark()["pending"]
        hits["queued" if faults.status(run_id) == "Queued" else "mid-window" if pending else "after"] += 1
        faults.call("recover")
    faults.settle()
    faults.tally("kill -9 at random points (30 cycles: " + ", ".join(f"{n} {k}" for k, n in hits.items()) + ")")
    assert hits["mid-window"] >= 5


def test_azurite_stopped_mid_upload(faults):
    faults.install(ROWS, PART_ROWS)
    faults.start_worker()
    run_id = faults.trigger()
    faults.wait_for(lambda: faults.pending_parts() >= 2, "the full copy never committed a part")
    faults.azurite.stop()  # SIGTERM: Azurite saves what it acknowledged (kill -9 would lose it)
    try:
        time.sleep(3)  # uploads fail and are retried by the blob client meanwhile
    finally:
        faults.azurite.start()
    ended = faults.wait(run_id)
    if ended == "Failed":  # the client gave up before Azurite came back: a transient error, the rerun resumes
        assert faults.call("outputs", run_id=run_id)["outputs"][-1]["error"]["errorCode"] in ("refused", "timeout")
    faults.settle()
    faults.tally(f"Azurite stopped mid-upload for 3 s (the run {ended})")


def test_source_backend_terminated_mid_read(faults):
    faults.install(ROWS, PART_ROWS)
    faults.start_worker()
    run_id = faults.trigger()
    faults.wait_for(lambda: faults.pending_parts() >= 2, "the full copy never committed a part")
    with admin_connect() as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = 'ctportal' AND pid <> pg_backend_pid()",
            (faults.pg.database,),
        ).fetchone()[0]
    assert ended >= 1
    assert faults.wait(run_id) == "Failed"  # connection_lost: transient (a policy's retry would take it again)
    assert faults.call("outputs", run_id=run_id)["outputs"][-1]["error"]["errorCode"] == "connection_lost"
    rerun = faults.sync()
    assert faults.output(rerun)["changeTracking"]["window"]["partsResumed"] >= 2
    faults.settle()
    faults.tally("source backend terminated mid-read")


def test_a_worker_frozen_past_the_stall_limit_then_resumed_writes_nothing(faults):
    faults.install(ROWS, PART_ROWS)
    zombie = faults.start_worker()
    first = faults.trigger()
    faults.wait_for(lambda: faults.pending_parts() >= 2, "the full copy never committed a part")
    zombie.freeze()
    try:
        time.sleep(harness.STALLED_SECONDS + 2)
        assert faults.call("recover")["recovered"] == 1  # judged dead: failed, its claim released
        faults.start_worker()
        second = faults.sync()  # finishes the window the zombie left
        assert faults.output(second)["changeTracking"]["window"]["partsResumed"] >= 2
    finally:
        zombie.thaw()
    time.sleep(3)  # the zombie carries on: its heartbeat says it lost the run; every write is refused
    assert faults.status(first) == "Failed"
    assert faults.log_lines(zombie, "was taken from this worker") or faults.log_lines(zombie, "claim_lost")
    faults.settle()
    faults.tally("worker frozen past the stall limit, resumed (zombie)")


def test_a_watermark_expired_by_retention_reinitializes(faults):
    faults.install(20_000, 5_000)
    faults.start_worker()
    faults.sync()
    faults.writer.burst(100)
    with pg_connect(faults.pg) as conn:
        conn.execute("UPDATE ctportal_ct.tables SET retention = interval '1 second'")
    time.sleep(1.2)
    faults.writer.burst(10)  # a commit past the retention, so cleanup has a version to keep
    assert faults.call("cleanup", linked_service="Pg")["purged"] > 0
    run_id = faults.sync()
    change = faults.output(run_id)["changeTracking"]
    assert (change["mode"], change["reasonCode"], change["window"]["generation"]) == (
        "reinitialized",
        "min_version_expired",
        2,
    )
    faults.settle()
    faults.tally("watermark expired by retention")


def test_a_restored_source_reinitializes(faults):
    faults.install(20_000, 5_000)
    faults.start_worker()
    faults.sync()
    backup = f"{faults.pg.database}_bak"
    drop_database(backup)
    with admin_connect() as admin:
        admin.execute(f'CREATE DATABASE "{backup}" TEMPLATE "{faults.pg.database}"')
    faults.writer.burst(50)
    faults.sync()
    drop_database(faults.pg.database)
    with admin_connect() as admin:
        admin.execute(f'ALTER DATABASE "{backup}" RENAME TO "{faults.pg.database}"')
    faults.writer.burst(30)  # written past the watermark again after the restore
    run_id = faults.sync()
    change = faults.output(run_id)["changeTracking"]
    assert change["mode"] == "reinitialized" and change["reasonCode"] in ("restored", "identity_changed")
    faults.settle()
    faults.tally("restored source")


def test_writes_during_a_full_copy(faults):
    faults.install(ROWS, PART_ROWS)
    faults.start_worker()
    faults.writer.start()
    faults.sync()
    faults.writer.stop()
    assert faults.writer.transactions > 0
    faults.settle()
    faults.tally("writes during a full copy")


def test_20_concurrent_triggers_on_two_workers_with_changes_flowing(tmp_path, pg_database, azurite, blob_container):
    bench = harness.FaultPortal(tmp_path, pg_database, azurite, blob_container, redis_url="redis://127.0.0.1:6379/12")
    try:
        bench.install(20_000, 5_000)
        bench.start_worker()
        bench.start_worker()
        bench.writer.start()
        runs = [bench.trigger() for _ in range(20)]
        ended = [bench.wait(run_id) for run_id in runs]
        bench.writer.stop()
        busy = [o for r in runs for o in bench.call("outputs", run_id=r)["outputs"] if o["status"] == "Failed"]
        assert all(o["error"]["errorCode"] == "watermark_busy" for o in busy)  # overlaps refused, with a reason
        assert ended.count("Succeeded") >= 1
        bench.settle()
        bench.tally("20 concurrent triggers, 2 workers, Redis, changes flowing")
    finally:
        bench.close()


def test_a_full_copy_of_1m_rows_killed_at_half_resumes_rereading_at_most_one_part(faults):
    rows, part_rows = 1_000_000, 100_000
    faults.install(rows, part_rows)
    first = faults.start_worker()
    faults.trigger()
    faults.wait_for(lambda: faults.pending_parts() >= 5, "the full copy never got half way", 120)
    time.sleep(0.15)  # into the sixth part (a part takes about half a second): it is read again
    first.kill()
    committed = faults.pending_parts()
    started_before = len(faults.log_lines(first, "reading part"))
    second = faults.start_worker()
    faults.call("recover")
    run_id = faults.sync()
    window = faults.output(run_id)["changeTracking"]["window"]
    assert window["partsResumed"] == committed and window["partsWritten"] == rows // part_rows - committed
    read_again = started_before + len(faults.log_lines(second, "reading part")) - rows // part_rows
    assert read_again <= 1  # only the part the kill interrupted
    faults.settle()
    faults.tally(f"1M-row full copy killed at {committed * 10} %, resumed ({read_again} part read again)")
