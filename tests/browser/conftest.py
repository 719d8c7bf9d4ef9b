"""Browser tests: real headless Chromium (Debian's, see the root conftest) against
pytest-django's live server."""

import pytest


@pytest.fixture(autouse=True)
def _static_files_the_live_server_can_serve(settings):
    """pytest-django's live server answers /static/ itself, from the staticfiles finders,
    which know no hashed (manifest) names: with the production storage htmx, Pico, the
    admin CSS and our JS would 404 (no drag and drop, no live checklist, unstyled
    screenshots). Plain names are served here; the manifest path is covered by tests/ui
    and tests/admin, which render with the production storage."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
