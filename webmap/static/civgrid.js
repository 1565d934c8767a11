/* civgrid's own page scripts: legend, server-side clusters, heat animation.
   Served by the app; no third-party code beyond Leaflet and leaflet.heat. */
"use strict";

/* fetch() for a request that may change something (not GET, HEAD or OPTIONS): it sends
   the page's CSRF token (<meta name="csrf-token">) in the X-CSRFToken header, which the
   server requires of every cookie-authenticated write (webmap/security.py). */
function civgridFetch(url, options) {
  options = Object.assign({credentials: "same-origin"}, options || {});
  var method = (options.method || "GET").toUpperCase();
  if (["GET", "HEAD", "OPTIONS"].indexOf(method) < 0) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    options.headers = new Headers(options.headers || {});
    if (meta) options.headers.set("X-CSRFToken", meta.content);
  }
  return fetch(url, options);
}

function civgridLegend(map, html) {
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "cg-legend");
    div.innerHTML = html;  // built and escaped on the server
    return div;
  };
  legend.addTo(map);
}

/* The district's own base map, for maps without tiles (the default): blocks as light
   grey fills, so the roads are the white gaps between them, and the streets' outlines,
   all from this server. Drawn in a pane under every overlay, never interactive; the
   blocks on one canvas (there can be thousands), the few street outlines as SVG paths. */
function civgridBase(map, cfg) {
  var pane = map.getPane("cgBase") || map.createPane("cgBase");
  pane.style.zIndex = 250;  // above tiles (200), below overlays (400)
  pane.style.pointerEvents = "none";
  var container = map.getContainer();
  container.style.background = "#fcfcfb";
  container.setAttribute("data-base", "district");
  fetch(cfg.url).then(function (r) { return r.json(); }).then(function (fc) {
    var blocks = fc.features.filter(function (f) { return f.properties.kind === "block"; });
    var streets = fc.features.filter(function (f) { return f.properties.kind === "street"; });
    L.geoJSON(blocks, {renderer: L.canvas({pane: "cgBase"}), interactive: false,
      style: {color: "#ffffff", weight: 1.5, fillColor: "#dde0e4", fillOpacity: 1}}).addTo(map);
    L.geoJSON(streets, {renderer: L.svg({pane: "cgBase"}), interactive: false,
      style: {className: "cg-base-street", color: "#8e979f", weight: 1.6, dashArray: "6 4",
              fill: !blocks.length, fillColor: "#eef0f2", fillOpacity: 1}}).addTo(map);
    container.setAttribute("data-base-blocks", String(blocks.length));
    container.setAttribute("data-base-streets", String(streets.length));
  }).catch(function (e) { console.warn(e); });
}

/* Zoomed in, replace the heatmap's blur with the issues themselves: clusters
   counted by PostGIS for the visible box, single issues as markers. */
