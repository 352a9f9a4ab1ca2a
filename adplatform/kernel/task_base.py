"""The base Celery task of every pipeline consumer (`PipelineTask`): bounded retries with capped exponential
backoff and jitter, then a dead letter that staff can see and replay; and the worker's
consumer, which dead-letters the messages it cannot decode or route (Celery would only log
and drop them).

Where Celery would otherwise lose a message, we keep it:
- a retry that cannot be published (broker unreachable) hands the message back instead
  of dropping it (`PipelineTask.retry`);
- a task killed at its hard time limit is acknowledged by Celery without reaching
  `on_failure` (its process is gone): the worker's main process dead-letters it
  (`_dead_letter_hard_time_limit`);
- a dead letter that cannot be written (the database is down) goes back on the queue
  as a fresh message instead (`PipelineTask.on_failure`);
- a celery-batches buffer is acknowledged or handed back whatever becomes of it
  (`PipelineBatches`): celery-batches leaves a buffer whose pool process died or hit the
  hard time limit unacknowledged for as long as the worker lives (its leases kept renewed),
  and stops flushing a buffer for good once a broker reconnect clears the worker's timers.

`PipelineBatches` also sizes its batches to the load: a buffer goes to the pool only when a
pool process is free to take it, so while every process judges a batch the next one grows
(up to `flush_max` items) instead of queueing behind them as many small ones. A light load
gets small batches every `flush_interval`; a heavy one, or a slow external validator whose
calls a batch makes concurrently, gets large ones and keeps up.
"""

import logging
import time
from collections import deque
from queue import Empty

from billiard.exceptions import TimeLimitExceeded
from celery import Task
from celery.exceptions import Reject
from celery.signals import task_failure
from celery.worker import state as worker_state
from celery.worker.consumer import Consumer
from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task
from django.conf import settings

logger = logging.getLogger(__name__)


class PoisonMessage(ValueError):
    """A message that no retry can fix (undecodable, wrong schema): dead-letter it at once."""


class PipelineTask(Task):
    autoretry_for = (Exception,)
    dont_autoretry_for = (PoisonMessage,)
    retry_backoff = True
    retry_jitter = True
    acks_late = True
    reject_on_worker_lost = True

    @property
    def max_retries(self):
        return settings.PIPELINE_MAX_RETRIES

    @property
    def retry_backoff_max(self):
        return settings.PIPELINE_RETRY_BACKOFF_MAX

    def retry(self, *args, countdown=None, **kwargs):
        try:
            return super().retry(*args, countdown=countdown, **kwargs)
        except Reject as reject:
            # Celery rejects the message *without* requeue when it cannot publish the retry,
            # which drops it for good once the broker takes the reject. Wait out the backoff
            # here and hand the message back instead, so it is delivered again.
            logger.warning("%s: could not publish its retry (%s); requeueing the message", self.name, reject.reason)
            time.sleep(countdown or 0)
            raise Reject(reject.reason, requeue=True) from None

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        recorded = dead_letter_record(
            task_name=self.name, task_id=task_id, args=args, kwargs=kwargs, error=exc, traceback=str(einfo)
        )
        if not recorded:
            # The database is down (likely why the task gave up): no dead letter can be
            # written, and the message is about to be acknowledged. Queue it again, after the
            # longest backoff and with a fresh retry budget, rather than lose it.
            try:
                self.apply_async(args=args, kwargs=kwargs, countdown=self.retry_backoff_max)
            except Exception:
                logger.critical(
                    "lost %s %s args=%r: no dead letter, no requeue", self.name, task_id, args, exc_info=True
                )


# What a PipelineBatches task returns when its buffer must go back to the broker as it is.
REQUEUE = "requeue"
# How long a pool process waits before handing a buffer back that it could not pass on (as a
# plain task's first retry would back off): the broker gives it straight back to this worker.
REQUEUE_PAUSE = 1.0


