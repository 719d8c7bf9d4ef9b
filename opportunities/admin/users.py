"""The user admin gains "Deactivate", which lists the deals RevOps must then reassign."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from core import errors

from ..services.people import user_deactivate

User = get_user_model()


class ClosedwonUserAdmin(UserAdmin):
    actions = ["deactivate_selected"]

    @admin.action(description="Deactivate the selected users (lists their deals to reassign)")
    def deactivate_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset:
            try:
                opportunities = user_deactivate(user=user, actor=request.user)
            except errors.DomainError as exc:
                self.message_user(request, f"{user}: {exc.detail}", messages.ERROR)
                continue
            if opportunities:
                names = "; ".join(f"#{d.pk} {d.name} ({d.stage_label})" for d in opportunities)
                self.message_user(
                    request,
                    f"Deactivated {user}. Reassign their {len(opportunities)} open or pending "
                    f"deal(s), which cannot be won until then: {names}.",
                    messages.WARNING,
                )
            else:
                self.message_user(request, f"Deactivated {user}; they own no open deals.")


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ClosedwonUserAdmin)
