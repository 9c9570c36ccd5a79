"""Sending one message through one channel: e-mail, a signed webhook, or apprise (Slack, Teams, ...).

Each kind answers a short text (what the receiver said) or raises :class:`DeliveryError` with it;
every answer passes through :func:`mask` so no URL token or signing secret reaches the delivery log.

Webhook signature: ``X-Ctportal-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` under the
channel's signing secret, with ``X-Ctportal-Timestamp`` (Unix seconds), so a receiver can check both
who sent it and that it is fresh.

Server-side request forgery: an Admin sets the URLs, but the portal makes the requests, from inside
the network. Webhooks and apprise's generic ``json://``, ``form://`` and ``xml://`` URLs are refused
towards loopback, private, link-local (cloud metadata), multicast and reserved addresses, checked on
every send after DNS resolution and again on the address connected to (DNS rebinding), unless
``CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS`` (link-local and metadata addresses never);
redirects are not followed. Chat services' own URL schemes (``slack://``...) go to their vendors.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail

from syncjobs.models import AlertChannel
from syncjobs.secrets import MASK

ANSWER_LIMIT = 500
GENERIC_APPRISE = ("json", "jsons", "form", "forms", "xml", "xmls")


class DeliveryError(Exception):
    """The channel refused or could not be reached; ``answer`` says what happened (masked)."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


def send(channel: AlertChannel, title: str, text: str, payload: dict[str, Any]) -> str:
    """Send one message; the receiver's answer, or :class:`DeliveryError`."""
    secrets = channel.secrets()
    try:
        if channel.kind == AlertChannel.Kind.EMAIL:
            answer = _email(channel, title, text)
        elif channel.kind == AlertChannel.Kind.WEBHOOK:
            answer = _webhook(secrets, payload)
        else:
            answer = _apprise(secrets, title, text)
    except DeliveryError as exc:
        raise DeliveryError(mask(exc.answer, secrets)) from None
    except Exception as exc:  # noqa: BLE001 - any failure of a channel is a failed delivery, logged, not a crash
        raise DeliveryError(mask(f"{type(exc).__name__}: {exc}", secrets)[:ANSWER_LIMIT]) from None
    return mask(answer, secrets)


def mask(text: str, secrets: dict[str, str]) -> str:
    """``text`` with every secret value, and every part of a secret URL past its host, replaced by the mask."""
    pieces = [piece for value in secrets.values() for piece in _pieces(value)]
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, MASK)
    return _mask_cut_end(text, pieces)


def _mask_cut_end(text: str, pieces: list[str]) -> str:
    """An answer cut at its limit may end with the start of a secret (or, kept from its end, begin with a
    secret's end): that piece is masked too."""
    for piece in pieces:
        for size in range(len(piece) - 1, 2, -1):
            if text.endswith(piece[:size]):
                text = text[:-size] + MASK
            if text.startswith(piece[-size:]):
                text = MASK + text[size:]
    return text


def _pieces(value: str) -> list[str]:
    pieces = [line.strip() for line in value.splitlines() if line.strip()]
    for line in list(pieces):
        parts = urlsplit(line)
        pieces += [p for p in parts.path.split("/") if len(p) >= 4]
        pieces += [p for p in (parts.query, parts.password or "", parts.username or "") if len(p) >= 4]
    return sorted(set(pieces), key=len, reverse=True)


def shown_target(channel: AlertChannel) -> str:
    """Where the channel sends, as pages show it: recipients, or a URL's scheme and host only."""
    if channel.kind == AlertChannel.Kind.EMAIL:
        return ", ".join(channel.config.get("recipients") or [])
    secrets = channel.secrets()
    if channel.kind == AlertChannel.Kind.WEBHOOK:
        parts = urlsplit(secrets.get("url", ""))
        return f"{parts.scheme}://{parts.hostname}/{MASK}" if parts.hostname else "(no URL)"
    urls = apprise_urls(secrets)
    schemes = [f"{urlsplit(u).scheme}://{MASK}" for u in urls]
    return ", ".join(schemes) or "(no URL)"


def apprise_urls(secrets: dict[str, str]) -> list[str]:
    """The channel's apprise URLs, one a line."""
    return [u.strip() for u in secrets.get("urls", "").splitlines() if u.strip()]


# --- e-mail ----------------------------------------------------------------------------------------------


