"""Fraud rules (AD_POLICY.md, "Fraud"): where the ad sends people, implausible prices, and the
stateful signals gathered before evaluation (duplicates across retailers, velocity)."""

from .rules import REJECT, REVIEW, AdContext, Rule, RuleFinding


def rule_blocked_domain(ctx: AdContext) -> list[RuleFinding]:
    if ctx.landing is None or ctx.landing.site not in ctx.ruleset.blocked_domains:
        return []
    return [
        BLOCKED_DOMAIN.finding(
            f"The landing page is on {ctx.landing.site}, a domain blocked for malware, phishing or scams.",
            field="landing_url",
            evidence={"domain": ctx.landing.site},
        )
    ]


def rule_url_shortener(ctx: AdContext) -> list[RuleFinding]:
    if ctx.landing is None or ctx.landing.site not in ctx.ruleset.url_shorteners:
        return []
    return [
        URL_SHORTENER.finding(
            f"The landing URL goes through the link shortener {ctx.landing.site}, which hides where it leads: "
            "link to your own page directly.",
            field="landing_url",
            evidence={"domain": ctx.landing.site},
        )
    ]


def rule_ip_host(ctx: AdContext) -> list[RuleFinding]:
    if ctx.landing is None or not ctx.landing.is_ip:
        return []
    return [
        IP_HOST.finding(
            f"The landing URL points at the IP address {ctx.landing.name} instead of a domain name.",
            field="landing_url",
            evidence={"host": ctx.landing.name},
        )
    ]


def rule_domain_mismatch(ctx: AdContext) -> list[RuleFinding]:
    display = ctx.display.host if ctx.display else None
    if display is None or ctx.landing is None or display.site == ctx.landing.site:
        return []
    return [
        DOMAIN_MISMATCH.finding(
            f"The ad shows {display.site} but sends people to {ctx.landing.site}: "
            "the display URL must be on the landing page's site.",
            field="display_url",
            evidence={"display_domain": display.site, "landing_domain": ctx.landing.site},
        )
    ]


def rule_url_userinfo(ctx: AdContext) -> list[RuleFinding]:
    findings = []
    for field, url in (("landing_url", ctx.landing_url), ("display_url", ctx.display)):
        if url is None or not url.userinfo:
            continue
        findings.append(
            URL_USERINFO.finding(
                f"The {field} has '{url.userinfo}@' before its host, so it reads as '{url.userinfo}' "
                f"but leads to {url.host.name}: give the host alone.",
                field=field,
                evidence={"userinfo": url.userinfo, "host": url.host.name},
            )
        )
    return findings


def rule_punycode_domain(ctx: AdContext) -> list[RuleFinding]:
    host = ctx.landing
    if host is None or host.is_ip or not host.has_punycode_label:
        return []
    reasons = []
    scripts = host.mixed_scripts
    if scripts:
        reasons.append("letters of several scripts (" + ", ".join(s.title() for s in scripts) + ")")
    look_alike = host.look_alike
    if look_alike:
        reasons.append(f"letters that read as the Latin '{look_alike}'")
    if not reasons:
        return []
    evidence = {"host": host.unicode, "dns_name": host.name}
    if scripts:
        evidence["scripts"] = list(scripts)
    if look_alike:
        evidence["looks_like"] = look_alike
    return [
        PUNYCODE_DOMAIN.finding(
            f"The landing host {host.unicode} ({host.name}) has {' and '.join(reasons)}, which can imitate "
            "another site; it will be checked by staff.",
            field="landing_url",
            evidence=evidence,
        )
    ]


def rule_price_floor(ctx: AdContext) -> list[RuleFinding]:
    floor = ctx.ruleset.price_floors.get(ctx.category)
    price = ctx.ad.get("price")
    if floor is None or price is None or price["amount"] >= floor:
        return []
    return [
        PRICE_FLOOR.finding(
            f"A price of {price['amount']} {price['currency']} is implausibly low for '{ctx.category}' "
            f"(below {floor}); it will be checked by staff.",
            field="price.amount",
            evidence={"amount": str(price["amount"]), "currency": price["currency"], "floor": str(floor)},
        )
    ]


