"""The admin site as compliance staff see it: its name, the queue's counts on the index, and
403 / 404 pages inside its chrome (with a way back) rather than the API's JSON problems.
Applied to Django's default site (other modules register on it), at import of ads_write.admin."""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme

from . import problems

SITE_NAME = "adplatform compliance"


def configure(site: admin.AdminSite = admin.site) -> None:
    site.site_header = SITE_NAME
    site.site_title = SITE_NAME
    site.index_title = "Compliance workspace"
    site.index_template = "admin/compliance_index.html"


def _staff_page(request) -> bool:
    user = getattr(request, "user", None)
    return request.path.startswith("/admin/") and user is not None and user.is_active and user.is_staff


def _error_page(request, *, status: int, heading: str, message: str):
    referer = request.META.get("HTTP_REFERER", "")
    back = referer if url_has_allowed_host_and_scheme(referer, {request.get_host()}) else None
    context = {
        **admin.site.each_context(request),
        "title": heading,
        "heading": heading,
        "message": message,
        "back_url": back,
    }
    response = TemplateResponse(request, "admin/error_page.html", context, status=status)
    return response.render()


def handler403(request, exception=None):
    """A refusal on a staff page: the admin's page, saying what was refused; elsewhere the
    API's problem (JSON)."""
    if not _staff_page(request):
        return problems.handler403(request, exception)
    detail = str(exception) if exception is not None and str(exception) else ""
    return _error_page(
        request,
        status=403,
        heading="Not allowed (403)",
        message=detail or "Your role does not allow this. Ask an administrator if you need it.",
    )


def handler404(request, exception=None):
    if not _staff_page(request):
        return problems.handler404(request, exception)
    detail = str(exception) if exception is not None and exception.args else ""
    return _error_page(request, status=404, heading="Not found (404)", message=detail or "There is no such page.")
