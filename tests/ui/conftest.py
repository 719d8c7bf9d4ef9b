"""Fixtures for the rep UI tests: signed-in clients and a catalog."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import ProductFactory


@pytest.fixture
def rep_client(rep) -> Client:
    client = Client()
    client.force_login(rep)
    return client


@pytest.fixture
def rep2_client(rep2) -> Client:
    client = Client()
    client.force_login(rep2)
    return client


@pytest.fixture
def revops_client(revops) -> Client:
    client = Client()
    client.force_login(revops)
    return client


@pytest.fixture
def product(db):
    return ProductFactory(sku="CW-CORE", name="Core seat")