function civgridClusters(map, cfg) {
  var layer = L.layerGroup().addTo(map);
  var pending = null;
  var fetched = null;  // {bounds, zoom} of what the layer shows
  function refresh() {
    showLegend(map.getZoom() >= cfg.minZoom);
    if (map.getZoom() < cfg.minZoom) { layer.clearLayers(); fetched = null; return; }
    // A small pan (e.g. a popup opening) inside what is already shown needs no new query.
    if (fetched && fetched.zoom === map.getZoom() && fetched.bounds.contains(map.getBounds())) return;
    // On GCJ-02 tiles the box is in GCJ-02 too; crs=gcj02 makes the server convert both ways.
    var b = map.getBounds().pad(0.25);
    var want = {bounds: b, zoom: map.getZoom()};
    var url = cfg.api + "?bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
      return v.toFixed(6); }).join(",") + "&zoom=" + map.getZoom() +
      (cfg.crs === "gcj02" ? "&crs=gcj02" : "") + (cfg.query ? "&" + cfg.query : "");
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(url, {signal: pending.signal}).then(function (r) { return r.json(); })
      .then(function (fc) {
        layer.clearLayers();
        fetched = want;
        fc.features.forEach(function (f) {
          var ll = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
          var n = f.properties.count;
          if (n === 1) {
            var m = L.circleMarker(ll, markerStyle(f.properties));
            m.bindPopup("…", {maxWidth: 320, minWidth: 240});
            m.on("popupopen", function (e) { issuePopup(f.properties.id, e.popup); });
            m.addTo(layer);
          } else {
            var size = 26 + Math.min(24, Math.round(Math.log(n) * 4));
            var icon = L.divIcon({className: "cg-cluster", iconSize: [size, size],
                                  html: "<span>" + String(Number(n)) + "</span>"});
            L.marker(ll, {icon: icon, title: n + " " + cfg.labels.issues})
              .on("click", function () { map.setView(ll, Math.min(map.getZoom() + 2, 19)); })
              .addTo(layer);
          }
        });
      }).catch(function (e) { if (e.name !== "AbortError") console.warn(e); });
  }
  /* A single issue, drawn by status: cfg.markers is the server's table
     (webmap/maps/issues.py MARKER_STYLES): open by deadline light, closed hollow. */
  function markerStyle(p) {
    var kind = cfg.openStatuses.indexOf(p.status) < 0 ? "closed" : (p.light || "open");
    return L.extend({className: "cg-issue cg-issue-" + kind + " cg-issue-id-" + p.id},
                    cfg.markers[kind]);
  }
  /* The markers' legend, shown while the markers are. */
  var legend = L.control({position: "bottomleft"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "cg-legend cg-marker-legend");
    div.innerHTML = cfg.legend;  // built and escaped on the server
    return div;
  };
  var legendShown = false;
  function showLegend(on) {
    if (on === legendShown) return;
    if (on) legend.addTo(map); else legend.remove();
    legendShown = on;
  }
  /* The popup of one issue: fetched when opened, every value set as text. */
  function issuePopup(id, popup) {
    var box = document.createElement("div");
    var table = document.createElement("table");
    table.className = "cg-popup";
    box.appendChild(table);
    var a = document.createElement("a");
    a.href = cfg.detail + id;
    a.textContent = cfg.labels.open + " →";
    box.appendChild(a);
    popup.setContent(box);
    fetch("/api/v1/issues/" + id + (cfg.lang ? "?lang=" + cfg.lang : ""))
      .then(function (r) { return r.json(); })
      .then(function (f) {
        var p = f.properties;
        [[cfg.labels.category, p.category + " " + (cfg.lang === "en" ? p.category_en : p.category_zh)],
         [cfg.labels.status, (cfg.statuses[p.status] || p.status)],
         [cfg.labels.reported, (p.reported_at || "").replace("T", " ").slice(0, 16)],
         [cfg.labels.description, p.description || ""],
         [cfg.labels.grid, p.grid_name || "–"]].forEach(function (row) {
          var tr = table.insertRow(), th = document.createElement("th"), td = tr.insertCell();
          th.textContent = row[0];
          tr.insertBefore(th, td);
          td.textContent = row[1];
        });
        popup.update();  // resize and pan now that the content is there
      });
  }
  map.on("moveend", refresh);
  refresh();
}

/* A leaflet.heat layer whose drawn intensity follows the counts.

   cfg: {lattice: cells per degree of the counts, cells: [[lat, lon, n], …],
         gradient: {stop: colour}, texts: {title, scale, issues}}.
   At each zoom the lattice cells are merged into coarser cells (2, 4, … of them a
   side) until a cell is at least MIN_PX pixels wide, and each merged cell is drawn
   as one point of weight sqrt(n / busiest) with a brush about one cell wide: the
   busiest cell is drawn at full intensity, a cell of a quarter of its count at half,
   and a cell barely touches its neighbours, so what a place shows is its own count.
   (leaflet.heat would otherwise divide every weight by 2 per zoom level below its
   maxZoom and add up the points that share a cell of radius/2 pixels.) The legend
   names the counts each colour stands for at the current zoom.
   Returns {set(cells)}: draw other counts (a frame of the animation). */
