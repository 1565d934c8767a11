"""One vocabulary of coded values: each code's English label, for every reader.

Records store codes (``accepted``, ``dry_latrine``, ``nearest``…); people read
labels. Pages, popups, the Excel ledger and the progress chart all take their
labels from here and translate them at the edge, in the reader's language: the
web layer with Flask-Babel's ``gettext``, the command line with the catalogue
of its environment's language (``webmap.i18n.environment_gettext``). The English labels
are the message ids of ``webmap/translations``; :func:`N_` marks them so that
``pybabel extract`` (keyword ``N_`` in ``webmap/babel.cfg``) puts them in the
catalogue, where each has its one Chinese translation.

The lists of valid codes themselves live with the rules that use them
(:mod:`geo.issues.records`, :mod:`geo.toilets.records`, :mod:`geo.grids.assign`);
a test checks that every code has a label here.

Examples
--------
>>> label(TOILET_STATUSES, "accepted")
'accepted'
>>> label(TOILET_STATUSES, "accepted", translate=str.upper)
'ACCEPTED'
>>> label(TOILET_STATUSES, "bulldozed")  # an unknown code is shown as it is
'bulldozed'
"""


from geo.errors import N_


#: Issue statuses; ``open`` is the filter for every status but closed and void.
ISSUE_STATUSES = {
    "reported": N_("reported"), "filed": N_("filed"), "dispatched": N_("dispatched"),
    "processing": N_("processing"), "fed_back": N_("fed back"), "checking": N_("checking"),
    "closed": N_("closed"), "void": N_("void"), "rework": N_("rework"),
    "returned": N_("returned"), "suspended": N_("suspended"), "open": N_("open (not closed)"),
}

#: How the public page names where a case stands (geo.public.reports.STAGES maps the
#: workflow's statuses onto these).
PUBLIC_STAGES = {"received": N_("received"), "accepted": N_("accepted for handling"),
                 "in_hand": N_("being handled"), "checking": N_("being checked"),
                 "done": N_("done"), "declined": N_("not taken up")}

#: The steps of a case that the citizen's page lists, in the public's words (no internal
#: step's name: :data:`geo.public.reports.MILESTONES`).
PUBLIC_MILESTONES = {
    "created": N_("your report was received"),
    "file": N_("accepted for handling"),
    "dispatch": N_("passed to the department responsible"),
    "feed_back": N_("the department reported it handled; being checked"),
    "close": N_("done"),
    "void": N_("not taken up"),
    "reopen": N_("taken up again"),
    "approve_reopen": N_("taken up again at a citizen's request"),
}

#: The channels an issue was reported through.
ISSUE_SOURCES = {
    "leader": N_("leaders' supervision"), "joint": N_("joint inspection"),
    "patrol": N_("department patrol"), "sweep": N_("territorial sweep"),
    "citizen": N_("citizen message"), "city": N_("city feedback"), "other": N_("other"),
}

#: The deadline traffic light of an open issue (docs/domain.md, *Deadlines and the
#: traffic light*): the share of its time limit used.
#: Closed issues and issues without a deadline have no light.
DEADLINE_LIGHTS = {"green": N_("green"), "yellow": N_("yellow"), "red": N_("red (overdue)")}
#: What each light means, for legends.
DEADLINE_LIGHT_MEANINGS = {"green": N_("less than 80 per cent of the time limit used"),
                           "yellow": N_("80 to 100 per cent of the time limit used"),
                           "red": N_("past the deadline and not closed")}

#: How a point found its grid (README "How a point finds its grid").
ASSIGN_METHODS = {
    "inside": N_("inside the grid"), "boundary": N_("on a shared boundary: smallest code"),
    "nearest": N_("nearest grid within the tolerance"), "none": N_("unassigned"),
}

#: What an issue's or toilet's history entry records.
#: Grid versions' statuses and the grid levels.
GRID_VERSION_STATUSES = {"active": N_("active"), "draft": N_("draft"), "retired": N_("retired")}
GRID_LEVELS = {"street": N_("street"), "community": N_("community"), "grid": N_("grid")}

