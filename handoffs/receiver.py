"""The built-in demo receiver: ``POST /demo/receiver/<kind>/``.

On only with ``DEMO_RECEIVER=1`` (``make run``), so the embedded default shows the whole
flow end to end: it verifies the Standard Webhooks signature with the same library a
real downstream would use, de-duplicates on ``webhook-id`` the way a real downstream
must, and records every receipt (visible in the admin).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from .models import DemoReceipt, HandoffKind

MAX_BODY = 256 * 1024


@csrf_exempt  # a machine-to-machine endpoint: the signature is the authentication
@require_POST
def demo_receiver(request: HttpRequest, kind: str) -> JsonResponse:
    if not settings.DEMO_RECEIVER or kind not in HandoffKind.values:
        raise Http404("No demo receiver here.")
    webhook_id = request.headers.get("webhook-id", "")[:100]
    body = request.body[:MAX_BODY]
    headers = {
        name: request.headers.get(name, "")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    try:
        payload = Webhook(settings.DEMO_RECEIVER_SECRET).verify(body, headers)
    except (WebhookVerificationError, ValueError, json.JSONDecodeError) as exc:
        # ValueError: a malformed signature header or body; still "not verified".
        DemoReceipt.objects.create(
            kind=kind, webhook_id=webhook_id, verified=False, error=str(exc)[:200] or "invalid"
        )
        return JsonResponse({"verified": False, "error": "invalid signature"}, status=401)
    duplicate = DemoReceipt.objects.filter(kind=kind, webhook_id=webhook_id, verified=True).exists()
    receipt = DemoReceipt.objects.create(
        kind=kind, webhook_id=webhook_id, verified=True, duplicate=duplicate, payload=payload
    )
    return JsonResponse(
        {"verified": True, "receipt": receipt.pk, "duplicate": duplicate}, status=200
    )
