/* civgrid's own page scripts: legend, server-side clusters, heat animation.
   Served by the app; no third-party code beyond Leaflet and leaflet.heat. */
"use strict";

function civgridLegend(map, html) {
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "cg-legend");
    div.innerHTML = html;  // built and escaped on the server
    return div;
  };
  legend.addTo(map);
}

/* Zoomed in, replace the heatmap's blur with the issues themselves: clusters
   counted by PostGIS for the visible box, single issues as markers. */
function civgridClusters(map, cfg) {
  var layer = L.layerGroup().addTo(map);
  var pending = null;
  var fetched = null;  // {bounds, zoom} of what the layer shows
  function refresh() {
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
            var m = L.circleMarker(ll, {radius: 6, color: "#2c3e50", weight: 1,
                                        fillColor: "#e67e22", fillOpacity: 0.9});
            m.bindPopup("…", {maxWidth: 320, minWidth: 240});
            m.on("popupopen", function (e) { issuePopup(f.properties.id, e.popup); });
            m.addTo(layer);
          } else {
            var size = 26 + Math.min(24, Math.round(Math.log(n) * 4));
            var icon = L.divIcon({className: "cg-cluster", iconSize: [size, size],
                                  html: "<span>" + String(n) + "</span>"});
            L.marker(ll, {icon: icon, title: n + " " + cfg.labels.issues})
              .on("click", function () { map.setView(ll, Math.min(map.getZoom() + 2, 19)); })
              .addTo(layer);
          }
        });
      }).catch(function (e) { if (e.name !== "AbortError") console.warn(e); });
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

/* Step a leaflet.heat layer through per-period frames, with a slider and play.
   data: {labels: [...], cells: [[lat, lon], ...], frames: [[cell, weight 1-100, ...], ...]}. */
function civgridHeatAnimation(map, heat, data) {
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
  function points(flat) {  // [cell, weight, cell, weight, …] → [[lat, lon, weight], …]
    var out = [];
    for (var k = 0; k + 1 < flat.length; k += 2) {
      var cell = data.cells[flat[k]];
      out.push([cell[0], cell[1], flat[k + 1] / 100]);
    }
    return out;
  }
  function show(i) {
    state.i = i;
    slider.value = i;
    label.textContent = data.labels[i] || "";
    var shown = points(data.frames[i] || []);
    heat.setLatLngs(shown);
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
