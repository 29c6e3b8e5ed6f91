"""The background worker: scheduled jobs, each under a lease so any number of workers may run."""

from sessionhub.worker.runner import Worker

__all__ = ["Worker"]
