"""The admin site as compliance staff see it: its name, and the queue's counts on the index.
Applied to Django's default site (other modules register on it), at import of ads_write.admin."""

from django.contrib import admin


def configure(site: admin.AdminSite = admin.site) -> None:
    site.index_template = "admin/compliance_index.html"
