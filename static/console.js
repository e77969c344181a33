// The console's outage page, kept current during a fan-out: every 3 s (while
// the tab is visible) read the outage's live figures and put each into the
// element whose data-live attribute names it. When the outage itself changed
// (a new revision, or messages newly failed for good), say so and offer a
// reload rather than rewriting the page under the dispatcher's hands.
// Without JavaScript the page shows the figures as they were when it loaded.
// A just-declared outage's "undo" offer is hidden once its window has closed
// (the server refuses a late undo either way).
(function () {
  // The undo offer of a just-declared outage goes when its window closes.
  var undo = document.querySelector('[data-undo-seconds]');
  if (undo) {
    setTimeout(function () { undo.hidden = true; }, 1000 * Number(undo.getAttribute('data-undo-seconds')));
  }
  var root = document.getElementById('live');
  if (!root || !window.fetch) return;
  var url = root.getAttribute('data-live-url');
  var revision = root.getAttribute('data-revision');
  var dead = root.getAttribute('data-dead');
  var busy = false;
  function apply(live) {
    var cells = live.cells || {};
    Object.keys(cells).forEach(function (key) {
      var el = root.querySelector('[data-live="' + key + '"]');
      if (el && el.textContent !== cells[key]) el.textContent = cells[key];
    });
    if (undo && live.undo === false) undo.hidden = true;
    if (String(live.revision) !== revision || String(live.dead) !== dead) {
      var stale = root.querySelector('[data-live-stale]');
      if (stale) stale.hidden = false;
    }
  }
  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (live) { if (live) apply(live); })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  setInterval(poll, 3000);
  document.addEventListener('visibilitychange', poll);
})();
