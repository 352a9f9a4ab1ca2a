"""The ad's changes side by side on its admin page: one column per change (the version that
accepted it, its fate and its verdict), one row per field any of them changed, each cell the
field's value before and after that change."""

import json

from django.utils.html import format_html, format_html_join

from ..models import Ad
from ..review import iso_time


def _value(value) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def changes_side_by_side(ad: Ad):
    changes = list(ad.changes.order_by("id")) if ad.pk else []
    if not changes:
        return "No changes."
    names = sorted({name for change in changes for name in change.fields})
    header = format_html_join(
        "",
        "<th>v{} · {}{}<br><small>{} · {}</small></th>",
        (
            (
                change.version or change.base_version,
                change.status,
                f" → {change.verdict_status} (v{change.verdict_version})" if change.verdict_status else "",
                iso_time(change.submitted_at),  # as every time in the admin: ISO 8601 with the offset
                change.actor,
            )
            for change in changes
        ),
    )
    rows = format_html_join(
        "",
        "<tr><th>{}</th>{}</tr>",
        (
            (
                name,
                format_html_join(
                    "",
                    "<td>{}</td>",
                    (
                        (
                            format_html(
                                "<del>{}</del><br><ins>{}</ins>", _value(c.before.get(name)), _value(c.fields[name])
                            )
                            if name in c.fields
                            else "",
                        )
                        for c in changes
                    ),
                ),
            )
            for name in names
        ),
    )
    return format_html('<table class="ad-changes"><tr><th>field</th>{}</tr>{}</table>', header, rows)
