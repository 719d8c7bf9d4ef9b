from django.apps import AppConfig


class OpportunitiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "opportunities"
    verbose_name = "Opportunities"

    def ready(self) -> None:
        from . import notifications
        from .api import feed

        feed.register_all()
        from .signals import opportunity_transitioned

        opportunity_transitioned.connect(
            notifications.on_opportunity_transitioned,
            dispatch_uid="opportunities.decision_email",
        )
