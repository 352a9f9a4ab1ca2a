"""CSV cells that spreadsheets show as text: for every CSV we hand out (the failed-ads report,
the audit export)."""

# A spreadsheet reads a cell starting with these as a formula (or, for tab and CR, may shift
# it into one); a leading apostrophe makes it text (OWASP "CSV injection").
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text
