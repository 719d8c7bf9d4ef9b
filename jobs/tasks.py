"""Celery task: a job id in, :func:`jobs.services.job_run` called."""

from __future__ import annotations

from celery import shared_task

# A job is as long as its file: an hour at most (the broker's visibility timeout),
# instead of the one-minute limit of the delivery tasks. (jobs.services reads it too.)
JOB_TIME_LIMIT = 3000


@shared_task(
    name="jobs.run",
    ignore_result=True,
    soft_time_limit=JOB_TIME_LIMIT,
    time_limit=JOB_TIME_LIMIT + 60,
)
def run(job_id: int) -> None:
    # The service imports this module at its top; the task imports the service here.
    from . import services

    services.job_run(job_id=job_id)
