"""Beat schedules that read their time in a time zone of their own."""

import re
from zoneinfo import ZoneInfo

from celery.schedules import crontab


class ZonedCrontab(crontab):
    """A crontab evaluated in `zone` rather than the Celery app's time zone, so the report
    can run at 02:00 Europe/Berlin while the rest of the pipeline stays in UTC."""

    def __init__(
        self, minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", *, zone: str = "UTC"
    ):
        ZoneInfo(zone)  # fail at start-up on a bad name, not at the first tick
        self.zone = zone
        super().__init__(minute, hour, day_of_week, day_of_month, month_of_year)

    @property
    def tz(self):
        return ZoneInfo(self.zone)

    def maybe_make_aware(self, dt, naive_as_utc=True):
        # Celery converts only UTC-aware times into the schedule's zone; convert any.
        return super().maybe_make_aware(dt, naive_as_utc).astimezone(self.tz)

    # Beat pickles its schedule; crontab's own pickling would drop the zone.
    def __reduce__(self):
        fields = (
            self._orig_minute,
            self._orig_hour,
            self._orig_day_of_week,
            self._orig_day_of_month,
            self._orig_month_of_year,
        )
        return self.__class__, fields, {"zone": self.zone}

    def __setstate__(self, state):
        self.zone = state["zone"]

    def __eq__(self, other):
        same = super().__eq__(other)
        return same if same is NotImplemented else same and getattr(other, "zone", None) == self.zone


def daily_at(hh_mm: str, *, zone: str) -> ZonedCrontab:
    """A schedule that fires every day at "HH:MM" in `zone`."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", hh_mm.strip())
    if not match:
        raise ValueError(f"expected a time of day as HH:MM (e.g. 02:00), got {hh_mm!r}")
    return ZonedCrontab(hour=int(match[1]), minute=int(match[2]), zone=zone)
