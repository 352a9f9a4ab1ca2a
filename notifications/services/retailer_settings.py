"""The retailer's own notification settings: report contacts and time zone."""

import logging

from django.db import transaction

from adplatform.kernel.ids import new_id
from adplatform.kernel.models import Retailer
from audit.services import audit_record

logger = logging.getLogger(__name__)


def retailer_settings_update(
    *, retailer: Retailer, actor: str, report_contacts: list[str] | None = None, timezone_name: str | None = None
) -> Retailer:
    """Change where and when the retailer's reports go (already validated by the caller)."""
    with transaction.atomic():
        retailer = Retailer.objects.select_for_update().get(id=retailer.id)
        changes = {}
        if report_contacts is not None and report_contacts != retailer.report_contacts:
            changes["report_contacts"] = {"from": retailer.report_contacts, "to": report_contacts}
            retailer.report_contacts = report_contacts
        if timezone_name is not None and timezone_name != retailer.timezone:
            changes["timezone"] = {"from": retailer.timezone, "to": timezone_name}
            retailer.timezone = timezone_name
        if changes:
            retailer.save(update_fields=list(changes))
            audit_record(
                event_id=new_id(),
                action="retailer.settings_updated",
                actor=actor,
                retailer_id=retailer.id,
                data=changes,
            )
    return retailer
