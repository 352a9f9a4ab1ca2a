"""Telling retailers, one module per concern: `webhook_deliveries` (endpoints and their deliveries),
`reports` (the daily failed-ads report by e-mail) and `retailer_settings` (where and when
reports go). Import from the module that owns a function; this package re-exports nothing."""
