"""Bulk writes: rebuild a table's indexes and keys once, keep the tallies without the trigger.

A statement that writes a large part of a table (a million-row import, a re-assignment
that moves most points) pays per row for every secondary index, every foreign key and
the tally trigger's transition tables. Dropping those, writing, and rebuilding them
sorted — all inside the caller's transaction, with the table locked — costs a fraction
of that; a failure rolls the table back as it was.
"""

from contextlib import contextmanager

#: A write of at least this many rows may take the bulk path (below, rebuilding
#: the indexes costs more than it saves).
BULK_MIN_ROWS = 50_000


def estimated_rows(tx, table):
    """The planner's estimate of ``table``'s rows (0 for a never-analysed empty table)."""
    return tx.fetchval("SELECT greatest(reltuples, 0)::bigint FROM pg_class"
                       " WHERE oid = %s::regclass", (table,))


@contextmanager
def rebuilt_indexes(tx, table, analyze=True, columns=None):
    """Drop ``table``'s secondary indexes, unique and foreign keys; rebuild them on exit.

    The primary key stays (other tables' keys reference it). The table is locked
    exclusively until the transaction ends. ``analyze``: refresh the planner's
    statistics afterwards (new rows; not needed when only a few columns changed).
    ``columns``: an update writes only these, so a foreign key on other columns stays
    (PostgreSQL checks a key only when it changes).
    """
    constraints = tx.fetchall(
        # Names come back quoted by the server (quote_ident, regclass), definitions as the
        # server wrote them: nothing here is spliced from outside the schema.
        "SELECT quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint c"
        " WHERE conrelid = %s::regclass AND (contype = 'u' OR contype = 'f' AND"
        " (%s::text[] IS NULL OR EXISTS (SELECT 1 FROM pg_attribute a WHERE"
        " a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) AND a.attname = ANY (%s))))"
        " ORDER BY contype DESC", (table, columns, columns))
    indexes = tx.fetchall(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)", (table,))
    tx.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    for name, _ in constraints:
        tx.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        tx.execute(f"DROP INDEX {name}")
    yield
    for _, definition in indexes:
        tx.execute(definition)
    for name, definition in constraints:
        tx.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    if analyze:
        tx.execute(f"ANALYZE {table}")


def rewritable(tx, table, column):
    """Whether :func:`rewrite_column` can rewrite ``table`` through ``column``: PostgreSQL
    refuses to change the type of a column that a view, rule, policy, trigger condition or
    another column's generation expression reads."""
    return tx.fetchval(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_attribute a"
        " ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
        " WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = %(table)s::regclass"
        " AND a.attname = %(column)s AND (d.classid IN ('pg_rewrite'::regclass,"
        " 'pg_policy'::regclass, 'pg_trigger'::regclass) OR d.classid = 'pg_attrdef'::regclass"
        " AND d.objid NOT IN (SELECT oid FROM pg_attrdef"
        " WHERE adrelid = d.refobjid AND adnum = d.refobjsubid)))",
        {"table": table, "column": column})


def rewrite_column(tx, table, column, value):
    """Set ``column`` to ``value`` (an integer or None) in every row of ``table`` by
    rewriting the table into a new file rather than updating its rows.

    Inside the transaction that updated them, the old versions of updated rows stay in
    the table, and PostgreSQL puts them into every index it builds (the transaction's
    own earlier snapshots may still need them): after an ``UPDATE`` of every row,
    building the indexes reads and sorts twice the rows and takes twice as long, and
    the table stays twice its size after the commit. A rewrite (``ALTER TABLE … ALTER
    COLUMN … TYPE`` with the column's own type and a constant ``USING``) copies only
    the rows' current versions and writes the column on the way. It rebuilds whatever
    indexes the table still has; call it with them dropped (:func:`rebuilt_indexes`),
    the table locked exclusively, and only where :func:`rewritable` allows.
    """
    kind = tx.fetchval("SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                       " WHERE attrelid = %s::regclass AND attname = %s", (table, column))
    literal = "NULL" if value is None else str(int(value))
    # table, column and kind come from the schema (the server's own spelling of the
    # type), value is formatted as an integer: nothing from outside is spliced in.
    tx.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind}"
               f" USING {literal}::{kind}")
    # Changing a column's type drops its statistics.
    tx.execute(f"ANALYZE {table} ({column})")


def tally_triggers(tx, table, event):
    """``[(name, definition)]`` of ``table``'s tally triggers that fire on ``event``
    (``'INSERT'``, ``'UPDATE'`` or ``'DELETE'``): the user triggers whose function's
    name starts with ``civgrid_tally``."""
    bit = {"INSERT": 4, "DELETE": 8, "UPDATE": 16}[event]  # pg_trigger.tgtype bits
    return tx.fetchall(
        "SELECT quote_ident(t.tgname), pg_get_triggerdef(t.oid) FROM pg_trigger t"
        " JOIN pg_proc p ON p.oid = t.tgfoid"
        " WHERE t.tgrelid = %s::regclass AND NOT t.tgisinternal"
        " AND p.proname LIKE 'civgrid\\_tally%%' AND t.tgtype & %s <> 0 ORDER BY t.tgname",
        (table, bit))


