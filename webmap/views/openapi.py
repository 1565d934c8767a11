"""The OpenAPI 3 description served at /api/v1/openapi.json."""

from geo.issues import records as issues_mod
from geo.issues.query import DEFAULT_SORT, SORTS


def _param(name, description, schema=None, required=False):
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


def _array(values):
    return {"type": "string", "description": "comma-separated: " + ", ".join(values)}


CRS_PARAM = _param("crs", "coordinates of the answer: cgcs2000 (default) or gcj02 (display on"
                          " GCJ-02 tiles)")
FILTERS = [
    _param("category", "category codes (5 digits), comma-separated"),
    _param("group", "category group codes (2 digits), comma-separated"),
    _param("status", "statuses", _array(("open",) + issues_mod.STATUSES)),
    _param("source", "source channels", _array(issues_mod.SOURCES)),
    _param("from", "reported on or after (YYYY-MM-DD, Asia/Shanghai)", {"type": "string", "format": "date"}),
    _param("to", "reported on or before (YYYY-MM-DD)", {"type": "string", "format": "date"}),
    _param("street", "15-digit street code"),
    _param("community", "15-digit community code"),
    _param("grid", "15-digit grid code"),
    _param("q", "text in ref, description or address"),
    _param("bbox", "minlon,minlat,maxlon,maxlat (EPSG:4490)"),
    _param("overdue", "1: only overdue issues (open and past their deadline)",
           {"type": "string", "enum": ["1", "0"]}),
    CRS_PARAM,
]
SORT = _param("sort", "order: reported time, deadline or grid code; a leading - sorts"
                      " descending; ties are broken by id in the same direction; issues"
                      " without a deadline or grid come last",
              {"type": "string", "enum": list(SORTS), "default": DEFAULT_SORT})
PAGING = [
    _param("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
    _param("offset", "rows to skip", {"type": "integer", "minimum": 0, "default": 0}),
]
BAD = {"description": "a parameter is wrong; the message names it",
       "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
#: The fields of a workflow step (``/issues/{id}/actions``).
STEP = {"type": "object", "required": ["action"], "properties": {
    "action": {"type": "string"}, "note": {"type": "string"}, "department": {"type": "string"},
    "deadline_to": {"type": "string", "description": "YYYY-MM-DD HH:MM, Beijing time"}}}
GEOJSON = {"description": "GeoJSON FeatureCollection",
           "content": {"application/geo+json": {"schema": {"type": "object"}}}}


def spec():
    return {
        "openapi": "3.0.3",
        "info": {"title": "civgrid API", "version": "1",
                 "description": "Grids and issues of a district (CGCS2000 lon/lat, EPSG:4490)."},
        "paths": {
            "/api/v1/issues": {"get": {
                "summary": "Issues as GeoJSON points, newest first unless sorted",
                "parameters": FILTERS + [SORT] + PAGING,
                "responses": {"200": GEOJSON, "400": BAD}}},
            "/api/v1/issues/{id}": {"get": {
                "summary": "One issue with its history",
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "integer"}}, CRS_PARAM],
                "responses": {"200": GEOJSON, "400": BAD, "404": BAD}}},
            "/api/v1/issues/{id}/actions": {"post": {
                "summary": "Take one workflow step on a case (file, dispatch, accept, close…):"
                           " the account's role and scope decide; refused steps answer 400"
                           " with the steps the case allows now",
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "integer"}}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": STEP},
                    "multipart/form-data": {"schema": {**STEP, "properties": {
                        **STEP["properties"],
                        "photo": {"type": "array", "items": {"type": "string",
                                                             "format": "binary"},
                                  "description": "photos (JPEG, PNG, WebP, GIF, BMP, TIFF;"
                                                 " at most 20 MB and 50 megapixels each;"
                                                 " re-encoded, location removed): the after photo of feed_back,"
                                                 " refused on any other step"}}}}}},
                "responses": {"200": {"description": "the case's new status and allowed steps"},
                              "400": BAD, "403": BAD, "404": BAD}}},
            "/api/v1/issues/clusters": {"get": {
                "summary": "Issues in a bbox grouped by PostGIS on a zoom-dependent lattice",
                "parameters": FILTERS + [_param("zoom", "map zoom 0–22", {"type": "integer"}, True)],
                "responses": {"200": GEOJSON, "400": BAD}}},
            "/api/v1/basemap": {"get": {
                "summary": "The district's own base map: blocks (kind=block) and street"
                           " outlines (kind=street, name), drawn when no tile server is set",
                "parameters": [CRS_PARAM],
                "responses": {"200": GEOJSON, "400": BAD}}},
            "/api/v1/heat": {"get": {
                "summary": "Binned heat weights [lat, lon, count]",
                "parameters": FILTERS + [_param("cell", "cell size in metres (20–5000)",
                                                {"type": "integer", "default": 100})],
                "responses": {"200": {"description": "bins"}, "400": BAD}}},
            "/api/v1/grids": {"get": {
                "summary": "Grids of the active version (or another) as GeoJSON",
                "parameters": [
                    _param("level", "street, community or grid"),
                    _param("q", "code prefix or name part"),
                    _param("bbox", "minlon,minlat,maxlon,maxlat"),
                    _param("version", "grid version id", {"type": "integer"}),
                    _param("limit", "page size", {"type": "integer", "maximum": 5000}),
                    _param("offset", "rows to skip", {"type": "integer"})],
                "responses": {"200": GEOJSON, "400": BAD}}},
            "/api/v1/grids/{code}": {"get": {
                "summary": "One grid with neighbours and figures",
                "parameters": [{"name": "code", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": "^[0-9]{15}$"}}],
                "responses": {"200": GEOJSON, "404": BAD}}},
            "/api/v1/grids/{code}/stats": {"get": {
                "summary": "Figures of one grid",
                "parameters": [{"name": "code", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "figures"}, "404": BAD}}},
            "/api/v1/stats/grids": {"get": {
                "summary": "Filtered counts for every grid (total, open, overdue, density)",
                "parameters": FILTERS[:-1],
                "responses": {"200": {"description": "per-grid counts"}, "400": BAD}}},
        },
        # Every call needs a session or an API token (README, *Accounts and permissions*).
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "a token from `civgrid tokens add` (401 without one)"}},
            "schemas": {"Error": {
            "type": "object",
            "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}}},
    }
