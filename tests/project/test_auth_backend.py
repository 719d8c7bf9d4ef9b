"""The one-query permission backend answers exactly as Django's ModelBackend does."""

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission

from closedwon.auth import OneQueryModelBackend
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["rep", "revops", "admin"])
def test_same_permissions_as_model_backend(role, django_assert_num_queries):
    user = make_user(role, f"perm_{role}")
    user.user_permissions.add(Permission.objects.get(codename="delete_account"))  # a direct one too
    expected = ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))
    fresh = type(user).objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        got = OneQueryModelBackend().get_all_permissions(fresh)
        assert OneQueryModelBackend().has_perm(fresh, "opportunities.view_opportunity")
    assert got == expected
    assert ("opportunities.approve_opportunity" in got) is (role != "rep")


def test_inactive_users_have_no_permissions():
    user = make_user("revops", "perm_inactive")
    user.is_active = False
    assert OneQueryModelBackend().get_all_permissions(user) == set()