var CIVGRID_HEAT_MIN_PX = 10;
function civgridHeat(map, heat, cfg) {
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () { return L.DomUtil.create("div", "cg-legend cg-heat-legend"); };
  var state = {cells: cfg.cells || [], shown: false};
  var stops = Object.keys(cfg.gradient).map(function (k) { return [Number(k), cfg.gradient[k]]; })
    .sort(function (a, b) { return a[0] - b[0]; });
  // leaflet.heat draws in the next animation frame and does not cancel it when the
  // layer is removed meanwhile (the overview's switch can do that): skip such a frame.
  var draw = heat._redraw;
  heat._redraw = function () { if (this._map) draw.call(this); else this._frame = null; };
  heat.setOptions({gradient: cfg.gradient, max: 1, maxZoom: 0, minOpacity: 0.05});

  function colour(t) {  // the gradient's colour at t in [0, 1], as simpleheat paints it
    var hex = function (c) { return [1, 3, 5].map(function (i) { return parseInt(c.slice(i, i + 2), 16); }); };
    if (t <= stops[0][0]) return hex(stops[0][1]);
    for (var i = 1; i < stops.length; i++) {
      if (t <= stops[i][0]) {
        var a = hex(stops[i - 1][1]), b = hex(stops[i][1]);
        var f = (t - stops[i - 1][0]) / (stops[i][0] - stops[i - 1][0]);
        return a.map(function (v, k) { return Math.round(v + (b[k] - v) * f); });
      }
    }
    return hex(stops[stops.length - 1][1]);
  }
  function redraw() {
    if (!map.hasLayer(heat)) return;  // drawn again when added back (below)
    var px = 256 * Math.pow(2, map.getZoom()) / 360 / cfg.lattice;  // a lattice cell, in px
    var merge = 1;
    while (px * merge < CIVGRID_HEAT_MIN_PX) merge *= 2;
    var per = cfg.lattice / merge, bins = {}, top = 0;
    state.cells.forEach(function (c) {
      var key = Math.floor(c[0] * per) + ":" + Math.floor(c[1] * per);
      var b = bins[key] || (bins[key] = [(Math.floor(c[0] * per) + 0.5) / per,
                                         (Math.floor(c[1] * per) + 0.5) / per, 0]);
      b[2] += c[2];
      if (b[2] > top) top = b[2];
    });
    var points = [];
    Object.keys(bins).forEach(function (k) {
      var b = bins[k];
      points.push([b[0], b[1], Math.sqrt(b[2] / top)]);
    });
    var side = px * merge;
    heat.setOptions({radius: Math.max(2, side * 0.6), blur: Math.max(2, side * 0.5)});
    heat.setLatLngs(points);
    var lat = map.getCenter().lat * Math.PI / 180;
    var metres = Math.round(111320 * merge / cfg.lattice * Math.sqrt(Math.cos(lat)) / 10) * 10;
    var div = legend.getContainer();
    if (!div) return;
    div.textContent = "";
    var title = document.createElement("b");
    title.textContent = cfg.texts.title.replace("{m}", metres);
    div.appendChild(title);
    [1, 0.75, 0.5, 0.25].forEach(function (a) {
      var row = document.createElement("div"), swatch = document.createElement("i");
      swatch.style.background = "rgba(" + colour(a).join(",") + "," + a + ")";
      swatch.style.opacity = 1;
      row.appendChild(swatch);
      var n = top ? Math.max(1, Math.round(a * a * top)) : 0;
      row.appendChild(document.createTextNode((a === 1 ? "" : "≈ ") + n + " " + cfg.texts.issues));
      div.appendChild(row);
    });
    var note = document.createElement("small");
    note.textContent = cfg.texts.scale;
    div.appendChild(note);
    div.setAttribute("data-busiest", String(top));
    div.setAttribute("data-cell-m", String(metres));
    div.setAttribute("data-lattice", String(per));
  }
  map.on("zoomend", redraw);
  heat.on("add", redraw);
  var api = {
    set: function (cells) { state.cells = cells; redraw(); },
    showLegend: function (on) {
      if (on && !state.shown) { legend.addTo(map); redraw(); }
      if (!on && state.shown) legend.remove();
      state.shown = on;
    }
  };
  api.showLegend(true);
  return api;
}