class PipelineBatches(Batches):
    """celery-batches' buffering task class, made to lose and hold nothing and to size its
    batches to the load (module docstring). Its tasks take the buffered requests and return
    `REQUEUE` when the buffer must go back to the broker; `retry_lane` names the plain task
    that judges a message of a failed buffer alone (with its own retries, time limit and dead
    letter); `flush_max` is the most items one batch holds (a request's items: the length of
    its list argument)."""

    abstract = True
    acks_late = True
    retry_lane = ""
    flush_max = 500
    # When a buffered request's oldest item was accepted (epoch seconds, or None), and who is
    # told, at most every HELD_REPORT_EVERY seconds, the oldest of what this worker holds
    # (None: nothing): for a task whose lag is watched (admission control). Both optional.
    accepted_at = None
    held_report = None
    HELD_REPORT_EVERY = 0.25  # admission control sheds by it: a late report lets the backlog overshoot

    def __init__(self):
        super().__init__()
        self._held: deque = deque()  # ready requests not yet handed to the pool, in order
        # A token per batch in the pool, dropped by its callback: its oldest item's acceptance.
        self._running: dict[object, float | None] = {}
        self._reported_at = 0.0

    def Strategy(self, task, app, consumer):
        # Built again at every (re)start of the worker's consumer. A connection loss cleared
        # the event loop's timers (celery's asynloop), the repeating flush among them, but
        # celery-batches only arms it while `_tref` is None: arm it again, so a buffer
        # (still holding messages from before the loss, or a trickle after it) is flushed.
        if self._tref is not None:
            self._tref.cancel()
        # At a reconnect Celery's consumer flushes the pool, which discards the batches no
        # process had taken yet without calling back (their messages come back from the
        # broker): forget them all, or their tokens would keep the pool looking busy forever.
        # A batch still running ends as usual; only its own token is dropped.
        self._running.clear()
        handler = super().Strategy(task, app, consumer)
        self._tref = consumer.timer.call_repeatedly(self.flush_interval, self._do_flush)
        return handler

    def _do_flush(self) -> None:
        """Hand the buffer to the pool, one batch of at most `flush_max` items per free pool
        process; what no free process can take yet stays buffered (and keeps growing). Called
        by the timer, every `flush_every` messages, and when a batch ends. The timer repeats
        for the worker's life: celery-batches' cancel-when-empty is not needed."""
        while True:
            try:
                self._held.append(self._buffer.get_nowait())
            except Empty:
                break
        self._held_report()
        if not self._held or _worker_shutting_down():
            # Shutting down: the pool finishes what it took, and what is still buffered goes
            # back to the broker with the connection (kombu restores unacknowledged messages).
            return
        free = max(0, self._pool.num_processes - self._pool_jobs())
        while free and self._held:
            batch, items = [], 0
            while self._held and (not batch or items + _items_of(self._held[0]) <= self.flush_max):
                request = self._held.popleft()
                batch.append(request)
                items += _items_of(request)
            free -= 1
            self.flush(batch)

    def _pool_jobs(self) -> int:
        """Jobs the pool holds, running or waiting for a process, whatever their task: the
        projections share the processes, and a batch handed to a process busy with one only
        waits (while staying small). Billiard's job cache where the pool has one (prefork:
        docs/internals.md), else this task's own batches."""
        cache = getattr(getattr(self._pool, "_pool", None), "_cache", None)
        return len(cache) if cache is not None else len(self._running)

    def flush(self, requests):
        """Run the buffer in the pool (as celery-batches does), then acknowledge it, or hand
        it back when the task says so; a pool job that died (SIGKILL, OOM, the hard time
        limit) hands each message to the retry lane. Either way a pool process is free again,
        so what was buffered meanwhile goes to it at once."""

        def on_return(result):
            try:
                for request in requests:
                    if result == REQUEUE:
                        request.reject(requeue=True)
                    else:
                        request.acknowledge()
            finally:
                self._batch_ended(token)

        def on_error(exc_info):
            try:
                self._requests_to_retry_lane(requests, exc_info.exception)
            finally:
                self._batch_ended(token)

        token = object()
        self._running[token] = self._oldest_accepted(requests)
        try:
            return self._pool.apply_async(
                apply_batches_task,
                (self, ([SimpleRequest.from_request(r) for r in requests],), 0, None),
                callback=on_return,
                error_callback=on_error,
            )
        except BaseException:
            self._running.pop(token, None)
            raise

    def _batch_ended(self, token) -> None:
        self._running.pop(token, None)
        self._do_flush()

    def _oldest_accepted(self, requests) -> float | None:
        if self.accepted_at is None:
            return None
        return min(filter(None, map(self.accepted_at, requests)), default=None)

    def _held_report(self) -> None:
        """Tell `held_report` when the oldest item this worker holds (buffered, or in a batch
        in the pool) was accepted: what the broker's queue alone does not show, since the
        messages a worker prefetched have left it. In the worker's main process, from the
        flush timer, so at most every HELD_REPORT_EVERY seconds and never failing it."""
        if self.held_report is None or time.monotonic() - self._reported_at < self.HELD_REPORT_EVERY:
            return
        self._reported_at = time.monotonic()
        oldest = [t for t in (*self._running.values(), self._oldest_accepted(self._held)) if t is not None]
        try:
            self.held_report(min(oldest, default=None))
        except Exception:
            logger.warning("%s: could not report the oldest item held", self.name, exc_info=True)

    def _requests_to_retry_lane(self, requests, error) -> None:
        # In the worker's main process: the pool process is gone, and with it any chance to
        # tell which message of the buffer was at fault, so each one is judged alone.
        logger.error(
            "%s: a buffer of %d messages failed in the pool (%r); handing each to %s",
            self.name,
            len(requests),
            error,
            self.retry_lane,
        )
        lane = self.app.tasks[self.retry_lane]
        for request in requests:
            try:
                lane.apply_async(args=list(request.args), kwargs=dict(request.kwargs))
            except Exception:
                logger.warning("%s: could not publish to the retry lane; requeueing", self.name, exc_info=True)
                request.reject(requeue=True)
            else:
                request.acknowledge()

    def to_retry_lane(self, requests) -> int | str:
        """In the pool process: hand each buffered message to the retry lane (a message of
        its own, due in a second); if the broker refuses, `REQUEUE` after a pause."""
        lane = self.app.tasks[self.retry_lane]
        try:
            for request in requests:
                lane.apply_async(args=list(request.args), kwargs=dict(request.kwargs), countdown=1)
        except Exception:
            logger.critical(
                "%s: could not publish a failed buffer to the retry lane; handing its %d messages back",
                self.name,
                len(requests),
                exc_info=True,
            )
            time.sleep(REQUEUE_PAUSE)
            return REQUEUE
        return 0


