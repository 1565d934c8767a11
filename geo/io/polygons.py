"""Polygon validity, said the same way for grids, blocks, land use and the district."""

import re


def describe_invalid(reason):
    """GEOS's ``'Self-intersection[111.5078125 40.7578125]'`` as
    ``'self-intersection at lon 111.507812, lat 40.757812'``."""
    m = re.match(r"(.*)\[([-\d.e]+) ([-\d.e]+)\]", reason)
    if not m:
        return reason
    return f"{m.group(1).lower()} at lon {float(m.group(2)):.6f}, lat {float(m.group(3)):.6f}"
