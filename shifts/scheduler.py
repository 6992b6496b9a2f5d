"""ShiftScheduler: fires at every instant where the set of routable agents changes.

Those instants are shift starts, ends minus the end-of-shift ``grace``, and the edges of breaks and
absences (:meth:`shifts.rota.Rota.next_boundaries`); at each it delivers :class:`BecameRoutable` /
:class:`StoppedRoutable` events, and the service re-applies the routable set to routing.

The APScheduler adapter (the only module that imports apscheduler). A ``BackgroundScheduler`` keeps one
date job per boundary of the next ``horizon`` (48 h) in an ``SQLAlchemyJobStore`` table of the hotline
database, so a restart loses nothing: a boundary that passed while the service was down is still
applied at start if it is no older than ``misfire_grace_time``. A refresh job half-way through the
horizon reschedules the next window, so boundaries keep coming without edits.

The job store pickles jobs, so a job is a module-level function with plain arguments
(:func:`fire_boundary`, :func:`refresh`); it reaches the live scheduler, and so ``rota_provider`` and
``on_event``, through a registry keyed by the scheduler's ``name``. At fire time the boundary is
recomputed from the current rota, so an edit that removed it since is honoured.

Run one ShiftScheduler per job-store table: APScheduler 3 does not share a table between schedulers.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers import SchedulerAlreadyRunningError, SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from shifts.rota import Rota, RotaEvent

log = logging.getLogger(__name__)

RotaProvider = Callable[[datetime, datetime], Rota]
EventHandler = Callable[[RotaEvent], None]
MARGIN = timedelta(days=1)  # rota read around a window, so a chain of touching shifts is seen whole

_JOBSTORE = "shifts"
_registry: dict[str, ShiftScheduler] = {}
_registry_lock = threading.Lock()


class SchedulerError(RuntimeError):
    """The shift scheduler could not do what was asked (APScheduler's errors, translated)."""


def _lookup(name: str) -> ShiftScheduler | None:
    with _registry_lock:
        scheduler = _registry.get(name)
    if scheduler is None:
        log.warning("No running shift scheduler is called %r; job skipped.", name)
    return scheduler


def fire_boundary(scheduler_name: str, at: str) -> None:
    """Job: emit the events of the boundary at ``at`` (ISO 8601) through the scheduler ``scheduler_name``."""
    scheduler = _lookup(scheduler_name)
    if scheduler is not None:
        scheduler.fire(datetime.fromisoformat(at))


def refresh(scheduler_name: str) -> None:
    """Job: schedule the boundaries of the next horizon."""
    scheduler = _lookup(scheduler_name)
    if scheduler is not None:
        scheduler.reschedule()


def utc_now() -> datetime:
    return datetime.now(UTC)


class ShiftScheduler:
    """Calls ``on_event`` with each :class:`BecameRoutable` / :class:`StoppedRoutable` when it happens.

    ``rota_provider(start, end)`` returns the rota for a window (e.g. ``RotaStore.rota``); ``clock``
    gives "now" for the window to schedule. Events are delivered one at a time, in order, on the
    scheduler's worker thread; ``on_event`` must be thread-safe towards the rest of the service.
    """

    def __init__(self, database_url: str, rota_provider: RotaProvider, on_event: EventHandler,
                 clock: Callable[[], datetime] = utc_now, *, name: str = "shifts",
                 horizon: timedelta = timedelta(hours=48),
                 misfire_grace_time: timedelta = timedelta(hours=48),
                 table_name: str = "apscheduler_jobs", grace: timedelta = timedelta(0)) -> None:
        self.name = name
        self.grace = grace
        self.horizon = horizon
        self.misfire_grace_time = misfire_grace_time
        self._database_url = database_url
        self._table_name = table_name
        self._rota_provider = rota_provider
        self._on_event = on_event
        self._clock = clock
        self._lock = threading.RLock()
        self._scheduler: BackgroundScheduler | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        """Start the scheduler thread: apply boundaries missed while down, then schedule the horizon."""
        with self._lock:
            if self._scheduler is not None:
                raise SchedulerError(f"The shift scheduler {self.name!r} is already running.")
            with _registry_lock:
                if self.name in _registry:
                    raise SchedulerError(f"Another shift scheduler called {self.name!r} "
                                         "runs in this process.")
                _registry[self.name] = self
            engine_options: dict[str, Any] = {}
            if self._database_url.startswith("sqlite"):
                engine_options["connect_args"] = {"timeout": 30}
            else:
                engine_options["pool_pre_ping"] = True
            scheduler = BackgroundScheduler(
                jobstores={_JOBSTORE: SQLAlchemyJobStore(url=self._database_url, tablename=self._table_name,
                                                         engine_options=engine_options)},
                executors={"default": ThreadPoolExecutor(max_workers=1)},  # one at a time, in order
                job_defaults={"coalesce": False, "max_instances": 1,
                              "misfire_grace_time": int(self.misfire_grace_time.total_seconds())},
                timezone=UTC,
            )
            try:
                scheduler.start(paused=True)  # jobs missed while down stay put until reschedule is done
                self._scheduler = scheduler
                self.reschedule()
                scheduler.resume()
            except BaseException:
                self._scheduler = None
                if scheduler.running:
                    scheduler.shutdown(wait=True)
                with _registry_lock:
                    _registry.pop(self.name, None)
                raise

    def stop(self) -> None:
        """Stop the scheduler and wait for its threads; jobs stay in the job store for the next start."""
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            with contextlib.suppress(SchedulerNotRunningError):
                scheduler.shutdown(wait=True)
        with _registry_lock:
            if _registry.get(self.name) is self:
                del _registry[self.name]

    # --- scheduling --------------------------------------------------------------------------------

    def _job_id(self, at: datetime) -> str:
        return f"{self.name}:boundary:{at.astimezone(UTC).isoformat()}"

    def reschedule(self) -> None:
        """Replace the boundary jobs of the next ``horizon`` by those of the current rota.

        Call it after every rota edit. Jobs already due (missed while down) are left to run.
        """
        with self._lock:
            scheduler = self._scheduler
            if scheduler is None:
                return
            now = self._clock()
            until = now + self.horizon
            rota = self._rota_provider(now - MARGIN, until + MARGIN)
            wanted = {self._job_id(b.at): b.at for b in rota.next_boundaries(now, until, self.grace)}
            prefix = f"{self.name}:boundary:"
            try:
                for job in scheduler.get_jobs(jobstore=_JOBSTORE):
                    is_future = job.next_run_time is not None and job.next_run_time > now
                    if job.id.startswith(prefix) and job.id not in wanted and is_future:
                        job.remove()
                existing = {job.id for job in scheduler.get_jobs(jobstore=_JOBSTORE)}
                for job_id, at in wanted.items():
                    if job_id not in existing:
                        scheduler.add_job(fire_boundary, DateTrigger(run_date=at),
                                          args=[self.name, at.isoformat()], id=job_id, jobstore=_JOBSTORE,
                                          replace_existing=True)
                scheduler.add_job(refresh, DateTrigger(run_date=now + self.horizon / 2), args=[self.name],
                                  id=f"{self.name}:refresh", jobstore=_JOBSTORE, replace_existing=True)
            except (ConflictingIdError, JobLookupError, SchedulerNotRunningError,
                    SchedulerAlreadyRunningError) as error:
                raise SchedulerError(f"Could not schedule the shift boundaries: {error}") from error
            log.info("Scheduled %d shift boundaries until %s.", len(wanted), until.isoformat())

    def fire(self, at: datetime) -> None:
        """Emit the events of the boundary at ``at`` according to the current rota."""
        rota = self._rota_provider(at - MARGIN, at + MARGIN)
        boundary = rota.boundary_at(at, self.grace)
        if boundary is None:
            log.info("No shift boundary at %s any more; nothing to do.", at.isoformat())
            return
        for event in boundary.events():
            try:
                self._on_event(event)
            except Exception:
                log.exception("The handler of %r failed.", event)

    # --- introspection -----------------------------------------------------------------------------

    def scheduled(self) -> list[datetime]:
        """The instants of the boundary jobs in the job store, sorted."""
        with self._lock:
            scheduler = self._scheduler
            if scheduler is None:
                return []
            jobs = scheduler.get_jobs(jobstore=_JOBSTORE)
        prefix = f"{self.name}:boundary:"
        return sorted(job.next_run_time for job in jobs
                      if job.id.startswith(prefix) and job.next_run_time is not None)

    def status(self) -> dict[str, Any]:
        """For the health endpoint: whether it runs, the next boundary and how many are scheduled."""
        boundaries = self.scheduled()
        return {"running": self.running,
                "next_boundary": boundaries[0].astimezone(UTC).isoformat() if boundaries else None,
                "scheduled": len(boundaries)}
