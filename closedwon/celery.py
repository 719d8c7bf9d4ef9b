"""The Celery app ``closedwon``: ``celery -A closedwon worker`` / ``celery -A closedwon beat``.

Settings come from Django settings with the ``CELERY_`` prefix (cookiecutter-django).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closedwon.settings")

app = Celery("closedwon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
