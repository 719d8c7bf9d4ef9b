"""Sign in, sign out, the home redirect and the static assets (SPEC §7, issue 7 §1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.test import Client

pytestmark = pytest.mark.django_db


def test_it_sends_a_signed_out_visitor_to_the_login_page():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


@pytest.mark.parametrize(
    "path", ["/pipeline/", "/opportunities/", "/opportunities/new/", "/dashboard/"]
)
def test_every_rep_page_needs_a_sign_in(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_login_page_has_labelled_username_and_password_fields():
    response = Client().get("/accounts/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_username">' in html and 'name="username"' in html
    assert '<label for="id_password">' in html and 'name="password"' in html


def test_signing_in_lands_on_the_pipeline(rep):
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": rep.username, "password": "pw-for-tests-123"}
    )
    assert response.status_code == 302
    # Sign-in lands by role: a rep's board (RevOps: their approval queue).
    assert client.get(response["Location"])["Location"] == "/pipeline/"
    assert client.get("/")["Location"] == "/pipeline/"


def test_a_wrong_password_is_refused_with_a_message(rep):
    response = Client().post("/accounts/login/", {"username": rep.username, "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_sign_out_is_a_post(rep_client):
    assert rep_client.get("/accounts/logout/").status_code == 405
    response = rep_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert rep_client.get("/pipeline/").status_code == 302  # signed out


def test_the_header_links_admin_only_for_staff(rep_client, revops_client):
    assert 'href="/admin/"' not in rep_client.get("/pipeline/").content.decode()
    assert 'href="/admin/"' in revops_client.get("/pipeline/").content.decode()


def test_pages_load_vendored_htmx_and_pico_from_our_static_files(rep_client):
    html = rep_client.get("/pipeline/").content.decode()
    scripts = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert scripts, "no assets referenced"
    for url in scripts:
        assert url.startswith(settings.STATIC_URL), url  # nothing from a CDN
    assert staticfiles_storage.url("vendor/htmx.org/htmx.min.js") in html
    assert staticfiles_storage.url("vendor/picocss-pico/pico.min.css") in html


def test_the_vendored_htmx_is_a_2_0_release():
    path = finders.find("vendor/htmx.org/htmx.min.js")
    assert path
    text = Path(path).read_text()
    assert re.search(r'version:"2\.0\.\d+"', text)
    readme = Path(finders.find("vendor/README.md")).read_text()
    assert "`htmx.org` | 2.0." in readme and "`@picocss/pico` | 2." in readme


def test_templates_never_load_anything_from_a_cdn():
    root = Path(settings.BASE_DIR) / "templates"
    for template in [*root.glob("base.html"), *root.glob("opportunities/**/*.html")]:
        text = template.read_text()
        assert not re.search(r'(src|href)="(https?:)?//', text), template
