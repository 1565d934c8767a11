"""The toilet revolution (厕所革命): records, coverage, site suggestions, progress, ledger."""