@contextmanager
def tallies_by_hand(tx, table, event):
    """Take ``table``'s tally triggers for ``event`` away for the block; put them back after.

    Yields whether there were any (a table without tallies has none). The block must bring the tallies up to date itself (:func:`add_to_tallies`). A
    disabled trigger would still make PostgreSQL collect its transition tables, a
    copy of every written row, so the triggers are dropped, not disabled. Only inside
    the caller's transaction and with the table locked exclusively, so no other write
    can miss them.
    """
    triggers = tally_triggers(tx, table, event)
    if triggers:
        tx.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    for name, _ in triggers:
        tx.execute(f"DROP TRIGGER {name} ON {table}")
    yield bool(triggers)
    for _, definition in triggers:
        tx.execute(definition)


def add_to_tallies(tx, delta):
    """Add the rows of the query ``delta`` to the tallies: ``s`` (+1 or -1) and the issue
    columns the tallies count by (``grid_id category source status geom reported_at``)."""
    for query in tx.fetchval("SELECT civgrid_tally_sql(%s)", (delta,)):
        tx.execute(query)


#: The tally delta a bulk writer fills (the shape ``civgrid_tally_sql`` gives it):
#: ``tally`` 3 = tally_grid, 5 = tally_cell, 6 = tally_week; the other key columns NULL.
_TALLY_DELTA = ("CREATE TEMP TABLE _tally_delta (tally int, grid_id int, category text,"
                " source text, status text, x int, y int, week date, x256 int, y256 int,"
                " n int) ON COMMIT DROP")


def count_tallies(grid_id, category, source, status, lon, lat, reported_at):
    """The tally delta of new issues, counted in pandas, as an Arrow table for
    :func:`add_counted_tallies`.

    For a bulk import, which has every value at hand: the client counts while the
    server writes the rows. The keys are the tallies' own (migration 0007): heat cells
    of 1/512 degree (1/256 for the weeks), the Monday of the week reported in, in
    Asia/Shanghai, and grid 0 for an issue without a grid. ``grid_id`` is an integer
    array (0: none), ``lon``/``lat`` float arrays, the others Series.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    local = pd.Series(reported_at).dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    days = local.to_numpy().astype("datetime64[D]").astype(np.int64)
    monday = days - (days + 3) % 7  # 1970-01-01 was a Thursday
    codes = {}
    for name, values in (("category", category), ("source", source), ("status", status)):
        codes[name] = pd.factorize(pd.Series(values), sort=False)
    keys = pd.DataFrame({
        "grid_id": np.asarray(grid_id, dtype=np.int32),
        "category": codes["category"][0], "source": codes["source"][0],
        "status": codes["status"][0],
        "x": np.floor(lon * 512).astype(np.int32), "y": np.floor(lat * 512).astype(np.int32),
        "week": monday, "x256": np.floor(lon * 256).astype(np.int32),
        "y256": np.floor(lat * 256).astype(np.int32),
    })
    parts = []
    for tally, columns in ((3, ["grid_id", "category", "source", "status"]),
                           (5, ["x", "y", "grid_id", "category", "status"]),
                           (6, ["week", "x256", "y256"])):
        counted = keys.groupby(columns, sort=False).size().reset_index(name="n")
        counted.insert(0, "tally", tally)
        parts.append(counted)
    delta = pd.concat(parts, ignore_index=True)
    columns = {"tally": pa.array(delta["tally"], pa.int32())}
    for name in ("grid_id", "category", "source", "status", "x", "y", "week", "x256", "y256"):
        values = delta[name]
        present = values.notna().to_numpy()
        if name in codes:
            labels = np.asarray(codes[name][1], dtype=object)
            array = pa.array(np.where(present, labels[values.fillna(0).astype(int)], None),
                             pa.string())
        elif name == "week":
            array = pa.array(values.fillna(0).astype(np.int64).to_numpy(), pa.int32(),
                             mask=~present).cast(pa.date32())
        else:
            array = pa.array(values.fillna(0).astype(np.int64).to_numpy(), pa.int32(),
                             mask=~present)
        columns[name] = array
    columns["n"] = pa.array(delta["n"], pa.int32())
    return pa.table(columns)


def add_counted_tallies(tx, delta):
    """Add a delta counted by :func:`count_tallies` to the tallies (with the same SQL
    as :func:`add_to_tallies`, minus the counting)."""
    import io

    import pyarrow.csv as pacsv

    tx.execute("DROP TABLE IF EXISTS _tally_delta")
    tx.execute(_TALLY_DELTA)
    buf = io.BytesIO()
    pacsv.write_csv(delta, buf, pacsv.WriteOptions(include_header=False))
    buf.seek(0)
    tx.copy_in("_tally_delta", delta.column_names, buf, csv=True)
    for query in tx.fetchval("SELECT civgrid_tally_apply_sql()"):
        tx.execute(query)
