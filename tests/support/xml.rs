//! Checking the IVR's SSML and VoiceXML against the W3C schemas in tests/schemas.

use std::io::Write;

/// Validates `xml` against a schema in tests/schemas with xmllint.
pub fn assert_valid(xml: &str, schema: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.xml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("xmllint")
        .env(
            "XML_CATALOG_FILES",
            format!("{root}/tests/schemas/voicexml21/catalog.xml"),
        )
        .args(["--nonet", "--noout", "--schema"])
        .arg(format!("{root}/tests/schemas/{schema}"))
        .arg(&path)
        .output()
        .expect("xmllint (Debian libxml2-utils) must be installed; scripts/test installs it");
    assert!(
        out.status.success(),
        "{schema} rejects the document:\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}