def rule_duplicate_content(ctx: AdContext) -> list[RuleFinding]:
    if not ctx.facts.duplicate_elsewhere:
        return []
    days = ctx.ruleset.duplicate_window.days
    domain = ctx.landing.site if ctx.landing else ""
    return [
        DUPLICATE_CONTENT.finding(
            # Not "another retailer": whose ads exist is not this retailer's to learn (staff see it).
            f"The same headline, description and landing domain were submitted within {days} days of this ad; "
            "it will be checked by staff.",
            evidence={"landing_domain": domain, "window_days": days},
        )
    ]


def rule_velocity(ctx: AdContext) -> list[RuleFinding]:
    facts = ctx.facts
    limit = ctx.ruleset.velocity_limit if facts.velocity_limit is None else facts.velocity_limit
    if facts.recent_submissions <= limit:
        return []
    seconds = int(ctx.ruleset.velocity_window.total_seconds())
    return [
        VELOCITY.finding(
            f"Your account submitted {facts.recent_submissions} ads in {seconds} seconds, over its limit of {limit}; "
            "it will be checked by staff.",
            evidence={"count": facts.recent_submissions, "limit": limit, "window_seconds": seconds},
        )
    ]


# Each rule's record: code, severity, its check above (which makes findings through it) and
# the documentation docs/rules.md is generated from.
BLOCKED_DOMAIN = Rule(
    code="FRAUD.BLOCKED_DOMAIN",
    severity=REJECT,
    check=rule_blocked_domain,
    summary="The landing URL's registrable domain is on the blocklist (`fraud.blocked_domains`); subdomains count.",
    example={"landing_url": "https://win.free-prizes.example/claim"},
    disguises="Reads the host as a browser does (WHATWG URL, IDNA UTS 46): full-width letters and dots, mathematical letters, `ſ`, upper case and the root dot map to the plain name; `\\` is a `/`; user info is not the host.",
    disguise_example={
        "landing_url": "https://\uff46\uff52\uff45\uff45-\uff50\uff52\uff49\uff5a\uff45\uff53.example/claim"
    },
)
URL_SHORTENER = Rule(
    code="FRAUD.URL_SHORTENER",
    severity=REJECT,
    check=rule_url_shortener,
    summary="The landing URL's registrable domain is a link shortener (`fraud.url_shorteners`).",
    example={"landing_url": "https://bit.ly/3xYz12"},
    disguises="As `FRAUD.BLOCKED_DOMAIN`: `ｂｉｔ.ｌｙ`, `iſ.gd` and `𝐛it.ly` are the shorteners they map to, and `https://bit.ly\\@shop.example/x` goes to bit.ly.",
    disguise_example={"landing_url": "https://bit.ly\\@www.nimbus-store.example/chairs"},
)
IP_HOST = Rule(
    code="FRAUD.IP_HOST",
    severity=REJECT,
    check=rule_ip_host,
    summary=(
        "The landing host is an IP address, v4 or v6 (`https://[2001:db8::1]/`), including the numeric "
        "forms browsers read as IPv4 (`https://2130706433/`)."
    ),
    example={"landing_url": "https://203.0.113.7/deals"},
    disguises="Reads the host as a browser does: numbers in any IPv4 form (`2130706433`, `0x7f.1`, full-width digits) are the address they reach.",
    disguise_example={"landing_url": "https://0x7f.1/deals"},
)
DOMAIN_MISMATCH = Rule(
    code="FRAUD.DOMAIN_MISMATCH",
    severity=REJECT,
    check=rule_domain_mismatch,
    summary=(
        "`display_url` is given and its registrable domain differs from the landing URL's "
        "(`shop.example.co.uk` matches `example.co.uk`; `a.github.io` does not match `b.github.io`)."
    ),
    example={"display_url": "acme-store.example/chairs"},
    disguises="Reads both hosts as a browser does (full-width letters, UTS 46 mapping); the display URL's host is the one after any user info (which `FRAUD.URL_USERINFO` flags). A display URL a browser reads no host in (`acme-store.example:chairs`) fails basic validation, so it cannot slip past the comparison.",
    disguise_example={"display_url": "\uff41\uff43\uff4d\uff45-store.example/chairs"},
)
URL_USERINFO = Rule(
    code="FRAUD.URL_USERINFO",
    severity=REJECT,
    check=rule_url_userinfo,
    summary=(
        "The landing or display URL has user info before its host (`shop.example@other.example/x`): "
        "a reader sees the first name, a browser goes to the second."
    ),
    example={"display_url": "acme-store.example@nimbus-store.example/chairs"},
    disguises="Reads the URLs as a browser does: the user info is what stands before the last `@` of the authority; `\\` ends the authority in an https URL, so `https://bit.ly\\@shop.example/x` has none (and goes to bit.ly).",
    disguise_example={"landing_url": "https://www.nimbus-store.example@acme-store.example/chairs"},
)
PUNYCODE_DOMAIN = Rule(
    code="FRAUD.PUNYCODE_DOMAIN",
    severity=REVIEW,
    check=rule_punycode_domain,
    summary=(
        "The landing host has an internationalised label (written in Unicode or as `xn--`) that mixes the "
        "letters of several scripts (Cyrillic among Latin, say; Latin with Han, Kana or Hangul, as Japanese, "
        "Chinese and Korean names use, is not a mix), or whose confusable skeleton (Unicode TR 39) is a Latin "
        "name: `аррӏе.рф` reads as `apple`, `nımbus-store` as `nimbus-store`. A name in one script of its "
        "own that reads as no Latin name (`магазин.рф`, `bücher.example`) passes."
    ),
    example={"landing_url": "https://xn--nmbus-store-ocb.example/chairs"},
    disguises="Judges the host as a browser shows it, whether written in Unicode or as `xn--`: mixed scripts, and labels whose confusable skeleton is a Latin name (`аррӏе`, `ɑcmephone`, `nımbus-store`, `ᴀcmephone` in a small capital).",
    disguise_example={"landing_url": "https://n\u0131mbus-store.example/chairs"},
)
PRICE_FLOOR = Rule(
    code="FRAUD.PRICE_FLOOR",
    severity=REVIEW,
    check=rule_price_floor,
    summary=(
        "`price.amount` is below the category's floor (`fraud.price_floors`, any currency); exactly the floor passes."
    ),
    example={"category": "electronics", "headline": "Wireless earbuds", "price": {"amount": "4.99", "currency": "EUR"}},
    disguises="Reads a decimal amount that basic validation parses: there is no text to disguise.",
)
DUPLICATE_CONTENT = Rule(
    code="FRAUD.DUPLICATE_CONTENT",
    severity=REVIEW,
    check=rule_duplicate_content,
    summary=(
        "Another retailer submitted the same normalised headline + description + landing registrable "
        "domain in the `fraud.duplicate_window_days` days before this ad was submitted "
        "(case, punctuation and whitespace ignored). Workers judge ads out of submission order, so each "
        "such pair is flagged once, on the ad judged second: the later ad, or the earlier one when the "
        "later was judged first."
    ),
    example={},
    example_facts={"duplicate_elsewhere": True},
    disguises="Compares content as the text rules read it: NFKC, case, invisible characters and confusable letters (Cyrillic `а` for `a`) do not make content different.",
)
VELOCITY = Rule(
    code="FRAUD.VELOCITY",
    severity=REVIEW,
    check=rule_velocity,
    summary=(
        "The retailer's submissions in the `fraud.velocity.window_seconds` seconds up to this ad "
        "(this one included) exceed its velocity limit: the retailer's own, else `fraud.velocity.default_limit`."
    ),
    example={},
    example_facts={"recent_submissions": 601},
    disguises="Counts submissions: there is no text to disguise.",
)

RULES = (
    BLOCKED_DOMAIN,
    URL_SHORTENER,
    IP_HOST,
    DOMAIN_MISMATCH,
    URL_USERINFO,
    PUNYCODE_DOMAIN,
    PRICE_FLOOR,
    DUPLICATE_CONTENT,
    VELOCITY,
)
