"""Background imports and exports: a file too large for a request runs on the Celery
worker, with progress and a download in the admin (see :mod:`jobs.services`)."""
