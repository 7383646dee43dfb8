"""Projection workers: projections kept in Postgres tables next to a Postgres journal (``engine project``)."""

from engine.workers.worker import DEFAULT_BATCH, DEFAULT_POLL_SECONDS, ProjectionWorker, WorkerError, WorkerStopped

__all__ = ["DEFAULT_BATCH", "DEFAULT_POLL_SECONDS", "ProjectionWorker", "WorkerError", "WorkerStopped"]