/* The overview colours the map either by the heat or by the grids' measure, never both
   (the two palettes would mix into colours no legend explains). A small control
   switches between them; the choice is remembered in the browser. With the heat on,
   the grids stay as outlines that open their popups. */
function civgridColourBy(map, heat, grids, heatApi, cfg) {
  var fill = grids.options.style;
  var mode = null;
  var gridLegend = L.control({position: "bottomright"});
  gridLegend.onAdd = function () {
    var div = L.DomUtil.create("div", "cg-legend cg-grid-legend");
    div.innerHTML = cfg.gridLegend;  // built and escaped on the server
    return div;
  };
  var box = L.control({position: "topright"});
  box.onAdd = function () {
    var div = L.DomUtil.create("div", "cg-colour-by leaflet-control-layers");
    div.style.padding = "4px 10px";
    var title = document.createElement("b");
    title.textContent = cfg.texts.title;
    div.appendChild(title);
    [["heat", cfg.texts.heat], ["grids", cfg.texts.grids]].forEach(function (o) {
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "radio"; input.name = "cg-colour-by"; input.value = o[0];
      input.addEventListener("change", function () { set(o[0]); });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + o[1]));
      div.appendChild(label);
    });
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  box.addTo(map);
  function set(want) {
    mode = want;
    try { window.localStorage.setItem("civgrid.colourBy", want); } catch (e) { /* private mode */ }
    box.getContainer().querySelectorAll("input").forEach(function (i) { i.checked = i.value === want; });
    grids.options.style = function (f) {
      var s = L.extend({}, fill(f));
      if (want === "heat") { s.fillOpacity = 0; s.color = "#566573"; s.weight = 0.8; }
      return s;
    };
    grids.eachLayer(function (l) { grids.resetStyle(l); });
    if (want === "heat") {
      if (!map.hasLayer(heat)) heat.addTo(map);
      gridLegend.remove();
      heatApi.showLegend(true);
    } else {
      if (map.hasLayer(heat)) map.removeLayer(heat);
      heatApi.showLegend(false);
      gridLegend.addTo(map);
    }
    map.getContainer().setAttribute("data-colour-by", want);
  }
  var saved = null;
  try { saved = window.localStorage.getItem("civgrid.colourBy"); } catch (e) { /* private mode */ }
  set(saved === "grids" ? "grids" : "heat");
}

/* Step a civgridHeat through per-period frames, with a slider and play.
   data: {labels: [...], cells: [[lat, lon], ...], frames: [[cell, count, ...], ...]}. */
