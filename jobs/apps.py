from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Background imports and exports"
    default_auto_field = "django.db.models.BigAutoField"
