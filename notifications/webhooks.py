"""Webhook transport: the signature scheme, the SSRF guard and one POST.

Signature (documented for receivers in the README): the header
`Adplatform-Signature: t=<unix seconds>,v1=<hex>` where hex is
HMAC-SHA256(endpoint secret, f"{t}.{body}"), the body being the exact bytes sent.

SSRF guard: a target must be https (unless WEBHOOK_ALLOW_HTTP) and every address its host
resolves to must be a public unicast address (unless WEBHOOK_ALLOW_PRIVATE_NETWORKS). The
connection then goes to an address that was checked — never to a second resolution that
could answer differently (DNS rebinding) — while TLS still verifies the certificate for the
host name (SNI and hostname check against the name, not the address).
"""

import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

SIGNATURE_HEADER = "Adplatform-Signature"
EVENT_ID_HEADER = "Adplatform-Event-Id"
EVENT_TYPE_HEADER = "Adplatform-Event-Type"
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
# What we keep of a receiver's answer (for the delivery record); the rest is never read.
RESPONSE_LIMIT = 1024


class UnsafeTarget(ValueError):
    """A URL the platform will not send to (scheme, address range, unresolvable host)."""


class DeliveryFailed(Exception):
    """The POST did not get an answer (refused target, connection error, timeout)."""


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret=secret, timestamp=timestamp, body=body)}"


def url_check(url: str):
    """Check a webhook URL's form; returns its urlsplit parts. Raises UnsafeTarget."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}") from exc
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeTarget(f"the URL must use {' or '.join(allowed)}")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("the URL must not carry credentials")
    if port == 0:
        raise UnsafeTarget("the URL's port must not be 0")
    # A port of the retailer's choosing turns deliveries into a port scanner of whatever the
    # host reaches; receivers listen on the usual ports. The development switch that allows
    # private networks allows any port too.
    if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS and _default_port(parts) not in allowed_ports():
        raise UnsafeTarget(f"the URL's port must be one of {', '.join(map(str, sorted(allowed_ports())))}")
    return parts


def allowed_ports() -> set[int]:
    return set(settings.WEBHOOK_ALLOWED_PORTS) | ({80} if settings.WEBHOOK_ALLOW_HTTP else set())


def public_error(error: str) -> str:
    """What the retailer is told of a failed delivery: the receiver's HTTP status as it was,
    but of a failure to connect only that it failed. Refused, reset and timed out connections
    tell apart open, closed and filtered ports: an oracle for scanning a network. The full
    error stays on the delivery row for staff."""
    if not error or error.startswith("HTTP "):
        return error
    if error.startswith("refused:"):
        return "refused: the endpoint's address or port is not allowed"
    return "no answer from the endpoint"


def _default_port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


# IETF protocol assignments: is_global calls two of them global (192.0.0.9, .10), but none is a
# place a webhook lives, and NAT gateways answer on some.
_PROTOCOL_ASSIGNMENTS = ipaddress.ip_network("192.0.0.0/24")
# NAT64's well-known prefix: the last 32 bits are the IPv4 address the gateway connects to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: mapped (::ffff:a.b.c.d), 6to4 (2002::/16),
    Teredo (2001::/32: its server and its client) and NAT64 (64:ff9b::/96)."""
    embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [address for address in embedded if address is not None]


def _public(ip) -> bool:
    return (
        ip.is_global
        and not (
            ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
        )
        and ip not in _PROTOCOL_ASSIGNMENTS
    )


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return True
    if ip.version == 6 and (embedded := _embedded_ipv4(ip)):
        # The packets end at the IPv4 address inside (169.254.169.254 in 6to4 is the cloud's
        # metadata service all the same), so that is the one to judge.
        return all(_public(inner) for inner in embedded)
    return _public(ip)


def resolve_checked(parts) -> list[str]:
    """Every address the URL's host resolves to, each checked; raises UnsafeTarget if any is
    refused (a name with one private address among public ones is refused: which one a
    client would use is not ours to guess)."""
    try:
        infos = socket.getaddrinfo(parts.hostname, _default_port(parts), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"cannot resolve {parts.hostname}: {exc}") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    refused = [a for a in addresses if not address_allowed(a)]
    if refused or not addresses:
        raise UnsafeTarget(f"{parts.hostname} resolves to an address that is not public ({', '.join(refused)})")
    return addresses


def post(*, url: str, body: bytes, headers: dict) -> tuple[int, str]:
    """POST body to url through the SSRF guard: no redirects followed, short timeouts, at most
    RESPONSE_LIMIT bytes of the answer read. Returns (status, start of the answer); raises
    DeliveryFailed when no answer came."""
    try:
        parts = url_check(url)
        addresses = resolve_checked(parts)
    except UnsafeTarget as exc:
        raise DeliveryFailed(f"refused: {exc}") from exc
    port = _default_port(parts)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # an IPv6 literal
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    errors = []
    for address in addresses:  # the checked ones, in resolver order; next on connect failure
        pool = _pool(parts, address, port)
        try:
            response = pool.urlopen(
                "POST",
                path,
                body=body,
                headers={**headers, "Host": host_header},
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except urllib3.exceptions.NewConnectionError as exc:
            errors.append(f"{address}: {exc}")
            pool.close()
            continue
        except urllib3.exceptions.HTTPError as exc:
            pool.close()
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        try:
            snippet = response.read(RESPONSE_LIMIT).decode("utf-8", "replace")
        except urllib3.exceptions.HTTPError:
            snippet = ""
        finally:
            response.close()
            pool.close()
        return response.status, snippet
    raise DeliveryFailed("could not connect: " + "; ".join(errors))


def _pool(parts, address: str, port: int):
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    if parts.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            host=address,
            port=port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.WEBHOOK_CA_BUNDLE or None,
        )
    return urllib3.HTTPConnectionPool(host=address, port=port, timeout=timeout, maxsize=1, retries=False)