function civgridHeatAnimation(map, heat, data, cfg) {
  var heatApi = civgridHeat(map, heat, L.extend({cells: []}, cfg));
  var box = L.control({position: "bottomleft"});
  var state = {i: 0, timer: null};
  box.onAdd = function () {
    var div = L.DomUtil.create("div", "cg-player");
    div.innerHTML = '<button type="button" class="cg-play">▶</button>' +
      '<input type="range" class="cg-slider" min="0" value="0">' +
      '<span class="cg-period"></span>';
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  box.addTo(map);
  var root = box.getContainer();
  var slider = root.querySelector(".cg-slider");
  var label = root.querySelector(".cg-period");
  var button = root.querySelector(".cg-play");
  slider.max = Math.max(0, data.frames.length - 1);
  function points(flat) {  // [cell, count, cell, count, …] → [[lat, lon, count], …]
    var out = [];
    for (var k = 0; k + 1 < flat.length; k += 2) {
      var cell = data.cells[flat[k]];
      out.push([cell[0], cell[1], flat[k + 1]]);
    }
    return out;
  }
  function show(i) {
    state.i = i;
    slider.value = i;
    label.textContent = data.labels[i] || "";
    var shown = points(data.frames[i] || []);
    heatApi.set(shown);
    root.setAttribute("data-frame", String(i));
    root.setAttribute("data-points", String(shown.length));
  }
  slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
  button.addEventListener("click", function () {
    if (state.timer) { clearInterval(state.timer); state.timer = null; button.textContent = "▶"; return; }
    button.textContent = "❚❚";
    state.timer = setInterval(function () {
      show((state.i + 1) % Math.max(1, data.frames.length));
    }, 700);
  });
  show(0);
}

/* Keep the last drawn or edited shape (GeoJSON geometry) in a form field, for the
   planner's split and re-draw forms. When the loaded grid (civgridEditShape) is edited,
   the field gets all its parts together, as a Polygon or MultiPolygon. */
function civgridDrawTo(map, inputId, group) {
  function put(geometry) {
    var input = document.getElementById(inputId);
    if (input) input.value = JSON.stringify(geometry);
  }
  function loaded() {
    var parts = [];
    group.eachLayer(function (layer) {
      if (layer.cgLoaded) parts.push(layer.toGeoJSON().geometry.coordinates);
    });
    return parts.length === 1 ? {type: "Polygon", coordinates: parts[0]}
                              : {type: "MultiPolygon", coordinates: parts};
  }
  map.on("draw:created", function (e) { put(e.layer.toGeoJSON().geometry); });
  map.on("draw:edited", function (e) {
    var last = null, loadedEdited = false;
    e.layers.eachLayer(function (layer) {
      if (layer.cgLoaded) loadedEdited = true; else last = layer;
    });
    if (loadedEdited) put(loaded());
    else if (last) put(last.toGeoJSON().geometry);
  });
}

/* Put a grid's shape (GeoJSON Polygon or MultiPolygon, lon/lat) into Leaflet.draw's edit
   group as one L.Polygon per part, holes kept: the edit tool gives them vertex handles. */
function civgridEditShape(group, geometry) {
  var parts = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
  parts.forEach(function (rings) {
    var latlngs = rings.map(function (ring) {
      return ring.slice(0, -1).map(function (c) { return [c[1], c[0]]; });  // open ring
    });
    var polygon = L.polygon(latlngs, {color: "#2471a3", weight: 3, fillOpacity: 0.1});
    polygon.cgLoaded = true;
    group.addLayer(polygon);
  });
}

/* Planner forms: ask before what cannot be taken back (data-confirm holds the question),
   and hand the drawn shape to the forms that need one. */
document.addEventListener("submit", function (e) {
  var form = e.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    e.preventDefault();
    return;
  }
  if (form.classList.contains("cg-drawn-form")) {
    var drawn = document.getElementById("drawn-geometry");
    form.querySelector(".cg-drawn").value = drawn ? drawn.value : "";
  }
});

// Leaflet.draw's toolbar and tooltips in the page's language: merge the translated
// texts into L.drawLocal before the draw control is built.
function civgridDrawLocal(texts) {
  function merge(into, from) {
    Object.keys(from).forEach(function (k) {
      if (from[k] && typeof from[k] === "object") merge(into[k] = into[k] || {}, from[k]);
      else into[k] = from[k];
    });
  }
  if (window.L && L.drawLocal) merge(L.drawLocal, texts);
}

/* The toilet records of the coverage map, from compact rows (the page stays light):
   data.rows: [[code, name, kind, action, status, lat, lon, thumbnail URL], …].
   Public: large with a thick blue ring; household: small; fill = status. The popup is
   built when opened, every value set as text. */
