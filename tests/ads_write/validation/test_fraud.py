import pytest

from .support import codes, judge, only

BLOCKED = "FRAUD.BLOCKED_DOMAIN"
SHORTENER = "FRAUD.URL_SHORTENER"
IP_HOST = "FRAUD.IP_HOST"
MISMATCH = "FRAUD.DOMAIN_MISMATCH"
PUNYCODE = "FRAUD.PUNYCODE_DOMAIN"
FLOOR = "FRAUD.PRICE_FLOOR"
DUPLICATE = "FRAUD.DUPLICATE_CONTENT"
VELOCITY = "FRAUD.VELOCITY"


@pytest.mark.parametrize(
    "url,flagged",
    [
        ("https://malware-downloads.example/setup.exe", True),
        ("https://free-prizes.example/", True),
        ("https://win.free-prizes.example/claim", True),  # a subdomain is the same site
        ("https://cheap-meds-online.example/pills", True),
        ("https://login.PHISH-BANK.example./account", True),  # case and the root dot do not matter
        ("https://phish-bank.example.com/", False),  # another site that only starts the same
        ("https://notphish-bank.example/", False),
    ],
)
def test_blocked_domain(url, flagged):
    verdict = judge(landing_url=url)
    assert (BLOCKED in codes(verdict)) is flagged
    if flagged:
        assert only(verdict, BLOCKED)[0].field == "landing_url"


@pytest.mark.parametrize(
    "url,flagged",
    [
        ("https://bit.ly/3xYz12", True),
        ("https://www.bit.ly/3xYz12", True),
        ("https://tinyurl.com/abc", True),
        ("https://t.co/abc", True),
        ("https://goo.gl/abc", True),
        ("https://ow.ly/abc", True),
        ("https://is.gd/abc", True),
        ("https://buff.ly/abc", True),
        ("https://rebrand.ly/abc", True),
        ("https://cutt.ly/abc", True),
        ("https://bitly.com.example/abc", False),
        ("https://art.co/abc", False),
    ],
)
def test_url_shortener(url, flagged):
    verdict = judge(landing_url=url)
    assert (SHORTENER in codes(verdict)) is flagged


@pytest.mark.parametrize(
    "url,host",
    [
        ("https://203.0.113.7/deals", "203.0.113.7"),
        ("https://203.0.113.7:8443/deals", "203.0.113.7"),
        ("https://[2001:db8::1]/", "2001:db8::1"),
        ("https://[2001:DB8::1]:443/shop", "2001:db8::1"),
        ("https://2130706433/", "127.0.0.1"),  # as browsers read a number
        ("https://0x7f.1/", "127.0.0.1"),
    ],
)
def test_ip_host(url, host):
    verdict = judge(landing_url=url)
    assert IP_HOST in codes(verdict)
    assert only(verdict, IP_HOST)[0].evidence == {"host": host}
    assert PUNYCODE not in codes(verdict)


def test_ip_host_not_for_names_with_digits():
    assert codes(judge(landing_url="https://shop123.example/")) == set()
    assert codes(judge(landing_url="https://1-800-flowers.example/")) == set()


@pytest.mark.parametrize(
    "landing,display,flagged",
    [
        ("https://shop.example.co.uk/a", "example.co.uk/shoes", False),
        ("https://example.co.uk/a", "shop.example.co.uk", False),
        ("https://www.nimbus-store.example/a", "NIMBUS-STORE.example/chairs", False),
        ("https://www.nimbus-store.example/a", "https://nimbus-store.example/chairs", False),
        ("https://a.github.io/shop", "b.github.io", True),  # separate sites under a private suffix
        ("https://a.github.io/shop", "a.github.io/shop", False),
        ("https://example.co.uk/", "example.com", True),
        ("https://www.nimbus-store.example/a", "acme-store.example/chairs", True),
    ],
)
def test_domain_mismatch(landing, display, flagged):
    verdict = judge(landing_url=landing, display_url=display)
    assert (MISMATCH in codes(verdict)) is flagged


