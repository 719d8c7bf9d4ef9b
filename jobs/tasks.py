"""Celery task: a job id in, :func:`jobs.services.job_run` called."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(
    name="jobs.run",
    ignore_result=True,
    # A job is as long as its file: an hour at most (the broker's visibility timeout),
    # instead of the one-minute limit of the delivery tasks.
    soft_time_limit=services.JOB_TIME_LIMIT,
    time_limit=services.JOB_TIME_LIMIT + 60,
)
def run(job_id: int) -> None:
    services.job_run(job_id=job_id)
