"""Admin actions on kernel models, kept apart from admin.py so that it can stay a plain
registration: replaying dead letters, revoking API keys, deactivating retailers (each an
audited service, with the staff member as the actor)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from adplatform.admin_tools import requires_permission

from .services import api_key_revoke, dead_letter_replay, retailer_set_active


@requires_permission("kernel.change_deadletter")
@admin.action(description="Replay the selected dead letters")
def replay_dead_letters(modeladmin, request, queryset):
    # Checked here, not with permissions=["change"]: the DeadLetter admin is read-only, so
    # its has_change_permission() is False for everybody.
    if not request.user.has_perm("kernel.change_deadletter"):
        raise PermissionDenied("Replaying needs the “Can change dead letter” permission.")
    try:
        outcome = dead_letter_replay(
            ids=list(queryset.values_list("id", flat=True)), actor=f"staff:{request.user.get_username()}"
        )
    except Exception as exc:  # the broker is unreachable: nothing was marked replayed
        modeladmin.message_user(request, f"Could not replay: {exc}. Try again later.", messages.ERROR)
        return
    if outcome.replayed:
        modeladmin.message_user(request, f"Replayed {len(outcome.replayed)} dead letter(s).", messages.SUCCESS)
    for letter_id, reason in sorted(outcome.skipped.items()):
        modeladmin.message_user(request, f"Dead letter {letter_id} skipped: {reason}.", messages.WARNING)


def _staff(request) -> str:
    return f"staff:{request.user.get_username()}"


# Gated by permissions of their own (not "change": these admins are read-only), so that an
# Operators group can be given exactly these: kernel.revoke_apikey, kernel.deactivate_retailer.
@admin.action(description="Revoke the selected API keys", permissions=["revoke"])
def revoke_api_keys(modeladmin, request, queryset):
    keys = list(queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True))
    for key_id in keys:
        api_key_revoke(key_id=key_id, actor=_staff(request))
    modeladmin.message_user(
        request, f"Revoked {len(keys)} API key(s); every web process refuses them from now on.", messages.SUCCESS
    )


def _set_active(queryset, request, *, active: bool) -> int:
    retailers = list(queryset.filter(is_active=not active))
    for retailer in retailers:
        retailer_set_active(retailer=retailer, active=active, actor=_staff(request))
    return len(retailers)


@admin.action(description="Deactivate the selected retailers (refuse all their keys)", permissions=["deactivate"])
def deactivate_retailers(modeladmin, request, queryset):
    count = _set_active(queryset, request, active=False)
    modeladmin.message_user(
        request, f"Deactivated {count} retailer(s); their keys are refused from now on.", messages.SUCCESS
    )


@admin.action(description="Reactivate the selected retailers", permissions=["deactivate"])
def reactivate_retailers(modeladmin, request, queryset):
    count = _set_active(queryset, request, active=True)
    modeladmin.message_user(
        request, f"Reactivated {count} retailer(s); their keys not revoked or expired work again.", messages.SUCCESS
    )
