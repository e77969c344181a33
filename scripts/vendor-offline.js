// scripts/vendor-static's one change to the vendored files: no address of
// another host is left in what Herald serves.
//
//   node scripts/vendor-offline.js FILE...   (rewrites each FILE in place)
//
// - Leaflet's attribution names Leaflet without linking to leafletjs.com;
// - every other address (in comments, in Geoman's inlined package.json) loses
//   its scheme: "leafletjs.com", not "https://leafletjs.com";
// - XML namespace names (http://www.w3.org/2000/svg, and any xmlns attribute's
//   value, quoted or as %22/%27 in a data: URI) are names, not addresses, and
//   stay.
// Files are read and written as bytes (latin1), so CRLF line ends and every
// other byte stay as shipped. The attribution link must be found: an upgrade
// that changes it stops here rather than shipping a link out. Afterwards no
// address other than a namespace name may remain, or the script fails.
"use strict";
const fs = require("fs");

const die = (m) => {
  console.error(`vendor-offline: ${m}`);
  process.exit(1);
};
const LINK = '<a href="https://leafletjs.com" title="A JavaScript library for interactive maps">';
const SPAN = '<span title="A JavaScript library for interactive maps">';
const NAMESPACE = `xmlns(?::[\\w-]+)?=(?:"|'|%22|%27)`;
const ADDRESS = new RegExp(`(?<!${NAMESPACE})https?://(?!www\\.w3\\.org/)`, "g");
const ANY = new RegExp(`(${NAMESPACE})?https?://[^\\s"'%)]*`, "g");

for (const file of process.argv.slice(2)) {
  let text = fs.readFileSync(file, "latin1");
  if (file.endsWith("leaflet/leaflet.js")) {
    if (!text.includes(LINK) || !text.includes('"Leaflet</a>"')) {
      die(`${file}: the attribution link changed; update scripts/vendor-offline.js`);
    }
    text = text.replace(LINK, SPAN).replace('"Leaflet</a>"', '"Leaflet</span>"');
  }
  text = text.replace(ADDRESS, "");
  const left = [...text.matchAll(ANY)]
    .filter((m) => !m[1] && !m[0].startsWith("http://www.w3.org/"))
    .map((m) => m[0]);
  if (left.length) die(`${file}: addresses of other hosts left: ${left.join(", ")}`);
  fs.writeFileSync(file, Buffer.from(text, "latin1"));
}
