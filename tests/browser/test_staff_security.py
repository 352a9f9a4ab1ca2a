"""The admin and the API docs in a real browser under the content security policy (nothing
refused), and the admin's second factor when it is required."""

import pytest
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every CSP refusal the page meets, kept in the page for the test to read.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def test_the_api_docs_render_under_the_policy(page, live_server):
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("adplatform API")
    expect(page.locator(".opblock").first).to_be_visible()  # the operations, read from the schema
    page.locator(".opblock-summary").first.click()  # the UI's own scripts work
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert violations(page) == []


def test_the_admin_works_under_the_policy(page, live_server, auditor):
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", auditor.username)
    page.fill("#id_password", auditor.raw_password)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools strong")).to_have_text(auditor.username)
    for path in ("/admin/audit/auditentry/", "/admin/ads_write/ad/?status__exact=rejected"):
        page.goto(live_server.url + path)
        expect(page.locator("#changelist")).to_be_visible()
        page.locator("#changelist-filter").wait_for()
        assert violations(page) == [], path


def test_the_admin_asks_for_the_second_factor_when_required(page, live_server, auditor, settings):
    settings.STAFF_REQUIRE_2FA = True
    call_command("enrol_staff_totp", "--username", auditor.username, stdout=open("/dev/null", "w"))
    device = TOTPDevice.objects.get(user=auditor)

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", auditor.username)
    page.fill("#id_password", auditor.raw_password)
    page.click("input[type=submit][value='Log in']")
    expect(page.locator(".errornote")).to_be_visible()  # the password alone is not enough
    expect(page.locator("#user-tools")).to_have_count(0)

    page.fill("#id_username", auditor.username)
    page.fill("#id_password", auditor.raw_password)
    page.select_option("#id_otp_device", device.persistent_id)
    page.fill("#id_otp_token", f"{totp(device.bin_key):06d}")
    page.click("input[type=submit][value='Log in']")
    expect(page.locator("#user-tools strong")).to_have_text(auditor.username)
