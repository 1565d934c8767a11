"""The department a dispatch proposes, as one SQL expression: the first routing rule by
position whose category is the case's category, its 2-digit group, or any (NULL); else the
first of the grid's departments. The workflow (:func:`geo.cases.workflow.propose_department`)
and the issue import (cases imported past dispatch) both use it."""


def proposal_sql(category, grid_departments):
    """The proposal for a case of ``category`` in a grid whose departments are
    ``grid_departments`` (both SQL expressions).

    >>> "ORDER BY r.position LIMIT 1" in proposal_sql("%(c)s", "g.departments")
    True
    """
    return (f"coalesce((SELECT r.department FROM routing_rules r WHERE r.category IS NULL"
            f" OR r.category = {category} OR r.category = left({category}, 2)"
            f" ORDER BY r.position LIMIT 1), ({grid_departments})[1])")
