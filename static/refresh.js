// Keeps a status page current without reloading it: every 30 s ask whether the
// page changed (If-None-Match with the page's ETag); only when it did, swap in the
// new <main>. Scroll position and focus stay where they were. Without JavaScript,
// the <noscript> meta refresh in the page does the job more bluntly.
(function () {
  var tag = document.querySelector('meta[name="herald-etag"]');
  if (!tag || !window.fetch || !window.DOMParser) return;
  var etag = tag.content;
  function check() {
    if (document.hidden) return;
    fetch(location.href, { headers: { 'If-None-Match': etag }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) {
        if (r.status !== 200) return null;
        etag = r.headers.get('ETag') || etag;
        return r.text();
      })
      .then(function (html) {
        if (!html) return;
        var next = new DOMParser().parseFromString(html, 'text/html').querySelector('main');
        var main = document.querySelector('main');
        if (next && main) main.innerHTML = next.innerHTML;
      })
      .catch(function () {});
  }
  setInterval(check, 30000);
  document.addEventListener('visibilitychange', check);
})();
