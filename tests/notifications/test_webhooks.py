"""The webhook transport: signing, the SSRF guard, and one POST to a real local receiver."""

import socket

import pytest

from notifications import webhooks
from tests.notifications.conftest import verify_signature

REFUSED = [
    "https://127.0.0.1/hooks",
    "https://10.0.0.1/hooks",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hooks",
    "https://localhost/hooks",
    "https://[::ffff:127.0.0.1]/hooks",
    "https://192.168.1.10/hooks",
    "https://100.64.0.1/hooks",
    "https://224.0.0.1/hooks",
    "https://0.0.0.0/hooks",
    # IETF protocol assignments, which is_global partly calls global.
    "https://192.0.0.192/hooks",
    "https://192.0.0.9/hooks",
    # The cloud's metadata service and loopback, inside IPv6 forms that lead to them:
    "https://[2002:a9fe:a9fe::]/latest/meta-data/",  # 6to4
    "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64
    "https://[2001:0:4136:e378:8000:63bf:5601:5601]/hooks",  # Teredo, its client 169.254.169.254
    "https://[2002:7f00:1::]/hooks",  # 6to4 of 127.0.0.1
]


def test_the_signature_verifies_with_the_documented_recipe():
    body = b'{"type":"ad.rejected"}'
    header = webhooks.signature_header(secret="whsec_test", timestamp=1_780_000_000, body=body)
    assert header.startswith("t=1780000000,v1=")
    assert verify_signature(secret="whsec_test", header=header, body=body, now=1_780_000_000)
    assert not verify_signature(secret="whsec_other", header=header, body=body, now=1_780_000_000)
    assert not verify_signature(secret="whsec_test", header=header, body=body + b" ", now=1_780_000_000)
    assert not verify_signature(
        secret="whsec_test", header=header, body=body, now=1_780_000_000 + 3600
    )  # replayed late


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_link_local_and_reserved_targets_are_refused(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(webhooks.UnsafeTarget, match="not public"):
        webhooks.resolve_checked(webhooks.url_check(url))
    with pytest.raises(webhooks.DeliveryFailed, match="refused"):
        webhooks.post(url=url, body=b"{}", headers={})


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://hooks.example.com/x", "must use https"),
        ("ftp://hooks.example.com/x", "must use https"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https:///x", "no host"),
        ("https://hooks.example.com:99999/x", "not a valid URL"),
        # A port of the retailer's choosing would make deliveries a port scanner.
        ("https://hooks.example.com:22/x", "port must be one of 443"),
        ("https://hooks.example.com:8443/x", "port must be one of 443"),
    ],
)
def test_urls_of_the_wrong_form_are_refused(settings, url, reason):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    settings.WEBHOOK_ALLOW_HTTP = False
    with pytest.raises(webhooks.UnsafeTarget, match=reason):
        webhooks.url_check(url)


