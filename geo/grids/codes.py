"""Grid codes: the rules every other grid module builds on (no database, no geometry).

A grid code has 15 digits: 6 of the district + 3 street + 3 community + 3 grid
sequence. Street rows end in six zeros, community rows in three; the level and
the parent follow from the code.
"""

import re

CODE_RE = re.compile(r"^[0-9]{15}$")  # ASCII digits only (\d takes full-width ones)
DEPARTMENT_SEP = re.compile(r"[、;；,，]")


def level_of(code):
    """``'street'``, ``'community'`` or ``'grid'`` for a valid 15-digit code.

    >>> level_of("150102001000000"), level_of("150102001002000"), level_of("150102001002003")
    ('street', 'community', 'grid')
    >>> level_of("150102000002003")
    Traceback (most recent call last):
    ...
    ValueError: code 150102000002003 has no street part
    """
    if code[6:9] == "000":
        raise ValueError(f"code {code} has no street part")
    if code[9:] == "000000":
        return "street"
    if code[12:] == "000":
        return "community"
    return "grid"


def parent_of(code):
    """The parent's code: grid → community, community → street, street → None.

    >>> parent_of("150102001002003")
    '150102001002000'
    >>> parent_of("150102001002000")
    '150102001000000'
    >>> parent_of("150102001000000") is None
    True
    """
    level = level_of(code)
    if level == "grid":
        return code[:12] + "000"
    if level == "community":
        return code[:9] + "000000"
    return None


def split_departments(value):
    """``'区城管局、区住建局'`` → ``['区城管局', '区住建局']`` (also ``;`` ``；`` ``,`` ``，``).

    >>> split_departments("区城管局、 区住建局;;街道办")
    ['区城管局', '区住建局', '街道办']
    >>> split_departments(None)
    []
    """
    return [p.strip() for p in DEPARTMENT_SEP.split(value or "") if p.strip()]


def lenient_level(code):
    """Level and parent of ``code``, also for a malformed one (which a draft may hold).

    >>> lenient_level("150102000002003")  # no street part: level_of refuses it
    ('grid', '150102000002000')
    """
    try:
        return level_of(code), parent_of(code)
    except ValueError:
        if code[12:] != "000":
            return "grid", code[:12] + "000"
        if code[9:12] != "000":
            return "community", code[:9] + "000000"
        return "street", None