function civgridToilets(layer, data) {
  var L_ = data.labels;
  data.rows.forEach(function (r) {
    var pub = r[2] === "public";
    var m = L.circleMarker([r[5], r[6]], {
      radius: pub ? 8 : 4, weight: pub ? 3 : 1, color: pub ? "#1f618d" : "#2c3e50",
      fill: true, fillColor: data.colours[r[4]] || "#7f8c8d", fillOpacity: 0.9});
    m.bindPopup(function () {
      var box = document.createElement("div");
      var table = document.createElement("table");
      table.className = "cg-popup";
      [[L_.code, r[0]], [L_.name, r[1]], [L_.kind, data.words.kind[r[2]] || r[2]],
       [L_.action, data.words.action[r[3]] || ""], [L_.status, data.words.status[r[4]] || r[4]]
      ].forEach(function (row) {
        var tr = table.insertRow(), th = document.createElement("th"), td = tr.insertCell();
        th.textContent = row[0];
        tr.insertBefore(th, td);
        td.textContent = row[1];
      });
      box.appendChild(table);
      if (r[7]) {
        var img = document.createElement("img");
        img.src = r[7];
        img.alt = L_.photo;
        img.className = "cg-thumb";
        box.appendChild(img);
      }
      var a = document.createElement("a");
      a.href = "/toilets/" + encodeURIComponent(r[0]);
      a.textContent = L_.open + " →";
      box.appendChild(a);
      return box;
    }, {maxWidth: 300});
    m.addTo(layer);
  });
}

/* A small map on the toilet form: a click puts its lon/lat into the form's inputs
   (7 decimals, ~1 cm) and the CRS of the tiles into the crs field (gcj02 on GCJ-02
   tiles, empty otherwise); typing coordinates by hand clears it again. */
function civgridPicker(map, cfg) {
  var lon = document.getElementById(cfg.lon), lat = document.getElementById(cfg.lat);
  var crs = document.getElementById(cfg.crs);
  var marker = null;
  function place(ll) {
    if (marker) marker.setLatLng(ll);
    else marker = L.marker(ll, {title: "picked"}).addTo(map);
  }
  map.on("click", function (e) {
    lon.value = e.latlng.lng.toFixed(7);
    lat.value = e.latlng.lat.toFixed(7);
    if (crs) crs.value = cfg.clickCrs;
    place(e.latlng);
  });
  [lon, lat].forEach(function (el) {
    el.addEventListener("input", function () { if (crs) crs.value = ""; });
  });
  if (cfg.start) { place(cfg.start); map.setView(cfg.start, 16); }
}

/* WGS84 → GCJ-02, the published forward formula (as geo.io.crs.wgs84_to_gcj02): a
   phone's GPS position, drawn on GCJ-02 tiles, must be shifted as every overlay is. */
function civgridToGcj02(lon, lat) {
  var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;
  var x = lon - 105.0, y = lat - 35.0;
  var dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  dlat += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
  dlat += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
  dlat += (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
  var dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  dlon += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
  dlon += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
  dlon += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
  var radlat = lat / 180.0 * PI, magic = 1 - EE * Math.sin(radlat) * Math.sin(radlat);
  var sqrtmagic = Math.sqrt(magic);
  dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * PI);
  dlon = (dlon * 180.0) / (A / sqrtmagic * Math.cos(radlat) * PI);
  return [lon + dlon, lat + dlat];
}

/* The field report's map (report.html): the phone's GPS position (navigator.geolocation,
   WGS84 = CGCS2000 for our purpose, so crs stays empty) or, failing that, a tap on the
   map (on GCJ-02 tiles a tap is GCJ-02: crs=gcj02). Either way the marker shows where
   the report will be, and the status line says which source the position came from. */
