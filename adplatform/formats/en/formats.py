# Times in the admin as ISO 8601 with the offset (2026-12-02T19:00:05+0000): staff compare
# them with the audit log and the API, which use the same form, across time zones.
DATETIME_FORMAT = r"Y-m-d\TH:i:sO"
SHORT_DATETIME_FORMAT = r"Y-m-d\TH:i:sO"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
