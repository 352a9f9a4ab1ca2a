"""Admin actions on kernel models, kept apart from admin.py so that it can stay a plain
registration. Wire with `actions = [replay_dead_letters]` on the DeadLetter ModelAdmin."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from adplatform.admin_tools import requires_permission

from .services import dead_letter_replay


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
