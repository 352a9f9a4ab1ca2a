"""Validation of ads: `basic` runs on the request path; `engine` runs the detailed rules
(compliance, fraud, policy, external) in the consumers."""
