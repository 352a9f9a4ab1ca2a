"""The roles of compliance staff, each a Django group whose permissions hold server-side
(every admin action and view checks them):

- Reviewers decide held ads and appeals (`ads_write.decide_ad`, theirs alone);
- Auditors read everything and export, and decide nothing, so nobody audits their own
  decisions;
- Operators run the platform: dead letters (replay), retailers (report settings,
  deactivation) and API keys.

The groups and their permissions are made by migration audit/0006 (and later migrations that
add permissions of new models); this module names them for code."""

REVIEWERS, AUDITORS, OPERATORS = "Reviewers", "Auditors", "Operators"
ROLES = {"reviewer": REVIEWERS, "auditor": AUDITORS, "operator": OPERATORS}
ROLE_GROUPS = tuple(ROLES.values())

DECIDE_PERMISSION = "ads_write.decide_ad"
EXPORT_PERMISSION = "ads_write.export_ad"


def role_of(user) -> str | None:
    """The user's role name ('reviewer', …), or None; the first if several."""
    names = set(user.groups.values_list("name", flat=True))
    return next((role for role, group in ROLES.items() if group in names), None)
