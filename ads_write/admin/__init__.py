"""The compliance admin over the command side, one module per concern:

- ads.py — every ad, read-only, with its verdicts, findings and audit timeline ("History"),
  and the verdict and finding lists;
- export.py — the ads' and the queue's streamed CSV export (Auditors and Reviewers);
- filters.py — the lists' filters and searches (case-insensitive, each one an index);
- sla.py — how long an item has waited, against REVIEW_SLA_HOURS;
- workspace.py — the review queue of held ads and the reviewer's page (claims, decisions,
  the next item);
- actions.py — the queue's actions on several held ads at once;
- forms.py — the decision forms and the reviewer page's POST, shared with appeals;
- appeals.py — the appeals queue, on the same reviewer's page;
- changes.py — an ad's changes side by side.

Reviewers (`decide_ad`) decide, always with a policy reason code and a written reason,
through services/reviews.py and `ad_decide`, so a decision is audited and projected like any
other state change. Importing this package registers the model admins and applies the
compliance site (adplatform/admin_site.py)."""

from django.contrib import admin

from adplatform import admin_site

from ..models import Ad, Appeal, Finding, HeldAd, Verdict
from .ads import AdAdmin, FindingAdmin, VerdictAdmin
from .appeals import AppealAdmin
from .workspace import HeldAdAdmin

admin.site.register(Ad, AdAdmin)
admin.site.register(HeldAd, HeldAdAdmin)
admin.site.register(Verdict, VerdictAdmin)
admin.site.register(Finding, FindingAdmin)
admin.site.register(Appeal, AppealAdmin)

admin_site.configure()
