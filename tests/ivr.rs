//! The IVR feed: every lookup mode, every format (SSML and VoiceXML validated
//! against the W3C schemas with xmllint), language choice, ETag/304, unknown
//! callers, overdue ETRs, markup in data, and "press 2 for an SMS".

mod support;

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use serde_json::{json, Value};
use support::app::{TestApp, Town};
use support::xml::{assert_all_valid, assert_valid};

/// The phone platform: every request with its `ivr` token.
struct Ivr<'a>(&'a TestApp);

impl Ivr<'_> {
    async fn get(&self, query: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut r = self
            .0
            .http
            .get(self.0.url(&format!("/ivr/v1/status?{query}")))
            .bearer_auth(&self.0.ivr_token);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.unwrap()
    }
    async fn json(&self, query: &str, headers: &[(&str, &str)]) -> Value {
        let r = self.get(query, headers).await;
        assert_eq!(r.status(), 200, "{query}");
        r.json().await.unwrap()
    }
}

async fn town_with_outages(app: &TestApp) -> (String, String) {
    app.import_town(&Town).await;
    let mut water = app.water_outage(Town::rect(0, 1, 0, 0)); // T0, T1
    water["etr"] = json!(app.tomorrow_at(18, 30));
    let water = app.declare(&water).await["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let planned = json!({
        "utility": "power", "kind": "planned", "cause": "Line maintenance",
        "starts_at": app.tomorrow_at(8, 0), "etr": app.tomorrow_at(14, 0),
        "area": Town::rect(5, 5, 0, 0),
    });
    let planned = app.declare(&planned).await["reference"]
        .as_str()
        .unwrap()
        .to_string();
    (water, planned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_modes_languages_and_sentences() {
    let app = TestApp::spawn().await;
    let (water, planned) = town_with_outages(&app).await;
    let ivr = Ivr(&app);

    // A known caller (T0's SMS contact, Hungarian), in any common format.
    for phone in [
        "%2B36301000000",
        "06301000000",
        "06%2030%20100%200000",
        "0036301000000",
    ] {
        let v = ivr.json(&format!("phone={phone}"), &[]).await;
        assert_eq!(
            (v["known"].as_bool(), v["affected"].as_bool()),
            (Some(true), Some(true)),
            "{v}"
        );
        assert_eq!(v["language"], "hu");
        assert_eq!(v["outages"][0]["reference"], water.as_str());
        assert_eq!(v["outages"][0]["etr_state"], "set");
        let s = v["sentence"].as_str().unwrap();
        assert!(
            s.contains("Vízhiány") && s.contains("holnap 18 óra 30 perckor"),
            "{s}"
        );
        // The settlement, not the street address (`ivr.speak_address` is off).
        assert!(
            s.contains("az Ön címe (Budapest)") && !s.contains("Kossuth"),
            "{s}"
        );
    }
    // The contact's language wins over the request's for a known phone; T1 reads Polish.
    let v = ivr
        .json("phone=%2B36301000001", &[("Accept-Language", "en")])
        .await;
    assert_eq!(v["known"], false, "T1 has no SMS contact: unknown number");
    let v = ivr.json("phone=%2B36301000002", &[]).await; // T2: outside, English
    assert_eq!(
        (v["known"].as_bool(), v["affected"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        v["sentence"],
        "We know of no outage at your address in Budapest."
    );

    // By postcode: both outages; language from Accept-Language, then from lang=.
    let v = ivr
        .json("postcode=1111", &[("Accept-Language", "pl-PL,pl;q=0.9")])
        .await;
    assert_eq!(v["language"], "pl");
    let refs: Vec<&str> = v["outages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs, vec![water.as_str(), planned.as_str()]);
    assert_eq!(v["outages"][0]["addresses_here"], 2);
    let s = v["sentence"].as_str().unwrap();
    assert!(
        s.contains("jutro o 18:30") && s.contains("kod pocztowy 1 1 1 1"),
        "{s}"
    );
    assert!(
        s.contains("Planowane wyłączenie prądu") && s.contains("jutro o 8:00"),
        "{s}"
    );
    let v = ivr
        .json("postcode=1111&lang=en", &[("Accept-Language", "pl")])
        .await;
    assert!(
        v["sentence"]
            .as_str()
            .unwrap()
            .contains("tomorrow at 6:30 pm"),
        "{v}"
    );
    assert!(
        v["sentence"]
            .as_str()
            .unwrap()
            .contains("Planned power cut"),
        "{v}"
    );

    // By address, reference and point.
    let v = ivr.json("address_id=T1&lang=en", &[]).await;
    assert_eq!(v["affected"], true);
    let v = ivr.json("address_id=T9&lang=en", &[]).await;
    assert_eq!(
        (v["known"].as_bool(), v["affected"].as_bool()),
        (Some(true), Some(false))
    );
    let v = ivr
        .json(
            &format!(
                "reference={}&lang=en",
                water.to_lowercase().replace('-', "")
            ),
            &[],
        )
        .await;
    assert_eq!(v["outages"][0]["reference"], water.as_str());
    let spoken = water
        .replace('-', "")
        .chars()
        .map(String::from)
        .collect::<Vec<_>>();
    assert!(
        v["sentence"]
            .as_str()
            .unwrap()
            .contains(&format!("{} {}, ", spoken[0], spoken[1])),
        "{v}"
    );
    let v = ivr.json("lat=47.0&lon=19.0005&lang=en", &[]).await;
    assert_eq!(v["affected"], true, "{v}");
    let v = ivr.json("lat=47.009&lon=19.009&lang=en", &[]).await;
    assert_eq!(v["affected"], false, "{v}");

    // Unknown callers get an answer and a hint, never an error.
    for phone in ["%2B36309999999", "anonymous", "112"] {
        let v = ivr.json(&format!("phone={phone}&lang=en"), &[]).await;
        assert_eq!(v["known"], false, "{phone}");
        assert!(v["hint"].as_str().unwrap().contains("postcode"), "{v}");
        assert!(
            v["sentence"]
                .as_str()
                .unwrap()
                .starts_with("We could not find"),
            "{v}"
        );
    }
    // Bad queries name the parameter.
    for (query, field) in [
        ("", "query"),
        ("reference=WA-0000-X", "reference"),
        ("lat=91&lon=0", "lat"),
        ("lat=1", "lon"),
        ("postcode=1111&lang=de", "lang"),
        ("postcode=1111&format=pdf", "format"),
    ] {
        let r = ivr.get(query, &[]).await;
        assert_eq!(r.status(), 400, "{query}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{query}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formats_validate_and_etag_saves_work() {
    let app = TestApp::spawn().await;
    let (water, _) = town_with_outages(&app).await;
    let ivr = Ivr(&app);

    let r = ivr
        .get(
            "phone=%2B36301000000",
            &[("Accept", "application/ssml+xml")],
        )
        .await;
    assert_eq!(
        r.headers()["content-type"],
        "application/ssml+xml; charset=utf-8"
    );
    assert_eq!(r.headers()["content-language"], "hu");
    let ssml = r.text().await.unwrap();
    assert!(ssml.contains("holnap 18 óra 30 perckor"));
    assert_valid(&ssml, "voicexml21/synthesis.xsd");

    let r = ivr.get("phone=%2B36301000000&format=vxml", &[]).await;
    assert_eq!(
        r.headers()["content-type"],
        "application/voicexml+xml; charset=utf-8"
    );
    let vxml = r.text().await.unwrap();
    assert_valid(&vxml, "voicexml21/vxml.xsd");
    assert!(
        vxml.contains("<choice dtmf=\"1\" next=\"#status\"/>"),
        "{vxml}"
    );
    assert!(
        vxml.contains("dtmf=\"2\""),
        "an affected known caller is offered the SMS: {vxml}"
    );
    // Nothing to send to an unaffected or unknown caller: no option 2.
    for q in [
        "postcode=1111&format=vxml",
        "phone=anonymous&format=vxml",
        "address_id=T9&format=vxml",
    ] {
        let doc = ivr.get(q, &[]).await.text().await.unwrap();
        assert_valid(&doc, "voicexml21/vxml.xsd");
        assert!(!doc.contains("dtmf=\"2\""), "{q}");
    }
    let text = ivr
        .get("address_id=T0&lang=en", &[("Accept", "text/plain")])
        .await
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("Water outage at Kossuth Lajos utca 1, Budapest. We expect it to be fixed tomorrow at 6:30 pm."), "{text}");

    // ETag: unchanged state → 304 without a body; a change → a new answer.
    let r = ivr.get("postcode=1111", &[]).await;
    let tag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(tag.starts_with("\"v") && r.headers().contains_key("last-modified"));
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let r = ivr.get("postcode=1111", &[("If-None-Match", &tag)]).await;
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), tag);
    assert!(r.text().await.unwrap().is_empty());
    let other = ivr
        .get("postcode=1111&format=text", &[("If-None-Match", &tag)])
        .await;
    assert_eq!(other.status(), 200, "the ETag is per query and format");
    let (_, v) = app.get_json(&format!("/api/v1/outages/{water}")).await;
    let id = v["id"].as_i64().unwrap();
    app.patch_json(
        &format!("/api/v1/outages/{id}"),
        &json!({"etr": app.tomorrow_at(20, 15)}),
    )
    .await;
    let r = ivr
        .get("postcode=1111&lang=en", &[("If-None-Match", &tag)])
        .await;
    assert_eq!(r.status(), 200);
    assert_ne!(r.headers()["etag"].to_str().unwrap(), tag);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["sentence"]
            .as_str()
            .unwrap()
            .contains("tomorrow at 8:15 pm"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_markup_and_sms_on_request() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    // A street name with markup characters must come out as text in every format.
    let (s, v) = app
        .post_body(
            "/api/v1/addresses/import",
            "external_id,street,house_number,postcode,settlement,lon,lat\nX1,<b>Rákóczi</b> & \"Fő\" út,7,1111,Budapest,19.0,47.0001\n",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.post_body(
        "/api/v1/contacts/import",
        "address_external_id,channel,destination,language\nX1,sms,+36209876543,en\n",
    )
    .await;
    let mut body = app.water_outage(Town::rect(0, 0, 0, 0));
    body["etr"] = json!((app.now() + ChronoDuration::milliseconds(1200)).to_rfc3339());
    let reference = app.declare(&body).await["reference"]
        .as_str()
        .unwrap()
        .to_string();
    app.drain().await;
    let ivr = Ivr(&app);
    let before = ivr.get("phone=%2B36209876543", &[]).await;
    let before_tag = before.headers()["etag"].to_str().unwrap().to_string();
    let v: Value = before.json().await.unwrap();
    assert_eq!(v["outages"][0]["etr_state"], "set", "{v}");
    // Until the ETR it is still expected…
    app.advance(Duration::from_millis(1199));
    let at_etr = ivr
        .get("phone=%2B36209876543", &[("If-None-Match", &before_tag)])
        .await;
    assert_eq!(at_etr.status(), 304);
    app.advance(Duration::from_millis(301));
    // …then nothing was changed, but the ETR passed: a cached "expected" must not be
    // served, nor a 304 for it.
    let after = ivr
        .get("phone=%2B36209876543", &[("If-None-Match", &before_tag)])
        .await;
    assert_eq!(after.status(), 200);
    assert_ne!(after.headers()["etag"].to_str().unwrap(), before_tag);

    let v = ivr.json("phone=%2B36209876543", &[]).await;
    assert_eq!(v["outages"][0]["etr_state"], "overdue", "{v}");
    assert!(
        v["sentence"]
            .as_str()
            .unwrap()
            .contains("taking longer than expected"),
        "{v}"
    );
    for format in ["ssml", "vxml"] {
        let doc = ivr
            .get(&format!("address_id=X1&format={format}"), &[])
            .await
            .text()
            .await
            .unwrap();
        assert!(
            !doc.contains("<b>") && doc.contains("&lt;b&gt;") || doc.contains("&#60;b&#62;"),
            "{doc}"
        );
        let schema = if format == "ssml" {
            "voicexml21/synthesis.xsd"
        } else {
            "voicexml21/vxml.xsd"
        };
        assert_valid(&doc, schema);
    }

    // Press 2: the VoiceXML's option leads to a real SMS with the current status.
    let vxml = ivr
        .get("phone=%2B36209876543&format=vxml", &[])
        .await
        .text()
        .await
        .unwrap();
    let url = support::xml::press_2_link(&vxml);
    let before = app.sms.messages_to("+36209876543").len();
    let total = app.sms.count();
    let r = app.http.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let goodbye = r.text().await.unwrap();
    assert_valid(&goodbye, "voicexml21/vxml.xsd");
    assert_eq!(app.drain().await.sms.sent, 1);
    assert_eq!(app.sms.count(), total + 1);
    let texts: Vec<String> = app
        .sms
        .messages_to("+36209876543")
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts.len(), before + 1, "{texts:?}");
    assert!(texts.last().unwrap().contains(&reference));
    // Pressing 2 again for the same state sends nothing more.
    app.http.post(&url).send().await.unwrap();
    assert_eq!(app.drain().await.sent(), 0);
    assert_eq!(app.sms.messages_to("+36209876543").len(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_feed_lists_open_outages_with_places_and_sentences() {
    let app = TestApp::spawn().await;
    let (water, planned) = town_with_outages(&app).await;
    let r = app.http.get(app.url("/ivr/v1/feed")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let tag = r.headers()["etag"].to_str().unwrap().to_string();
    let v: Value = r.json().await.unwrap();
    let outages = v["outages"].as_array().unwrap();
    assert_eq!(outages.len(), 2);
    let w = outages
        .iter()
        .find(|o| o["reference"] == water.as_str())
        .unwrap();
    assert_eq!(w["postcodes"], json!(["1111"]));
    assert_eq!(w["settlements"], json!(["Budapest"]));
    assert_eq!(w["streets"][0]["street"], "Kossuth Lajos utca");
    assert!(w["sentences"]["hu"]
        .as_str()
        .unwrap()
        .contains("holnap 18 óra 30 perckor"));
    assert!(w["sentences"]["pl"]
        .as_str()
        .unwrap()
        .contains("jutro o 18:30"));
    assert!(w["sentences"]["en"]
        .as_str()
        .unwrap()
        .contains("tomorrow at 6:30 pm"));
    let p = outages
        .iter()
        .find(|o| o["reference"] == planned.as_str())
        .unwrap();
    assert_eq!(p["status"], "scheduled");

    let r = app
        .http
        .get(app.url("/ivr/v1/feed"))
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // Restored outages leave the feed.
    let (_, v) = app.get_json(&format!("/api/v1/outages/{water}")).await;
    app.post_json(&format!("/api/v1/outages/{}/restore", v["id"]), &json!({}))
        .await;
    let r = app
        .http
        .get(app.url("/ivr/v1/feed"))
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outages"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_answers_follow_changes_made_by_another_node() {
    let app = TestApp::spawn().await;
    let (water, _) = town_with_outages(&app).await;
    let ivr = Ivr(&app);
    let first = ivr.get("postcode=1111&lang=en", &[]).await;
    let tag = first.headers()["etag"].to_str().unwrap().to_string();
    let body = first.text().await.unwrap();
    assert!(body.contains(&water), "{body}");
    let again = ivr.get("postcode=1111&lang=en", &[]).await;
    assert_eq!(again.headers()["etag"].to_str().unwrap(), tag);
    assert_eq!(again.text().await.unwrap(), body, "served from the cache");

    // Another node (same database) changes the outage, as its store would.
    let mut db = app.db().await;
    sqlx::query("UPDATE outages SET cause = 'Changed on node B' WHERE reference = $1")
        .bind(&water)
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("UPDATE meta SET value = value + 1 WHERE key = 'outages_version'")
        .execute(&mut db)
        .await
        .unwrap();
    // This node learns of it when its published view is next re-read: within
    // `published::RECHECK`, or at once on PostgreSQL's notification. Re-read now.
    app.state().published.touch();
    let after = ivr
        .get("postcode=1111&lang=en", &[("If-None-Match", &tag)])
        .await;
    assert_eq!(after.status(), 200, "the old ETag no longer matches");
    assert!(after.text().await.unwrap().contains("Changed on node B"));
}

/// A CSV field, quoted.
fn csv(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

/// `text` repeated (and cut, by characters) to exactly `chars` characters.
fn up_to(text: &str, chars: usize) -> String {
    text.chars().cycle().take(chars).collect()
}

/// The text of an XML document's character data, its markup left in: the five
/// predefined entities and character references read, in one pass.
fn unescape(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').expect("an entity ends with ;") + at;
        let name = &rest[at + 1..end];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16),
                    None => name
                        .strip_prefix('#')
                        .expect("a character reference")
                        .parse(),
                };
                char::from_u32(code.expect("a number")).expect("a character")
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Operator text that is hostile but allowed (issue 10, item 7: control
/// characters are refused, everything else must come out safely): XML
/// metacharacters and entities, a CDATA end, a comment, a processing
/// instruction, quotes, emoji (outside the BMP), right-to-left text with bidi
/// controls, combining marks.
const HOSTILE: &str = "<b>Burst</b> & \"main\" 'pipe' ]]> <![CDATA[x]]> <!-- c --> <?php ?> &amp; &#0; &lt; 💧🔥👩‍🔧 שלום עולם مرحبا \u{202E}desrever\u{202C} \u{200F}ok\u{200E} e\u{301}\u{20AC}";

/// Every SSML and VoiceXML answer (every lookup mode, language and format), and
/// the "press 2" goodbye, validates against the W3C schemas after outages and
/// addresses were given hostile but accepted text at the length limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_xml_answer_validates_after_hostile_operator_input() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    // Addresses' texts are spoken ("… at <street> <number>, <settlement>").
    let street = up_to(&format!("{HOSTILE} "), 200);
    let settlement = up_to(&format!("]]>&<{HOSTILE}"), 100);
    let house = up_to("7/B <>&\"' ]]>", 30);
    let id = "H<1>&\"'";
    let (s, v) = app
        .post_body(
            "/api/v1/addresses/import",
            format!(
                "external_id,street,house_number,postcode,settlement,lon,lat\n\
                 {},{},{},1111,{},19.0002,47.0002\n\
                 H2,{},{},8888,{},19.0052,47.0052\n",
                csv(id),
                csv(&street),
                csv(&house),
                csv(&settlement),
                csv(&street),
                csv(&house),
                csv(&settlement),
            ),
        )
        .await;
    assert_eq!((s, v["inserted"].as_i64()), (200, Some(2)), "{v}");
    let (s, v) = app
        .post_body(
            "/api/v1/contacts/import",
            format!(
                "address_external_id,channel,destination,language\n{},sms,+36209876500,en\n",
                csv(id)
            ),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // Causes at their limit (500 characters), messages at theirs (1,000), with line breaks.
    let cause = up_to(&format!("{HOSTILE} "), 500);
    let message = |lang: &str| up_to(&format!("{lang}: {HOSTILE}\n\n"), 1000);
    let messages = json!({"hu": message("hu"), "pl": message("pl"), "en": message("en")});
    let mut water = app.water_outage(Town::rect(0, 1, 0, 0));
    water["cause"] = json!(cause);
    water["message"] = messages.clone();
    let water = app.declare(&water).await;
    let planned = app
        .declare(&json!({
            "utility": "power", "kind": "planned", "cause": up_to(&format!("\u{202E}{HOSTILE}"), 500),
            "message": messages,
            "starts_at": app.tomorrow_at(8, 0), "etr": app.tomorrow_at(14, 0),
            "area": Town::rect(5, 5, 5, 5),
        }))
        .await;
    // A revision with new hostile text, as an update brings.
    let (s, v) = app
        .patch_json(
            &format!("/api/v1/outages/{}", water["id"]),
            &json!({"cause": up_to(&format!("]]>{HOSTILE}"), 500), "message": {"en": message("update")}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.drain().await;
    let (water, planned) = (
        water["reference"].as_str().unwrap().to_string(),
        planned["reference"].as_str().unwrap().to_string(),
    );

    // The text was taken as given, not cleaned up: the JSON answer carries it.
    let ivr = Ivr(&app);
    let v = ivr.json(&format!("reference={water}&lang=en"), &[]).await;
    assert_eq!(
        v["outages"][0]["cause"].as_str().unwrap(),
        up_to(&format!("]]>{HOSTILE}"), 500).trim()
    );

    let id_q = "H%3C1%3E%26%22%27";
    let queries = [
        "phone=%2B36209876500".to_string(), // known, affected, offered the SMS
        "phone=%2B36301000002".to_string(), // known, not affected
        "phone=anonymous".to_string(),
        "postcode=1111".to_string(),
        "postcode=8888".to_string(),
        format!("address_id={id_q}"),
        "address_id=H2".to_string(),
        format!("reference={water}"),
        format!("reference={planned}"),
        "lat=47.0002&lon=19.0002".to_string(),
        "lat=47.005&lon=19.005".to_string(),
        "lat=47.05&lon=19.05".to_string(),
    ];
    let (mut ssml, mut vxml) = (Vec::new(), Vec::new());
    for q in &queries {
        for lang in ["hu", "pl", "en"] {
            for (format, docs) in [("ssml", &mut ssml), ("vxml", &mut vxml)] {
                let query = format!("{q}&lang={lang}&format={format}");
                let r = ivr.get(&query, &[]).await;
                assert_eq!(r.status(), 200, "{query}");
                docs.push((query, r.text().await.unwrap()));
            }
        }
    }
    // The hostile address is spoken, as text.
    let spoken = ssml
        .iter()
        .find(|(q, _)| q.starts_with(&format!("address_id={id_q}&lang=en")))
        .map(|(_, doc)| unescape(doc))
        .unwrap();
    assert!(spoken.contains(street.trim()), "{spoken}");
    assert!(spoken.contains(settlement.trim()), "{spoken}");
    assert!(
        vxml.iter().any(|(_, doc)| doc.contains("dtmf=\"2\"")),
        "the known affected caller is offered the SMS"
    );
    for lang in ["hu", "pl", "en"] {
        let url = format!("/ivr/v1/sms?phone=%2B36209876500&lang={lang}");
        let r = app
            .http
            .post(app.url(&url))
            .bearer_auth(&app.ivr_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
        vxml.push((url, r.text().await.unwrap()));
    }
    assert_eq!(ssml.len(), queries.len() * 3);
    assert_all_valid(&ssml, "voicexml21/synthesis.xsd");
    assert_all_valid(&vxml, "voicexml21/vxml.xsd");
}

/// Who called before being told: each status request by phone is recorded
/// (a keyed hash of the number), and per outage the API, the console's live
/// figures and the metrics say how many callers had been sent a message first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_show_who_called_before_being_told() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    // T0..T3; SMS contacts at T0 and T2.
    let v = app.declare(&app.water_outage(Town::rect(0, 3, 0, 0))).await;
    let (id, reference) = (
        v["id"].as_i64().unwrap(),
        v["reference"].as_str().unwrap().to_string(),
    );
    let ivr = Ivr(&app);
    let phone = |i: usize| Town::phone(i).replace('+', "%2B");

    // T0 calls before any message went out.
    let v = ivr.json(&format!("phone={}", phone(0)), &[]).await;
    assert_eq!(v["outages"][0]["reference"], reference.as_str());
    // A minute later the fan-out sends; ten minutes after that T2 calls, twice
    // (the second time the IVR has the answer: a 304, still a call), and T0
    // calls again: T0 still called before being told.
    app.advance_and_drain(Duration::from_secs(60)).await;
    app.advance(Duration::from_secs(600));
    let r = ivr.get(&format!("phone={}", phone(2)), &[]).await;
    assert_eq!(r.status(), 200);
    let tag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = ivr
        .get(&format!("phone={}", phone(2)), &[("If-None-Match", &tag)])
        .await;
    assert_eq!(r.status(), 304);
    ivr.json(&format!("phone={}", phone(0)), &[]).await;
    // Callers who heard of no outage are no callers of it: an address outside,
    // an unknown number, a postcode.
    ivr.json(&format!("phone={}", phone(4)), &[]).await;
    ivr.json("phone=%2B36309999999", &[]).await;
    ivr.json("postcode=1111", &[]).await;

    let (status, v) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        v["calls"],
        json!({"callers": 2, "told_first": 1, "share_told": 0.5, "median_lead_seconds": 600}),
        "{v}"
    );

    // Stored: one row per caller's first call about the outage (a redial
    // changes no figure, so the node writes it once), the number only as a
    // keyed hash; T0's first call came before any message, T2's after one.
    let rows: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT caller, told_at FROM ivr_calls ORDER BY id")
            .fetch_all(&mut app.db().await)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_ne!(rows[0].0, rows[1].0);
    assert_eq!(
        (rows[0].1.is_some(), rows[1].1.is_some()),
        (false, true),
        "{rows:?}"
    );
    for (caller, _) in &rows {
        assert!(!caller.contains("3630100"), "{caller}");
        assert_eq!(caller.len(), 32, "{caller}");
    }

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        format!("herald_outage_callers{{reference=\"{reference}\"}} 2"),
        format!("herald_outage_callers_told_first{{reference=\"{reference}\"}} 1"),
        format!("herald_outage_callers_told_share{{reference=\"{reference}\"}} 0.5"),
        format!(
            "herald_outage_call_lead_seconds{{reference=\"{reference}\",quantile=\"0.5\"}} 600"
        ),
    ] {
        assert!(metrics.contains(&needle), "{needle} not in\n{metrics}");
    }
}
