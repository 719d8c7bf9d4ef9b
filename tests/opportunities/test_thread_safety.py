"""django-fsm-2's refresh_from_db flips a flag on the shared field; ours must not."""

import threading
import time

import pytest

from opportunities.models import Opportunity
from opportunities.stages import Stage
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db(transaction=True)


def test_refreshing_deals_in_many_threads_never_unprotects_or_breaks_the_stage(rep):
    pk = ready_opportunity(rep).pk
    errors: list[BaseException] = []
    stop = threading.Event()

    def refresher():
        from django.db import connection

        try:
            opportunity = Opportunity.objects.get(pk=pk)
            while not stop.is_set():
                opportunity.refresh_from_db()
                assert opportunity.stage == Stage.NEGOTIATION
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresher) for _ in range(4)]
    for t in threads:
        t.start()
    # Meanwhile, a loaded deal must stay protected: assigning the stage always raises.
    opportunity = Opportunity.objects.get(pk=pk)
    attempts = refused = 0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        attempts += 1
        try:
            opportunity.stage = Stage.CLOSED_WON
        except AttributeError:
            refused += 1
        time.sleep(0)  # let the refreshers run between attempts
    stop.set()
    for t in threads:
        t.join(30)
    assert errors == []
    assert refused == attempts
