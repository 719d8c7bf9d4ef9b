"""/api/v1/ — filled in by the REST API issue."""

urlpatterns: list = []
