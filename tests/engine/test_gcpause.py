from __future__ import annotations

import gc
import threading

from syncjobs.engine.gcpause import collector_paused


def test_the_collector_is_off_while_any_copy_holds_the_pause_and_back_on_after_the_last():
    assert gc.isenabled()
    entered, release = threading.Event(), threading.Event()

    def other_copy():
        with collector_paused():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other_copy)
    with collector_paused():
        thread.start()
        entered.wait(10)
        with collector_paused():
            assert not gc.isenabled()
    assert not gc.isenabled()  # the other copy still runs
    release.set()
    thread.join(10)
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
