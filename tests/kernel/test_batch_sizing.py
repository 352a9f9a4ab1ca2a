"""How PipelineBatches sizes its batches: a buffer goes to the pool only while a pool process
is free, and a batch holds at most `flush_max` items, so batches grow under load instead of
queueing behind busy processes as many small ones. The pool here is a stand-in that only
records the jobs handed to it (the worker's real pool runs in the pipeline and fault tests)."""

from celery_batches import SimpleRequest

from adplatform.kernel.task_base import REQUEUE, PipelineBatches


class Pool:
    def __init__(self, processes: int):
        self.num_processes = processes
        self.jobs = []  # [(requests, callback, error_callback)]

    def apply_async(self, _fn, args, callback, error_callback, **_):
        _task, (requests,), *_ = args
        self.jobs.append(([r.args[0] for r in requests], callback, error_callback))

    def finish(self, index: int, result=1) -> None:
        self.jobs[index][1](result)


class Request(SimpleRequest):
    """A buffered message: the worker's request as celery-batches hands it over."""

    outcome = None

    def __init__(self, payload: list):
        super().__init__(
            id=str(payload),
            name="t",
            args=(payload,),
            kwargs={},
            delivery_info={},
            hostname="here",
            ignore_result=True,
            reply_to=None,
            correlation_id=None,
            request_dict={},
        )
        self._payload = (self.args, self.kwargs, {})  # the decoded body, as the worker's request holds it

    def acknowledge(self):
        self.outcome = "acknowledged"

    def reject(self, requeue=False):
        self.outcome = "requeued" if requeue else "rejected"


class Sized(PipelineBatches):
    name = "tests.sized_batches"
    flush_max = 4

    def run(self, requests):
        return len(requests)


def batches(processes: int):
    task = Sized()
    task._pool = Pool(processes)
    return task, task._pool


def buffered(task, *payloads: list) -> list[Request]:
    requests = [Request(p) for p in payloads]
    for request in requests:
        task._buffer.put(request)
    return requests


def test_a_free_process_takes_the_buffer_at_once():
    task, pool = batches(processes=1)
    buffered(task, ["a"], ["b"], ["c"])
    task._do_flush()
    assert [job[0] for job in pool.jobs] == [[["a"], ["b"], ["c"]]]


def test_while_every_process_is_busy_the_next_batch_grows_and_goes_when_one_is_free():
    task, pool = batches(processes=1)
    first = buffered(task, ["a"])
    task._do_flush()
    later = buffered(task, ["b"], ["c"])
    task._do_flush()
    buffered(task, ["d"])
    task._do_flush()
    assert len(pool.jobs) == 1, "a batch was queued behind the busy process"

    pool.finish(0)
    assert [r.outcome for r in first] == ["acknowledged"]
    assert [r.outcome for r in later] == [None, None], "acknowledged before being judged"
    assert pool.jobs[1][0] == [["b"], ["c"], ["d"]], "the end of a batch hands the grown buffer on"


def test_a_batch_holds_at_most_flush_max_items_and_the_rest_waits_in_order():
    task, pool = batches(processes=2)
    buffered(task, ["a1", "a2"], ["b1", "b2", "b3"], ["c1"], ["d1", "d2", "d3", "d4", "d5"], ["e1"])
    task._do_flush()
    # Two processes, two batches: a (2) alone, since b would make 5 > 4; then b and c (4).
    assert [job[0] for job in pool.jobs] == [[["a1", "a2"]], [["b1", "b2", "b3"], ["c1"]]]
    pool.finish(0)
    # A message larger than flush_max still goes, alone: it cannot be split.
    assert pool.jobs[2][0] == [["d1", "d2", "d3", "d4", "d5"]]
    pool.finish(1)
    assert pool.jobs[3][0] == [["e1"]]


def test_a_requeued_batch_frees_its_process_too():
    task, pool = batches(processes=1)
    first = buffered(task, ["a"])
    task._do_flush()
    buffered(task, ["b"])
    pool.finish(0, result=REQUEUE)
    assert [r.outcome for r in first] == ["requeued"]
    assert pool.jobs[1][0] == [["b"]]


class Timer:
    def call_repeatedly(self, interval, fn):
        return self

    def cancel(self):
        pass


def test_batches_a_reconnect_discarded_do_not_keep_the_pool_looking_busy():
    """At a reconnect Celery's consumer flushes the pool, which drops the batches no process
    had taken without calling back; the worker's consumer then starts again (Strategy)."""
    from types import SimpleNamespace

    from adplatform.celery import app

    task, pool = batches(processes=1)
    buffered(task, ["a"])
    task._do_flush()
    pool.jobs.clear()  # discarded by the pool's flush: no callback will ever come
    consumer = SimpleNamespace(pool=pool, hostname="here", connection_errors=(), event_dispatcher=None, timer=Timer())
    task.Strategy(task, app, consumer)
    buffered(task, ["b"])
    task._do_flush()
    assert [job[0] for job in pool.jobs] == [[["b"]]]


def test_a_worker_shutting_down_hands_nothing_more_to_the_pool(monkeypatch):
    """After SIGTERM (warm shutdown, code 0) the pool only finishes what it took: what is
    still buffered goes back to the broker with the connection."""
    from celery.worker import state

    task, pool = batches(processes=1)
    monkeypatch.setattr(state, "should_stop", 0)
    buffered(task, ["a"])
    task._do_flush()
    assert pool.jobs == []
    monkeypatch.setattr(state, "should_stop", None)
    task._do_flush()
    assert [job[0] for job in pool.jobs] == [[["a"]]]


def test_other_tasks_in_a_prefork_pool_count_as_busy_processes():
    """The projections share the pool's processes: billiard's job cache (prefork) counts
    every job the pool holds, so a batch is not queued behind them while it could grow."""
    from types import SimpleNamespace

    task, pool = batches(processes=2)
    pool._pool = SimpleNamespace(_cache={"projection-1": object(), "projection-2": object()})
    buffered(task, ["a"])
    task._do_flush()
    assert pool.jobs == []
    del pool._pool._cache["projection-1"]
    task._do_flush()
    assert [job[0] for job in pool.jobs] == [[["a"]]]


def test_the_prefork_pool_keeps_the_job_cache_batching_counts():
    """What _pool_jobs reads of Celery's prefork pool (docs/internals.md): billiard's job
    cache, which holds a job from apply_async on (results are read by the worker's event
    loop, absent here, which is where a finished job leaves it)."""
    from celery.concurrency.prefork import TaskPool

    pool = TaskPool(limit=1)
    pool.start()
    try:
        assert len(pool._pool._cache) == 0
        pool._pool.apply_async(sum, ([1, 2],))
        assert len(pool._pool._cache) == 1
    finally:
        pool.terminate()
