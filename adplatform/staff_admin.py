"""The admin site staff sign in to: Django's, plus a TOTP second factor when
STAFF_REQUIRE_2FA is on (django-otp's admin login form, which asks for the code with the
password, and its middleware, which marks the session verified)."""

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig


class StaffAdminSite(AdminSite):
    # Read per request (not at start-up), so a test can turn the setting on and off.
    @property
    def login_form(self):
        if not settings.STAFF_REQUIRE_2FA:
            return None
        from django_otp.admin import OTPAdminAuthenticationForm  # imports models: not at app loading

        return OTPAdminAuthenticationForm

    @property
    def login_template(self):
        return "otp/admin111/login.html" if settings.STAFF_REQUIRE_2FA else None

    def has_permission(self, request):
        """Staff whose session was not verified by a device count as not staff, so the admin
        sends them to the login form, which asks for the code."""
        if not super().has_permission(request):
            return False
        return not settings.STAFF_REQUIRE_2FA or request.user.is_verified()


class StaffAdminConfig(AdminConfig):
    default_site = "adplatform.staff_admin.StaffAdminSite"