#: The steps of the case workflow (geo.cases.workflow), as pages and messages name them.
CASE_ACTIONS = {
    "file": N_("file the case"), "void": N_("void the case"), "dispatch": N_("dispatch"),
    "accept": N_("accept the case"), "return": N_("return the case"),
    "feed_back": N_("feed back"), "send_to_check": N_("send to check"),
    "close": N_("close the case"), "rework": N_("order rework"),
    "request_extension": N_("request an extension"),
    "approve_extension": N_("approve the extension"),
    "refuse_extension": N_("refuse the extension"),
    "request_suspension": N_("request a suspension"),
    "approve_suspension": N_("approve the suspension"),
    "refuse_suspension": N_("refuse the suspension"), "resume": N_("resume"),
    "reopen": N_("reopen"), "reply": N_("reply to the reporter"),
    "approve_reopen": N_("approve the citizen's reopen request"),
    "refuse_reopen": N_("refuse the citizen's reopen request"),
}

HISTORY_ACTIONS = {"created": N_("created"), "edited": N_("edited"),
                   "reassigned": N_("re-assigned"),
                   "synced": N_("synced from the source system"),
                   "followed": N_("reported again by a citizen"),
                   "rated": N_("citizen's satisfaction"), **CASE_ACTIONS}

TOILET_KINDS = {"household": N_("household"), "public": N_("public")}
TOILET_ORIGINAL_TYPES = {"dry_latrine": N_("dry latrine"), "flush": N_("flush toilet"),
                         "none": N_("no toilet")}
TOILET_ACTIONS = {"demolish": N_("demolish"), "convert": N_("convert"),
                  "new_build": N_("new build")}
#: An action once accepted, as figures and the progress chart count it.
TOILET_ACTIONS_DONE = {"demolish": N_("Demolished"), "convert": N_("Converted"),
                       "new_build": N_("New-built")}
TOILET_STATUSES = {"planned": N_("planned"), "in_progress": N_("in progress"),
                   "accepted": N_("accepted")}
#: Household sanitary toilet types of GB 19379.
SANITARY_TYPES = {
    "three_compartment": N_("three-compartment septic tank"), "double_urn": N_("double urn"),
    "biogas": N_("biogas digester"), "urine_diverting": N_("urine-diverting"),
    "double_pit": N_("double pit"), "sewer_flush": N_("flush to sewer"),
}
#: The five facilities a flush toilet must have.
FACILITIES = {"heating": N_("heating"), "power": N_("power"), "water": N_("water"),
              "sewage": N_("sewage"), "ventilation": N_("ventilation")}
YES_NO = {True: N_("yes"), False: N_("no")}

#: The coded fields of a toilet record and their vocabularies.
TOILET_VALUES = {"kind": TOILET_KINDS, "original_type": TOILET_ORIGINAL_TYPES,
                 "action": TOILET_ACTIONS, "status": TOILET_STATUSES,
                 "sanitary_type": SANITARY_TYPES}

#: A toilet record's fields, as forms, pages and the ledger's headers name them.
TOILET_FIELDS = {
    "code": N_("Code"), "name": N_("Name"), "kind": N_("Kind"), "address": N_("Address"),
    "lon": N_("Longitude"), "lat": N_("Latitude"), "original_type": N_("Original type"),
    "action": N_("Action"), "status": N_("Status"), "planned_at": N_("Planned"),
    "started_at": N_("Started"), "accepted_at": N_("Accepted"), **FACILITIES,
    "sanitary_type": N_("Sanitary type"), "photos": N_("Photos"),
}


def label(vocabulary, code, translate=None):
    """``code``'s label in ``vocabulary``, through ``translate`` (e.g. a gettext).

    An empty code gives ``""``; a code without a label is returned as it is
    (data from an older version stays readable).
    """
    if code is None or code == "":
        return ""
    text = vocabulary.get(code)
    if text is None:
        return code
    return translate(text) if translate else text
