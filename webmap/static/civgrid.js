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
   planner's split and re-draw forms. */
function civgridDrawTo(map, inputId) {
  function keep(layer) {
    var input = document.getElementById(inputId);
    if (input) input.value = JSON.stringify(layer.toGeoJSON().geometry);
  }
  map.on("draw:created", function (e) { keep(e.layer); });
  map.on("draw:edited", function (e) { e.layers.eachLayer(keep); });
}

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

/* On a phone, tables with a header row show each row as a card (civgrid.css);
   label every cell with its column's header so the card still says what is what. */
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("table.table").forEach(function (table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) return;
    var labels = Array.prototype.map.call(head.cells, function (th) { return th.textContent.trim(); });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (tr) {
        Array.prototype.forEach.call(tr.cells, function (td, i) {
          if (labels[i] && !td.hasAttribute("data-label")) td.setAttribute("data-label", labels[i]);
        });
      });
    });
  });
});
