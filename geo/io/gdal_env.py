"""GDAL settings for the whole process: only the drivers civgrid reads, and no network.

GDAL picks a driver by a file's content, not by its name, and several of its
drivers follow references inside a file: a VRT names other files or URLs
(``CSV:/etc/shadow``, ``/vsicurl/http://…``), a GeoJSON ``crs`` link is fetched.
:mod:`geo.readers` checks every uploaded or imported file's content before
GDAL sees it (the primary defence); this module is the second one, applied
once when :mod:`geo.readers` is imported:

* every vector driver but GeoJSON, GeoPackage and ESRI Shapefile is
  unregistered (``GDAL_SKIP``), so no file can reach the VRT, CSV, HTTP, WFS, …
  drivers whatever it contains;
* ``/vsicurl/`` and the cloud file systems built on it accept no file name
  (``CPL_VSIL_CURL_ALLOWED_EXTENSIONS``);
* every other HTTP request GDAL would make (``CPLHTTPFetch``: a GeoJSON ``crs``
  link, OGC services) is answered by a callback that refuses it.

tests/test_hostile_files.py checks each of these against a local listener.
"""

import ctypes
import ctypes.util
import logging

import pyogrio

log = logging.getLogger(__name__)

#: The only GDAL drivers civgrid uses (CSV is read by civgrid itself).
ALLOWED_DRIVERS = ("GeoJSON", "GPKG", "ESRI Shapefile")
#: Drivers skipped even if pyogrio does not list them (raster VRT can nest vector VRTs).
ALWAYS_SKIPPED = ("VRT", "OGR_VRT", "GDALG", "HTTP", "MEM")

_fetch_callback = None  # kept alive: GDAL holds a pointer to it


def skipped_drivers():
    return sorted((set(pyogrio.list_drivers()) | set(ALWAYS_SKIPPED)) - set(ALLOWED_DRIVERS))


def _skip_drivers():
    # GDAL_SKIP is honoured by GDALAllRegister(), which pyogrio ran at import;
    # running it again drops the skipped drivers. Comma-separated, since some
    # driver names contain spaces ("MapInfo File").
    pyogrio.set_gdal_config_options({"GDAL_SKIP": ",".join(skipped_drivers())})
    from pyogrio._ogr import _register_drivers

    _register_drivers()
    left = set(pyogrio.list_drivers()) - set(ALLOWED_DRIVERS)
    if left:
        raise RuntimeError(f"GDAL drivers still registered after GDAL_SKIP: {sorted(left)}")


def _libgdal():
    """The libgdal this process loaded (pyogrio's bundled one or the system's)."""
    import pyogrio._io  # noqa: F401  (loads libgdal)

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = [line.split(None, 5)[-1].strip() for line in maps if "libgdal" in line]
    except OSError:
        paths = []
    paths = [p for p in paths if p.startswith("/")]
    if not paths:
        name = ctypes.util.find_library("gdal")
        paths = [name] if name else []
    return ctypes.CDLL(paths[0]) if paths else None


class _HTTPResult(ctypes.Structure):
    """GDAL's CPLHTTPResult (cpl_http.h)."""

    _fields_ = [("nStatus", ctypes.c_int), ("pszContentType", ctypes.c_void_p),
                ("pszErrBuf", ctypes.c_void_p), ("nDataLen", ctypes.c_int),
                ("nDataAlloc", ctypes.c_int), ("pabyData", ctypes.c_void_p),
                ("papszHeaders", ctypes.c_void_p), ("nMimePartCount", ctypes.c_int),
                ("pasMimePart", ctypes.c_void_p)]


def _refuse_http():
    """Answer every CPLHTTPFetch with an error, without touching the network."""
    global _fetch_callback
    lib = _libgdal()
    if lib is None or not hasattr(lib, "CPLHTTPSetFetchCallback"):
        log.warning("cannot find libgdal's CPLHTTPSetFetchCallback; GDAL HTTP stays enabled")
        return
    lib.CPLCalloc.restype = ctypes.c_void_p
    lib.CPLCalloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    lib.CPLStrdup.restype = ctypes.c_void_p
    lib.CPLStrdup.argtypes = [ctypes.c_char_p]
    proto = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                             ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                             ctypes.c_void_p, ctypes.c_void_p)

    def refuse(url, options, progress, progress_arg, write, write_arg, user_data):
        # Allocated by GDAL's allocator: the caller frees it with CPLHTTPDestroyResult.
        result = lib.CPLCalloc(1, ctypes.sizeof(_HTTPResult))
        fields = _HTTPResult.from_address(result)
        fields.nStatus = 1
        fields.pszErrBuf = lib.CPLStrdup(b"network access is disabled in civgrid")
        return result

    _fetch_callback = proto(refuse)
    lib.CPLHTTPSetFetchCallback.argtypes = [proto, ctypes.c_void_p]
    lib.CPLHTTPSetFetchCallback(_fetch_callback, None)


def configure():
    pyogrio.set_gdal_config_options({
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": "{civgrid-network-disabled}",
        "GDAL_HTTP_MAX_RETRY": "0",
        "GDAL_VRT_ENABLE_PYTHON": "NO",
        "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",
    })
    _skip_drivers()
    _refuse_http()


configure()
