"""Issues (problem points): categories, records, filters, look-ups and figures."""
