"""JSON schemas of Open311 GeoReport v2's answers, written from the specification
(wiki.open311.org/GeoReport_v2, *Service Discovery*): field names, types, required
fields, and the values it allows. Each applies to the JSON answer as it is and to the
XML answer read into the same shape by :func:`from_xml` (which knows nothing of
civgrid: it only follows the schema, so a missing or misnamed element fails).

XML keeps no types: :func:`from_xml` turns an element's text into the first of the
schema's types it reads as (an empty element is ``null`` where ``null`` is allowed, else
the empty string), and leaves it a string when none fits, so the schema then refuses it.
"""

import re
import xml.etree.ElementTree as ET

W3_DATETIME = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
               r"(Z|[+-][0-9]{2}:[0-9]{2})$")
# The district's times carry their own offset.
W3_SHANGHAI = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+08:00$"


def _nullable(kind, **extra):
    return {"type": [kind, "null"], **extra}


def _object(properties, required=None):
    return {"type": "object", "properties": properties,
            "required": list(required if required is not None else properties),
            "additionalProperties": False}


def _list(item, root, element):
    return {"type": "array", "items": item, "xml": {"root": root, "item": element}}


SERVICE = _object({
    "service_code": {"type": "string", "pattern": "^[0-9]{5}$"},
    "service_name": {"type": "string", "minLength": 1},
    "description": _nullable("string"),
    "metadata": {"type": "boolean"},
    "type": {"enum": ["realtime", "batch", "blackbox"]},
    "keywords": _nullable("string"),
    "group": _nullable("string"),
}, required=["service_code", "service_name", "metadata", "type"])
SERVICES = _list(SERVICE, "services", "service")

VALUE = _object({"key": {"type": "string"}, "name": {"type": "string"}})
ATTRIBUTE = _object({
    "variable": {"type": "boolean"},
    "code": {"type": "string"},
    "datatype": {"enum": ["string", "number", "datetime", "text", "singlevaluelist",
                          "multivaluelist"]},
    "required": {"type": "boolean"},
    "datatype_description": _nullable("string"),
    "order": {"type": "integer", "minimum": 1},
    "description": {"type": "string"},
    "values": {"type": "array", "items": VALUE, "xml": {"item": "value"}},
}, required=["variable", "code", "datatype", "required", "order", "description"])
SERVICE_DEFINITION = _object({
    "service_code": {"type": "string", "pattern": "^[0-9]{5}$"},
    "attributes": {"type": "array", "items": ATTRIBUTE, "xml": {"item": "attribute"}},
})
SERVICE_DEFINITION["xml"] = {"root": "service_definition"}

REQUEST = _object({
    "service_request_id": {"type": "integer", "minimum": 1},
    "status": {"enum": ["open", "closed"]},
    "status_notes": _nullable("string"),
    "service_name": {"type": "string"},
    "service_code": {"type": "string", "pattern": "^[0-9]{5}$"},
    "description": _nullable("string", maxLength=4000),
    "agency_responsible": _nullable("string"),
    "service_notice": _nullable("string"),
    "requested_datetime": {"type": "string", "pattern": W3_SHANGHAI},
    "updated_datetime": {"type": "string", "pattern": W3_SHANGHAI},
    "expected_datetime": _nullable("string", pattern=W3_SHANGHAI),
    "address": _nullable("string"),
    "address_id": _nullable("string"),
    "zipcode": _nullable("string"),
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
    "long": {"type": "number", "minimum": -180, "maximum": 180},
    "media_url": _nullable("string", pattern="^https?://"),
}, required=["service_request_id", "status", "service_name", "service_code",
             "requested_datetime", "updated_datetime", "lat", "long"])
REQUESTS = _list(REQUEST, "service_requests", "request")

# POST: service_request_id or token, never both ("This should not be returned if …").
CREATED = {
    "type": "object",
    "properties": {"service_request_id": {"type": "integer"},
                   "token": {"type": "string", "minLength": 1},
                   "service_notice": _nullable("string"),
                   "account_id": _nullable("string")},
    "oneOf": [{"required": ["service_request_id"], "not": {"required": ["token"]}},
              {"required": ["token"], "not": {"required": ["service_request_id"]}}],
    "additionalProperties": False,
}
POST_RESPONSE = _list(CREATED, "service_requests", "request")
POST_RESPONSE["minItems"] = POST_RESPONSE["maxItems"] = 1

TOKEN = _object({"service_request_id": {"type": "integer", "minimum": 1},
                 "token": {"type": "string", "minLength": 1}})
TOKENS = _list(TOKEN, "service_requests", "request")

ERROR = _object({"code": {"type": "integer"}, "description": {"type": "string", "minLength": 1}})
ERRORS = _list(ERROR, "errors", "error")
ERRORS["minItems"] = 1

ENDPOINT = _object({
    "specification": {"const": "http://wiki.open311.org/GeoReport_v2"},
    "url": {"type": "string", "pattern": "^https?://"},
    "changeset": {"type": "string", "pattern": W3_DATETIME},
    "type": {"enum": ["production", "test"]},
    "formats": {"type": "array", "items": {"enum": ["text/xml", "application/json"]},
                "contains": {"const": "text/xml"}, "xml": {"item": "format"}},
})
DISCOVERY = _object({
    "changeset": {"type": "string", "pattern": W3_DATETIME},
    "contact": {"type": "string"},
    "key_service": {"type": "string"},
    "endpoints": {"type": "array", "items": ENDPOINT, "minItems": 1,
                  "xml": {"item": "endpoint"}},
}, required=["changeset", "endpoints"])
DISCOVERY["xml"] = {"root": "discovery"}


def _types(schema):
    kind = schema.get("type")
    if kind is None and "enum" in schema:
        return ["string"]
    if kind is None and "const" in schema:
        return ["string"]
    return kind if isinstance(kind, list) else [kind]


def _scalar(text, schema):
    text = text or ""
    kinds = _types(schema)
    if text == "" and "null" in kinds:
        return None
    for kind in kinds:
        if kind == "integer" and re.fullmatch(r"-?[0-9]+", text):
            return int(text)
        if kind == "number" and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", text):
            return float(text)
        if kind == "boolean" and text in ("true", "false"):
            return text == "true"
        if kind == "string":
            return text
    return text  # the schema refuses it


def _read(element, schema):
    if schema.get("type") == "array":
        item = schema["xml"]["item"]
        assert all(child.tag == item for child in element), \
            f"<{element.tag}> holds {[c.tag for c in element]}, not only <{item}>"
        return [_read(child, schema["items"]) for child in element]
    if schema.get("type") == "object":
        out = {}
        for child in element:
            assert child.tag not in out, f"<{child.tag}> twice in <{element.tag}>"
            sub = schema["properties"].get(child.tag, {"type": "string"})
            out[child.tag] = _read(child, sub)
        return out
    assert len(element) == 0, f"<{element.tag}> should hold text, not elements"
    return _scalar(element.text, schema)


def from_xml(text, schema):
    """The XML answer ``text`` read into the shape of ``schema`` (its root element must be
    the one the specification names), after checking the declaration names UTF-8."""
    assert re.match(r'<\?xml version="1\.0" encoding="utf-8"\?>', text, re.IGNORECASE), text[:80]
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == schema["xml"]["root"], f"root <{root.tag}>, not <{schema['xml']['root']}>"
    return _read(root, schema)
