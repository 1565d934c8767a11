"""Flask blueprints: each view translates a request into calls to :mod:`geo` and renders the answer."""
