"""Fault injection reuses the handoff fixtures: a real receiver and real worker processes."""

from tests.handoffs.conftest import (  # noqa: F401 - pytest fixtures
    endpoints,
    handoff_receiver,
    make_worker,
    receiver,
    shared_worker,
)