function civgridReport(map, cfg) {
  var lon = document.getElementById(cfg.lon), lat = document.getElementById(cfg.lat);
  var crs = document.getElementById(cfg.crs), status = document.getElementById(cfg.status);
  var button = document.getElementById(cfg.locate), marker = null;
  function place(ll, zoom) {
    if (marker) marker.setLatLng(ll);
    else marker = L.marker(ll, {title: "report"}).addTo(map);
    map.setView(ll, Math.max(map.getZoom(), zoom || 16));
  }
  function say(text, bad) {
    status.textContent = text;
    status.className = "small " + (bad ? "text-danger" : "text-success");
  }
  map.on("click", function (e) {
    lon.value = e.latlng.lng.toFixed(7);
    lat.value = e.latlng.lat.toFixed(7);
    crs.value = cfg.clickCrs;
    place(e.latlng, map.getZoom());
    say(cfg.text.tapped, false);
  });
  function locate() {
    if (!navigator.geolocation) { say(cfg.text.noGps, true); return; }
    say(cfg.text.locating, false);
    navigator.geolocation.getCurrentPosition(function (pos) {
      var x = pos.coords.longitude, y = pos.coords.latitude;
      lon.value = x.toFixed(7);
      lat.value = y.toFixed(7);
      crs.value = "";
      var shown = cfg.shift === "gcj02" ? civgridToGcj02(x, y) : [x, y];
      place([shown[1], shown[0]], 16);
      say(cfg.text.located.replace("%(m)s", Math.round(pos.coords.accuracy)), false);
    }, function () { say(cfg.text.noGps, true); },
    {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
  }
  button.addEventListener("click", locate);
  if (cfg.start) {
    var s = cfg.start;
    place([s[1], s[0]], 16);
  } else if (cfg.auto) {
    locate();
  }
}

/* On a phone, tables with a header row show each row as a card (civgrid.css);
   label every cell with its column's header so the card still says what is what. */
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("table.table").forEach(function (table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) return;
    var labels = Array.prototype.map.call(head.cells, function (th) {
      return th.textContent.replace(/[▲▼⇅]/g, "").trim();  // without a sortable column's mark
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (tr) {
        Array.prototype.forEach.call(tr.cells, function (td, i) {
          if (labels[i] && !td.hasAttribute("data-label")) td.setAttribute("data-label", labels[i]);
        });
      });
    });
  });
});

/* The citizen's report (citizen_report.html): before the form is sent, ask the server for
   open reports of the same category near the chosen position; when there are some, show
   them ("is it one of these?") and let the citizen follow one (the form's ``follow``) or
   send a new report. Texts from the server are put in with textContent, never as HTML. */
function civgridCitizen(cfg) {
  var form = document.getElementById("citizen-form");
  if (!form) return;
  var box = document.getElementById("cg-suggest"), list = document.getElementById("cg-suggest-list");
  var follow = document.getElementById("follow"), followButton = document.getElementById("cg-follow");
  var checked = false;
  function field(name) { var el = form.elements[name]; return el ? el.value : ""; }
  function send() { checked = true; if (form.requestSubmit) form.requestSubmit(); else form.submit(); }
  function show(found) {
    list.textContent = "";
    found.forEach(function (f) {
      var label = document.createElement("label");
      label.className = "d-block border rounded p-2 mb-1 cg-suggestion";
      var radio = document.createElement("input");
      radio.type = "radio"; radio.name = "cg-pick"; radio.value = f.id; radio.className = "form-check-input me-2";
      radio.addEventListener("change", function () { followButton.disabled = false; });
      label.appendChild(radio);
      var text = document.createElement("span");
      text.textContent = f.description || cfg.text["case"].replace("{id}", f.id);
      label.appendChild(text);
      var meta = document.createElement("span");
      meta.className = "d-block small text-muted";
      meta.textContent = cfg.text.metres.replace("{m}", f.distance_m) + " · " +
        cfg.text.reported.replace("{date}", f.reported) + (f.address ? " · " + f.address : "");
      label.appendChild(meta);
      list.appendChild(label);
    });
    box.classList.remove("d-none");
    document.getElementById("cg-send").classList.add("d-none");  // choose in the box instead
    box.scrollIntoView({block: "nearest"});
  }
  followButton.addEventListener("click", function () {
    var pick = form.querySelector("input[name=cg-pick]:checked");
    if (!pick) return;
    follow.value = pick.value;
    send();
  });
  document.getElementById("cg-new").addEventListener("click", function () { follow.value = ""; send(); });
  form.addEventListener("submit", function (e) {
    if (checked || !field("category") || !field("lon") || !field("lat")) return;  // the server says what is missing
    e.preventDefault();
    var q = new URLSearchParams({category: field("category"), lon: field("lon"), lat: field("lat"), crs: field("crs")});
    fetch(cfg.nearby + "?" + q.toString(), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (found) { if (found.length) show(found); else send(); })
      .catch(function () { send(); });
  });
}
