"""/demo/receiver/<kind>/ — filled in by the handoffs issue (on only with DEMO_RECEIVER=1)."""

urlpatterns: list = []
