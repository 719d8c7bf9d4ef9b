"""Shared fixtures. Tests talk to the real database of DATABASE_URL (PostgreSQL in CI)."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from tests.factories import make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _newest_static_source() -> float:
    from django.contrib.staticfiles.finders import get_finders

    newest = 0.0
    for finder in get_finders():
        for path, storage in finder.list([]):
            newest = max(newest, os.path.getmtime(storage.path(path)))
    return newest


@pytest.fixture(scope="session", autouse=True)
def _collected_static():
    """Production-mode static storage (manifest) needs collectstatic, as in deployment.
    It is skipped while the manifest is newer than every source file: hashing and
    compressing the vendored files costs tens of seconds on 2 cores."""
    if settings.DEBUG:
        return
    manifest = os.path.join(settings.STATIC_ROOT, "staticfiles.json")
    if os.path.exists(manifest) and os.path.getmtime(manifest) >= _newest_static_source():
        return
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 at production strength costs ~0.3 s per user; tests do not test hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def rep(db):
    return make_user("rep", "rep_alice")


@pytest.fixture
def rep2(db):
    return make_user("rep", "rep_bob")


@pytest.fixture
def revops(db):
    return make_user("revops", "revops_rita")


@pytest.fixture
def revops2(db):
    return make_user("revops", "revops_ron")


@pytest.fixture
def admin_user(db):
    return make_user("admin", "admin_ada")


@pytest.fixture
def is_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
