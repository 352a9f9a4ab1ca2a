import pytest

from ads_write.validation.domains import display_host, landing_host, parse_host, registrable_domain


@pytest.mark.parametrize(
    "url,site",
    [
        ("https://shop.example.co.uk/x", "example.co.uk"),
        ("https://example.co.uk/", "example.co.uk"),
        ("https://a.github.io/", "a.github.io"),
        ("https://b.github.io/", "b.github.io"),
        ("https://www.nimbus-store.example/", "nimbus-store.example"),  # unknown TLD: the default rule
        ("https://WWW.Example.COM./", "example.com"),
        ("https://github.io/", "github.io"),  # a bare public suffix is its own site
        ("https://[2001:db8::1]:8443/", "2001:db8::1"),
        ("https://192.0.2.1/", "192.0.2.1"),
        ("https://shop.b\u00fccher.example/", "xn--bcher-kva.example"),  # compared in the DNS (xn--) form
    ],
)
def test_registrable_domain(url, site):
    assert registrable_domain(url) == site


def test_unicode_and_punycode_forms_are_one_site():
    assert parse_host("b\u00fccher.example").site == parse_host("xn--bcher-kva.example").site


def test_ip_hosts():
    assert parse_host("2001:db8::1").is_ip
    assert parse_host("10.0.0.1").is_ip
    assert parse_host("2130706433").is_ip
    assert not parse_host("10.example").is_ip
    assert not parse_host("example.com").is_ip


def test_display_host_needs_no_scheme():
    assert display_host("example.co.uk/shoes").site == "example.co.uk"
    assert display_host("https://shop.example.co.uk").site == "example.co.uk"
    # Browsers (WHATWG) skip the extra slashes of an https URL: its host is no-host.
    assert landing_host("https:///no-host").name == "no-host"
    assert landing_host("https://") is None
