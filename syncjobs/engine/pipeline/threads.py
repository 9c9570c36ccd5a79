"""Work in threads while every host call is carried out on the runner's own thread.

The portal's host uses the database connection of the thread that runs the pipeline, so a job in a
thread (a ForEach iteration, one table of a ChangeTrackingCopy, an activity run beside another) gets
``RunnerThreads.host``: each of its calls is queued and answered by the thread that waits in
``next_finished``. Nested, the chain holds: a table's call goes to its activity's thread, which
forwards it to the runner's.

At most ``limit`` jobs exist at once; the waiting thread wakes for one host call or one finished
job at a time, never scanning the others.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar, cast

from syncjobs.engine.pipeline.host import RunHost

K = TypeVar("K")
_FINISHED = object()  # on the call queue: a job ended (its key and future follow)
# (function, its arguments, its keyword arguments, where the answer goes)
_Call = tuple[Any, tuple[Any, ...], dict[str, Any], "Future[Any] | None"]


class HostOnRunnerThread:
    """A RunHost for worker threads: each call is queued and answered by the waiting thread."""

    def __init__(self, host: RunHost, calls: queue.Queue[_Call]) -> None:
        self._host = host
        self._calls = calls

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._host, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            answer: Future[Any] = Future()
            self._calls.put((method, args, kwargs, answer))
            return answer.result()

        return call


class RunnerThreads(Generic[K]):
    """Up to ``limit`` jobs in threads; the thread that created it answers their host calls while it waits.

    Use as a context manager: leaving it waits for every job (still answering their calls), so no
    thread is ever left waiting on a host call nobody serves.
    """

    def __init__(self, host: RunHost, limit: int, name: str) -> None:
        self._calls: queue.Queue[_Call] = queue.Queue()
        self.host = cast(RunHost, HostOnRunnerThread(host, self._calls))
        self.limit = max(1, limit)
        self.running = 0
        self._pool = ThreadPoolExecutor(max_workers=self.limit, thread_name_prefix=name)

    def __enter__(self) -> RunnerThreads[K]:
        return self

    def __exit__(self, *exc: object) -> None:
        while self.running:
            self.next_finished()
        self._pool.shutdown(wait=True)

    @property
    def full(self) -> bool:
        """True while ``limit`` jobs run (start no more until one ends)."""
        return self.running >= self.limit

    def start(self, key: K, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` in a thread; ``next_finished`` hands back ``key`` when it ends."""
        future = self._pool.submit(function, *args)
        self.running += 1
        future.add_done_callback(lambda done: self._calls.put((_FINISHED, (key, done), {}, None)))

    def next_finished(self) -> tuple[K, Future[Any]]:
        """Answer host calls until a job ends; its key and its future (whose error is not raised here)."""
        while True:
            function, args, kwargs, answer = self._calls.get()
            if function is _FINISHED:
                self.running -= 1
                return cast(tuple[K, "Future[Any]"], args)
            assert answer is not None
            try:
                answer.set_result(function(*args, **kwargs))
            except BaseException as exc:  # handed to the job that made the call
                answer.set_exception(exc)