def test_domain_mismatch_evidence_and_no_display_url():
    verdict = judge(landing_url="https://a.github.io/shop", display_url="b.github.io")
    [finding] = only(verdict, MISMATCH)
    assert finding.field == "display_url"
    assert finding.evidence == {"display_domain": "b.github.io", "landing_domain": "a.github.io"}
    assert codes(judge(display_url=None)) == set()


@pytest.mark.parametrize(
    "url,flagged",
    [
        ("https://xn--nmbus-store-ocb.example/", True),  # nímbus-store: reads as nimbus-store
        ("https://shop.XN--80AK6AA92E.example/", True),  # аррӏе in Cyrillic: reads as Latin
        ("https://\u0430pple-store.example/", True),  # Cyrillic а among Latin letters
        ("https://nimbus-st\u043ere.example/", True),  # Cyrillic о
        ("https://nimbus-store.example/", False),
        # Latin with a diacritic reads as the plain name (bucher), written in Unicode or as xn--
        ("https://b\u00fccher.example/", True),
        ("https://xn--bcher-kva.example/", True),
        ("https://xn--e1afmkfd.xn--p1ai/", False),  # пример.рф written as xn--
        ("https://\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444/", False),  # all Cyrillic
        ("https://\u043f\u0440\u0438\u043c\u0435\u0440.com/", True),  # Cyrillic name, Latin TLD
        ("https://\u65e5\u672c\u306e\u5e97.example/", False),  # Han + Hiragana + Latin: how Japanese is written
    ],
)
def test_punycode_domain(url, flagged):
    verdict = judge(landing_url=url)
    assert (PUNYCODE in codes(verdict)) is flagged, verdict.findings


def test_punycode_domain_evidence():
    [finding] = only(judge(landing_url="https://\u0430pple-store.example/"), PUNYCODE)
    assert finding.severity == "review"
    assert finding.evidence == {
        "host": "\u0430pple-store.example",
        "dns_name": "xn--pple-store-yqi.example",
        "scripts": ["CYRILLIC", "LATIN"],
        "looks_like": "apple-store.example",
    }
    [finding] = only(judge(landing_url="https://xn--nmbus-store-ocb.example/"), PUNYCODE)
    assert finding.evidence == {
        "host": "n\u00edmbus-store.example",
        "dns_name": "xn--nmbus-store-ocb.example",
        "looks_like": "nimbus-store.example",
    }


@pytest.mark.parametrize(
    "category,amount,flagged",
    [
        ("electronics", "5.00", False),  # exactly the floor
        ("electronics", "4.99", True),  # one cent below
        ("electronics", "5", False),
        ("travel", "10.00", False),
        ("travel", "9.99", True),
        ("automotive", "50.00", False),
        ("automotive", "49.99", True),
        ("home", "0.01", False),  # no floor
    ],
)
def test_price_floor(category, amount, flagged):
    verdict = judge(category=category, price={"amount": amount, "currency": "JPY"})
    assert (FLOOR in codes(verdict)) is flagged
    if flagged:
        [finding] = only(verdict, FLOOR)
        assert (finding.severity, finding.field) == ("review", "price.amount")
        assert finding.evidence["amount"] == amount


def test_price_floor_without_price():
    assert codes(judge(category="electronics")) == set()


def test_duplicate_content_from_facts():
    assert codes(judge(facts={"duplicate_elsewhere": True})) == {DUPLICATE}
    assert judge(facts={"duplicate_elsewhere": True}).status == "needs_review"
    assert codes(judge(facts={"duplicate_elsewhere": False})) == set()


@pytest.mark.parametrize(
    "count,limit,flagged",
    [(600, None, False), (601, None, True), (5, 5, False), (6, 5, True), (0, 0, False), (1, 0, True)],
)
def test_velocity_over_the_limit(count, limit, flagged):
    verdict = judge(facts={"recent_submissions": count, "velocity_limit": limit})
    assert (VELOCITY in codes(verdict)) is flagged
    if flagged:
        assert only(verdict, VELOCITY)[0].evidence == {
            "count": count,
            "limit": 600 if limit is None else limit,
            "window_seconds": 60,
        }
