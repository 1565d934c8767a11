"""People: accounts, roles and scopes, login throttling, API tokens (and the audit log)."""