def _email(channel: AlertChannel, title: str, text: str) -> str:
    recipients = list(channel.config.get("recipients") or [])
    if not settings.EMAIL_HOST:
        raise DeliveryError("mail is not set up: set CTPORTAL_EMAIL_HOST (and the other CTPORTAL_EMAIL_* settings)")
    if not recipients:
        raise DeliveryError("the channel has no recipients")
    sent = send_mail(title, text, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    return f"accepted by {settings.EMAIL_HOST}:{settings.EMAIL_PORT} for {len(recipients)} recipient(s)" if sent else ""


# --- webhook ---------------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer to log, never a second request somewhere else


def _check_peer(connection: http.client.HTTPConnection) -> None:
    """The address actually connected to is checked again (a name may resolve elsewhere the second time)."""
    peer = str(connection.sock.getpeername()[0]) if connection.sock else ""
    refused = refused_address(peer) if peer else "not connected"
    if refused:
        connection.close()
        raise DeliveryError(f"the host {connection.host} connected to {peer}, {refused}: refused ({_WHY})")


class _CheckedHTTP(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _check_peer(self)


class _CheckedHTTPS(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _check_peer(self)


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_CheckedHTTP, req)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_CheckedHTTPS, req, context=getattr(self, "_context", None))


def _webhook(secrets: dict[str, str], payload: dict[str, Any]) -> str:
    url = secrets.get("url", "")
    check_target(url, ("http", "https"))
    body = json.dumps(payload, sort_keys=True).encode()
    stamp = str(int(time.time()))
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - scheme checked above
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", "ctportal-alerts")
    request.add_header("X-Ctportal-Event", str(payload.get("event", "")))
    request.add_header("X-Ctportal-Timestamp", stamp)
    request.add_header("X-Ctportal-Signature", "sha256=" + sign(secrets.get("signing_secret", ""), stamp, body))
    opener = urllib.request.build_opener(_NoRedirects, _CheckedHTTPHandler, _CheckedHTTPSHandler)
    try:
        with opener.open(request, timeout=settings.CTPORTAL_ALERT_TIMEOUT_SECONDS) as answer:
            return f"HTTP {answer.status}: {_start(answer.read())}"
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}: {_start(exc.read())}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"not reached: {getattr(exc, 'reason', exc)}") from None


def sign(secret: str, stamp: str, body: bytes) -> str:
    """The webhook signature: hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    return hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _start(data: bytes) -> str:
    return data[:ANSWER_LIMIT].decode("utf-8", "replace").strip()


def check_target(url: str, schemes: tuple[str, ...]) -> None:
    """Refuse a URL whose scheme is not allowed or whose host resolves to an address the portal must not reach."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise DeliveryError(f"the URL must be {' or '.join(schemes)}://host/...")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryError(f"the host {parts.hostname} does not resolve: {exc}") from None
    for info in infos:
        refused = refused_address(str(info[4][0]))
        if refused:
            raise DeliveryError(f"the host {parts.hostname} is {refused}: refused ({_WHY})")


_WHY = "set CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS=true to allow private and loopback addresses"


def refused_address(address: str) -> str:
    """Why the portal may not send to ``address`` ("" when it may).

    An IPv6 address wrapping an IPv4 one (mapped, NAT64, 6to4) is judged by the IPv4 one; by default only
    global addresses are reached (shared address space such as 100.100.100.200 is a cloud metadata service).
    """
    ip = _unwrapped(ipaddress.ip_address(address.split("%", 1)[0]))
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip in _METADATA:
        return "a link-local, multicast, unspecified or metadata address"
    if not ip.is_global and not settings.CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS:
        return "a loopback, private or reserved address"
    return ""


_METADATA = {ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "169.254.169.254")}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _unwrapped(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4), else ``ip``."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour or ip


# --- apprise ---------------------------------------------------------------------------------------------


def _apprise(secrets: dict[str, str], title: str, text: str) -> str:
    import apprise  # heavy and used only here

    urls = apprise_urls(secrets)
    if not urls:
        raise DeliveryError("the channel has no apprise URL")
    # Its log lines may carry a URL's token: captured below, masked into the answer, not sent to the portal's log.
    logging.getLogger("apprise").propagate = False
    notifier = apprise.Apprise()
    for url in urls:
        if urlsplit(url).scheme.lower() in GENERIC_APPRISE:
            check_target(url, GENERIC_APPRISE)
        if not notifier.add(url):
            raise DeliveryError("apprise does not understand one of the URLs (check its scheme)")
    with apprise.LogCapture(level=logging.INFO) as captured:
        ok = notifier.notify(body=text, title=title)
        log = captured.getvalue()
    if not ok:
        raise DeliveryError(f"apprise could not send: {log[-ANSWER_LIMIT:]}")
    return f"sent to {len(urls)} service(s)"