def _worker_shutting_down() -> bool:
    # As Celery tests it (celery.worker.state.maybe_shutdown): a warm shutdown's code is 0.
    return any(
        flag is not None and flag is not False for flag in (worker_state.should_stop, worker_state.should_terminate)
    )


def _items_of(request) -> int:
    """How many items (ads, for intake) a buffered request carries: its list argument's length."""
    args = request.args
    return max(1, len(args[0])) if args and isinstance(args[0], list) else 1


def dead_letter_record(*, task_name, task_id="", args=(), kwargs=None, error, traceback="") -> bool:
    """Record a message that could not be processed, once: an open (not replayed) letter
    with the same task and arguments is not written again (redeliveries, retries).
    Returns False if the record could not be written."""
    from .models import DeadLetter

    message = {"task_name": task_name, "args": list(args), "kwargs": dict(kwargs or {})}
    try:
        if not DeadLetter.objects.filter(**message, replayed_at__isnull=True).exists():
            DeadLetter.objects.create(
                **message, task_id=task_id or "", error=f"{type(error).__name__}: {error}", traceback=traceback
            )
    except Exception:  # the database itself is down: the log is the last record
        # The arguments are ads (a retailer's content): the log names the message, not them.
        logger.critical(
            "could not record dead letter for %s %s (%d args)", task_name, task_id, len(args), exc_info=True
        )
        return False
    logger.error("dead letter: %s %s: %s", task_name, task_id, error)
    return True


@task_failure.connect
def _dead_letter_hard_time_limit(sender=None, task_id=None, exception=None, args=None, kwargs=None, einfo=None, **_):
    # Sent by the worker's main process after it killed the task's process: the task's own
    # on_failure never ran, and Celery acknowledges the message.
    if isinstance(sender, PipelineTask) and isinstance(exception, TimeLimitExceeded):
        dead_letter_record(
            task_name=sender.name,
            task_id=task_id,
            args=args or (),
            kwargs=kwargs,
            error=exception,
            traceback=str(einfo),
        )


class DeadLetteringConsumer(Consumer):
    """The worker's consumer (setting `worker_consumer`). A message it cannot decode, or
    for a task this worker does not know, becomes a dead letter before Celery drops it.
    An unknown task's letter keeps its arguments, so it can be replayed once a deploy
    brings the task; an undecodable one keeps its raw body in `kwargs` for staff to read
    (with an empty task_name: it cannot be replayed)."""

    def on_decode_error(self, message, exc):
        _dead_letter_raw(message, exc)
        super().on_decode_error(message, exc)

    def on_invalid_task(self, body, message, exc):
        _dead_letter_raw(message, exc)
        super().on_invalid_task(body, message, exc)

    def on_unknown_message(self, body, message):
        _dead_letter_raw(message, ValueError("not a task message"))
        super().on_unknown_message(body, message)

    def on_unknown_task(self, body, message, exc):
        headers = message.headers or {}
        try:
            args, kwargs, _embed = message.decode()
        except Exception:
            _dead_letter_raw(message, exc)
        else:
            dead_letter_record(
                task_name=str(headers.get("task", "")),
                task_id=str(headers.get("id", "")),
                args=args,
                kwargs=kwargs,
                error=exc,
            )
        super().on_unknown_task(body, message, exc)


def _dead_letter_raw(message, exc) -> None:
    """The message as received, for staff to read: its body can't be turned into arguments."""
    headers = message.headers if isinstance(message.headers, dict) else {}
    body = message.body.decode("utf-8", "replace") if isinstance(message.body, bytes) else str(message.body)
    dead_letter_record(
        task_name="",
        task_id=str(headers.get("id", "")),
        kwargs={
            "task": str(headers.get("task", "")),
            "content_type": str(message.content_type),
            "body": body[:100_000],
        },
        error=exc,
    )
