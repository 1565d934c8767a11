"""Polygon validity, said the same way for grids, blocks, land use and the district."""

import re


def describe_invalid(reason):
    """GEOS's ``'Self-intersection[111.5078125 40.7578125]'`` as
    ``'self-intersection at lon 111.507812, lat 40.757812'``.

    ``reason`` is what shapely's ``is_valid_reason`` says; a reason without a spot is
    returned as it is.

    >>> import shapely
    >>> bowtie = shapely.Polygon([(111.5, 40.75), (111.51, 40.76), (111.51, 40.75),
    ...                           (111.5, 40.76)])
    >>> describe_invalid(shapely.is_valid_reason(bowtie))
    'self-intersection at lon 111.505000, lat 40.755000'
    >>> describe_invalid("Too few points in geometry component")
    'Too few points in geometry component'
    """
    m = re.match(r"(.*)\[([-\d.e]+) ([-\d.e]+)\]", reason)
    if not m:
        return reason
    return f"{m.group(1).lower()} at lon {float(m.group(2)):.6f}, lat {float(m.group(3)):.6f}"