def test_a_name_with_one_private_address_among_public_ones_is_refused(settings, monkeypatch):
    """Every address is checked, not just the first (the resolver is the OS's; here it is
    told what to answer, and nothing is sent anywhere)."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    answers = {"hooks.test": ["93.184.215.14", "127.0.0.1"]}
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, **kw: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in answers[host]
        ],
    )
    with pytest.raises(webhooks.DeliveryFailed, match="refused: hooks.test resolves to an address that is not public"):
        webhooks.post(url="https://hooks.test/x", body=b"{}", headers={})


def test_the_post_goes_to_the_checked_address_with_the_original_host(local_webhooks, receiver, monkeypatch):
    """The name is resolved once, the address checked, and the connection made to that very
    address (no second lookup that DNS rebinding could answer differently)."""
    real_getaddrinfo = socket.getaddrinfo
    lookups = []

    def resolver(host, port, *args, **kwargs):
        lookups.append(host)
        return real_getaddrinfo("127.0.0.1" if host == "hooks.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    status, answer = webhooks.post(
        url=f"http://hooks.test:{receiver.port}/in?x=1", body=b'{"a":1}', headers={"X-Test": "1"}
    )
    assert (status, answer) == (200, "ok")
    [request] = receiver.requests
    assert request.path == "/in?x=1" and request.body == b'{"a":1}'
    assert request.headers["Host"] == f"hooks.test:{receiver.port}" and request.headers["X-Test"] == "1"
    assert lookups.count("hooks.test") == 1


def test_redirects_are_not_followed(local_webhooks, receiver):
    receiver.answers.append((302, {"Location": receiver.url("/elsewhere")}, b""))
    status, _ = webhooks.post(url=receiver.url(), body=b"{}", headers={})
    assert status == 302
    assert [r.path for r in receiver.requests] == ["/hooks"]


def test_only_the_start_of_a_large_answer_is_read(local_webhooks, receiver):
    receiver.answers.append((500, {}, b"x" * 1_000_000))
    status, answer = webhooks.post(url=receiver.url(), body=b"{}", headers={})
    assert status == 500 and len(answer) == webhooks.RESPONSE_LIMIT


def test_a_slow_receiver_times_out(local_webhooks, receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "READ_TIMEOUT", 0.2)
    receiver.delay = 1.0
    with pytest.raises(webhooks.DeliveryFailed, match="(?i)timed? ?out"):
        webhooks.post(url=receiver.url(), body=b"{}", headers={})


def test_nothing_listening_is_a_failed_delivery(local_webhooks):
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(webhooks.DeliveryFailed, match="could not connect"):
        webhooks.post(url=f"http://127.0.0.1:{port}/x", body=b"{}", headers={})


# --- https: connect to the checked address, verify the certificate for the name ----------------
@pytest.fixture
def tls_receiver(tmp_path, settings, receiver):
    """The local receiver behind TLS with a certificate for `localhost` from a test CA,
    listening on 127.0.0.1 only; records the SNI name each client sent."""
    import ssl
    import threading
    from http.server import ThreadingHTTPServer

    import trustme

    from tests.notifications.conftest import ReceiverHandler

    ca = trustme.CA()
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    settings.WEBHOOK_CA_BUNDLE = str(ca_path)
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True

    def serve(hostname):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(hostname).configure_cert(context)
        server_names = []
        context.sni_callback = lambda sock, name, ctx: server_names.append(name)
        server = ThreadingHTTPServer(("127.0.0.1", 0), ReceiverHandler)
        server.receiver = receiver
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server.server_address[1], server_names

    servers = []
    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_https_goes_to_the_checked_address_and_verifies_the_certificate_for_the_name(tls_receiver, receiver):
    port, server_names = tls_receiver("localhost")
    status, _ = webhooks.post(url=f"https://localhost:{port}/hooks", body=b'{"a":1}', headers={})
    assert status == 200
    assert server_names == ["localhost"]  # SNI carries the name, though the socket went to an address
    assert receiver.requests[0].headers["Host"] == f"localhost:{port}"


def test_https_refuses_a_certificate_for_another_name(tls_receiver, receiver):
    port, _ = tls_receiver("hooks.other.example")
    with pytest.raises(webhooks.DeliveryFailed, match="(?i)certificate|hostname"):
        webhooks.post(url=f"https://localhost:{port}/hooks", body=b"{}", headers={})
    assert receiver.requests == []


def test_public_ipv6_addresses_and_the_configured_ports_pass(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    assert webhooks.address_allowed("2606:4700:4700::1111")  # a plain global IPv6 address
    assert webhooks.address_allowed("2002:0808:0808::")  # 6to4 of 8.8.8.8: leads to a public address
    assert webhooks.url_check("https://hooks.example.com/x").port is None
    settings.WEBHOOK_ALLOWED_PORTS = [443, 8443]
    assert webhooks.url_check("https://hooks.example.com:8443/x").port == 8443


@pytest.mark.parametrize(
    "stored, shown",
    [
        ("HTTP 503: busy", "HTTP 503: busy"),  # the receiver's own answer
        ("refused: 10.0.0.5 is not public", "refused: the endpoint's address or port is not allowed"),
        ("could not connect: 203.0.113.7: [Errno 111] Connection refused", "no answer from the endpoint"),
        ("ReadTimeoutError: read timed out", "no answer from the endpoint"),
        ("", ""),
    ],
)
def test_the_retailer_reads_only_whether_its_endpoint_answered(stored, shown):
    assert webhooks.public_error(stored) == shown
