from django.apps import AppConfig


class OpportunitiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "opportunities"
    verbose_name = "Opportunities"

    def ready(self) -> None:
        # The change feed serialises each object as the API does; the API registers its
        # serialisers here so the domain never imports the API.
        from .api import feed

        feed.register_all()
