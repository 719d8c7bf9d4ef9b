"""Which URLs RevOps may point a webhook endpoint at (a server-side request forgery guard).

An endpoint entered by a user must be HTTPS and resolve only to public addresses: a
private (RFC 1918, RFC 4193), loopback, link-local (cloud metadata at 169.254.169.254),
shared, reserved or multicast address is refused (OWASP SSRF prevention), unless it lies
in one of ``settings.WEBHOOK_ALLOWED_NETWORKS`` (CIDRs the operator trusts).
``settings.WEBHOOK_ALLOW_PRIVATE`` (default: DEBUG) lifts the address rule and
``settings.WEBHOOK_REQUIRE_HTTPS`` (default: not DEBUG) the scheme rule, for local
development and tests. The check runs at save and again before every send, because DNS
can change after the save. No database access here: senders call it from threads.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def allowed_networks() -> tuple[IPNetwork, ...]:
    return _networks(tuple(settings.WEBHOOK_ALLOWED_NETWORKS))


def _address_allowed(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in network for network in allowed_networks()):
        return True
    return address.is_global and not address.is_multicast


def url_problem(url: str) -> str:
    """Why ``url`` may not receive webhooks, or "" when it may. Resolves the host name
    (blocking DNS lookup); an unresolvable host is refused too."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "The URL is malformed."
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        return "Only https:// URLs can receive webhooks."
    if scheme == "http" and settings.WEBHOOK_REQUIRE_HTTPS:
        return "Only https:// URLs can receive webhooks."
    if parts.username or parts.password:
        return "Put credentials in the signing secret, not in the URL."
    host = parts.hostname
    if not host:
        return "The URL has no host."
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return ""
    try:
        infos = socket.getaddrinfo(host, port or (443 if scheme == "https" else 80))
    except (OSError, UnicodeError):
        return f"The host {host} does not resolve."
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not _address_allowed(address):
            return (
                f"The host {host} resolves to {address}, a private or reserved address "
                "(allowed only inside WEBHOOK_ALLOWED_NETWORKS)."
            )
    return ""
