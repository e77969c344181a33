// The console's map for declaring an outage (templates/console/new.html).
//
// Leaflet shows the register's address points (every point when few are in
// view, counts per grid cell when many: the server decides, so 2,000,000
// addresses stay smooth), settlement labels, and the open outages; Geoman
// draws, edits, cuts holes in and deletes the area. Whatever is drawn (or
// uploaded as a GeoJSON file, or pasted into the area field, which is the
// keyboard's way in) is written to the form's `area` field as one GeoJSON
// MultiPolygon, and a debounced preview asks the server what it reaches.
// Without JavaScript the form still works: paste the area and review.
(function () {
  var el = document.getElementById('map');
  var form = document.getElementById('declare');
  if (!el || !form || !window.L || !window.fetch) return;
  var field = form.querySelector('textarea[name="area"]');
  // A select when declaring; a hidden field when changing an outage's area.
  var utility = form.querySelector('[name="utility"]');
  var csrf = form.querySelector('input[name="csrf"]').value;
  var data = function (name) { return el.getAttribute('data-' + name) || ''; };
  var lang = data('lang') || 'en';
  var numbers = new Intl.NumberFormat(lang);

  var map = L.map(el, { preferCanvas: true, keyboard: true, zoomSnap: 0.5 });
  // For the browser's console and the end-to-end test, which click on it.
  window.heraldMap = map;
  var view = data('view').split(',').map(Number);
  if (view.length === 4 && view.every(isFinite)) {
    map.fitBounds([[view[1], view[0]], [view[3], view[2]]], { padding: [20, 20] });
  } else {
    map.setView([47.4979, 19.0402], 12);
  }
  if (data('tile-url')) {
    L.tileLayer(data('tile-url'), { attribution: data('tile-attribution'), maxZoom: 19 }).addTo(map);
  }

  // Address points: redrawn after every move, on one canvas.
  var canvas = L.canvas({ padding: 0.2 });
  var points = L.layerGroup().addTo(map);
  var pointsAsked = 0;
  function loadPoints() {
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (x) { return x.toFixed(6); });
    var ask = ++pointsAsked;
    fetch(data('points-url') + '?bbox=' + bbox.join(','), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p || ask !== pointsAsked) return;
        points.clearLayers();
        var style = { renderer: canvas, interactive: false, pmIgnore: true, stroke: false, fillColor: '#3b82f6', fillOpacity: 0.7 };
        if (p.kind === 'points') {
          p.items.forEach(function (c) {
            points.addLayer(L.circleMarker([c[1], c[0]], Object.assign({ radius: 3 }, style)));
          });
        } else {
          var max = p.items.length ? p.items[0].count : 1;
          p.items.forEach(function (c) {
            var r = 3 + 12 * Math.sqrt(c.count / max);
            points.addLayer(L.circleMarker([c.lat, c.lon], Object.assign({ radius: r, fillOpacity: 0.45 }, style)));
          });
        }
        el.setAttribute('data-points-shown', String(p.items.length));
      })
      .catch(function () {});
  }
  var moved = null;
  map.on('moveend', function () { clearTimeout(moved); moved = setTimeout(loadPoints, 120); });
  loadPoints();

  // Settlement labels, from the register (no tile server needed).
  fetch(data('labels-url'), { credentials: 'same-origin' })
    .then(function (r) { return r.ok ? r.json() : []; })
    .then(function (labels) {
      labels.forEach(function (l) {
        L.marker([l.lat, l.lon], {
          pmIgnore: true, interactive: false, keyboard: false,
          icon: L.divIcon({ className: 'place-label', html: '', iconSize: null })
        }).addTo(map).getElement().textContent = l.name;
      });
    })
    .catch(function () {});

  // Open outages, each linked to its page.
  fetch(data('outages-url'), { credentials: 'same-origin' })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (fc) {
      if (!fc) return;
      L.geoJSON(fc, {
        pmIgnore: true,
        style: function (f) {
          return { color: f.properties.status === 'scheduled' ? '#b7791f' : '#c53030', weight: 2, fillOpacity: 0.08, dashArray: '4 4' };
        },
        onEachFeature: function (f, layer) {
          var a = document.createElement('a');
          a.href = '/console/o/' + encodeURIComponent(f.properties.reference);
          a.textContent = f.properties.reference + ' — ' + f.properties.title;
          layer.bindPopup(a);
        }
      }).addTo(map);
    })
    .catch(function () {});

  // Residents' reports of the last day: red where no open outage of their
  // service covers them (the outage is probably bigger than drawn).
  if (data('reports-url')) {
    fetch(data('reports-url'), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fc) {
        if (!fc) return;
        L.geoJSON(fc, {
          pmIgnore: true,
          pointToLayer: function (f, ll) {
            return L.circleMarker(ll, {
              pmIgnore: true, radius: 7, weight: 2, color: '#000',
              fillColor: f.properties.covered ? '#9e9e9e' : '#e53935', fillOpacity: 0.9
            });
          },
          onEachFeature: function (f, layer) {
            layer.bindTooltip(f.properties.utility + ' · ' + new Date(f.properties.reported_at).toLocaleString(lang));
          }
        }).addTo(map);
        el.setAttribute('data-reports-shown', String(fc.features.length));
      })
      .catch(function () {});
  }

  // Drawing.
  if (map.pm) {
    if (map.pm.setLang) map.pm.setLang(lang);
    map.pm.addControls({
      position: 'topleft', drawMarker: false, drawCircleMarker: false, drawPolyline: false,
      drawCircle: false, drawText: false, rotateMode: false, dragMode: false
    });
    map.pm.setGlobalOptions({ allowSelfIntersection: false, snappable: true });
    // Geoman names its buttons only by their container's title: give each
    // button that name, so a screen reader announces it.
    el.querySelectorAll('.leaflet-pm-toolbar .button-container').forEach(function (c) {
      var button = c.querySelector('.leaflet-buttons-control-button');
      if (button && c.title) button.setAttribute('aria-label', c.title);
    });
  }
  // What is drawn: the one source of the area (other layers are ignored by
  // Geoman and never part of it).
  var drawn = L.featureGroup().addTo(map);
  function areaOfLayers() {
    var polygons = [];
    drawn.eachLayer(function (l) {
      var g = l.toGeoJSON().geometry;
      if (g.type === 'Polygon') polygons.push(g.coordinates);
      if (g.type === 'MultiPolygon') polygons = polygons.concat(g.coordinates);
    });
    return polygons.length ? { type: 'MultiPolygon', coordinates: polygons } : null;
  }
  function changed() {
    var area = areaOfLayers();
    field.value = area ? JSON.stringify(area) : '';
    schedulePreview();
  }
  function keep(layer) {
    drawn.addLayer(layer);
    layer.on('pm:edit pm:update pm:vertexremoved', changed);
  }
  map.on('pm:create', function (e) { keep(e.layer); changed(); });
  map.on('pm:remove', function (e) { drawn.removeLayer(e.layer); changed(); });
  map.on('pm:cut', function (e) {
    drawn.removeLayer(e.originalLayer);
    if (e.layer) keep(e.layer);
    changed();
  });

  // An area given as text (pasted, typed, uploaded): replaces what is drawn.
  function showArea(text, fit) {
    var geometry;
    try { geometry = JSON.parse(text); } catch (e) { return false; }
    var layers;
    try { layers = L.geoJSON(geometry).getLayers(); } catch (e) { return false; }
    drawn.clearLayers();
    layers.forEach(keep);
    if (fit && drawn.getLayers().length) map.fitBounds(drawn.getBounds(), { padding: [20, 20] });
    return true;
  }
  field.addEventListener('change', function () {
    if (showArea(field.value, true)) changed(); else schedulePreview();
  });
  var upload = document.getElementById('area-file');
  if (upload) {
    upload.addEventListener('change', function () {
      var file = upload.files && upload.files[0];
      if (!file) return;
      file.text().then(function (text) {
        field.value = text;
        if (showArea(text, true)) changed(); else schedulePreview();
      });
    });
  }
  if (field.value.trim()) showArea(field.value, true);
  if (utility) utility.addEventListener('change', schedulePreview);

  // The live preview: what the area reaches, asked 300 ms after the last change.
  var panel = document.getElementById('preview');
  var previewAsked = 0;
  var timer = null;
  function schedulePreview() { clearTimeout(timer); timer = setTimeout(preview, 300); }
  function show(name, value) {
    var cell = panel.querySelector('[data-preview="' + name + '"]');
    if (cell) cell.textContent = value;
  }
  function warn(name, on) {
    var w = panel.querySelector('[data-warning="' + name + '"]');
    if (w) w.hidden = !on;
  }
  function preview() {
    var ask = ++previewAsked;
    var error = panel.querySelector('[data-preview-error]');
    if (!field.value.trim()) {
      ['addresses', 'email', 'sms', 'settlements', 'streets'].forEach(function (n) { show(n, '–'); });
      warn('empty', false); warn('large', false); error.hidden = true;
      panel.setAttribute('data-state', 'none');
      return;
    }
    panel.setAttribute('data-state', 'asking');
    fetch(data('preview-url'), {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ utility: utility ? utility.value : undefined, area: field.value })
    })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (r) {
        if (ask !== previewAsked) return;
        if (!r.ok) {
          error.textContent = r.body.error ? r.body.error.message : String(r.status);
          error.hidden = false;
          panel.setAttribute('data-state', 'error');
          return;
        }
        var p = r.body;
        error.hidden = true;
        show('addresses', numbers.format(p.affected_addresses));
        show('email', numbers.format(p.contacts.email));
        show('sms', numbers.format(p.contacts.sms));
        show('settlements', numbers.format(p.settlements));
        show('streets', numbers.format(p.streets));
        warn('empty', p.warnings.indexOf('empty') >= 0);
        warn('large', p.warnings.indexOf('large') >= 0);
        panel.setAttribute('data-state', 'done');
      })
      .catch(function () { panel.setAttribute('data-state', 'error'); });
  }
  if (field.value.trim()) schedulePreview();
})();
