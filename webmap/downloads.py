"""Downloads: a file sent as an attachment under a name a browser keeps, Chinese or not."""

from urllib.parse import quote

from flask import send_file

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(buffer, name, ascii_name, mimetype):
    """``buffer`` as a download named ``name`` (e.g. 一户一档.xlsx), ``ascii_name`` for
    clients that cannot read a UTF-8 file name (RFC 6266 ``filename*``, RFC 5987)."""
    buffer.seek(0)
    resp = send_file(buffer, as_attachment=True, download_name=name, mimetype=mimetype)
    if not name.isascii():  # Werkzeug's ASCII fallback would be a bare ".xlsx"
        resp.headers["Content-Disposition"] = (
            f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(name)}")
    return resp
