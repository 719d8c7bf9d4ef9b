"""Handoff models — the outbox — come with the handoffs issue."""
