//! Checking the IVR's SSML and VoiceXML against the W3C schemas in tests/schemas.

use std::io::Write;

/// The "press 2" link of a VoiceXML answer, unescaped.
pub fn press_2_link(vxml: &str) -> String {
    vxml.split("dtmf=\"2\" next=\"")
        .nth(1)
        .expect("a press-2 choice")
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// Validates `xml` against a schema in tests/schemas with xmllint.
pub fn assert_valid(xml: &str, schema: &str) {
    assert_all_valid(&[("the document".to_string(), xml.to_string())], schema);
}

/// Validates every `(label, xml)` against a schema in tests/schemas, with one
/// xmllint run for all of them; a failure names the documents it rejects.
pub fn assert_all_valid(docs: &[(String, String)], schema: &str) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = docs
        .iter()
        .enumerate()
        .map(|(i, (_, xml))| {
            let path = dir.path().join(format!("doc{i}.xml"));
            std::fs::File::create(&path)
                .unwrap()
                .write_all(xml.as_bytes())
                .unwrap();
            path
        })
        .collect();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("xmllint")
        .env(
            "XML_CATALOG_FILES",
            format!("{root}/tests/schemas/voicexml21/catalog.xml"),
        )
        .args(["--nonet", "--noout", "--schema"])
        .arg(format!("{root}/tests/schemas/{schema}"))
        .args(&paths)
        .output()
        .expect("xmllint (Debian libxml2-utils) must be installed; scripts/test installs it");
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let rejected: Vec<String> = docs
            .iter()
            .zip(&paths)
            .filter(|(_, path)| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                stderr.contains(&format!("{name}:")) || stderr.contains(&format!("{name} fails"))
            })
            .map(|((label, xml), _)| format!("{label}:\n{xml}"))
            .collect();
        panic!(
            "{schema} rejects {} of {} documents:\n{stderr}\n{}",
            rejected.len(),
            docs.len(),
            rejected.join("\n\n")
        );
    }
}
