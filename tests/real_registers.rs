//! Real registers (issue 10, item 9): a register without postcodes and villages
//! without streets import with no rejected row, are found by an outage's polygon
//! and by the status page's search, and read naturally in the SMS, the e-mail,
//! the IVR sentence and the pages: "Suchowola 12-14", "Bugac hrsz. 0886/21",
//! "Petőfi Sándor utca 3, Bugac", never a dangling comma or an empty street.
//!
//! The register is `fixtures/villages.csv` (see `fixtures/villages.py`): 8,515
//! service points in Polish and Hungarian villages, none with a postcode.

mod support;

use herald::domain::{Address, AddressForm, Language};
use herald::search::{AddressSearch, SearchAddress};
use serde_json::{json, Value};
use support::app::TestApp;
use support::xml::assert_valid;

const VILLAGES: &str = include_str!("../fixtures/villages.csv");

/// Places without streets but with a postcode, for the IVR's postcode lookup.
const WITH_POSTCODES: &str = "external_id,street,house_number,postcode,settlement,lon,lat\n\
LIS-7,,7,26-020,Lisów,21.6000,50.3000\n\
LIS-7A,,7A,26-020,Lisów,21.6004,50.3001\n";

#[derive(Debug, Clone)]
struct Row {
    external_id: String,
    address: Address,
    lon: f64,
    lat: f64,
}

/// The fixture's rows (it is written without quoting: no field holds a comma).
fn villages() -> Vec<Row> {
    VILLAGES
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 8, "{line}");
            Row {
                external_id: f[0].to_string(),
                address: Address::new(f[1], f[2], f[3], f[4]).unwrap(),
                lon: f[5].parse().unwrap(),
                lat: f[6].parse().unwrap(),
            }
        })
        .collect()
}

/// The first row in `settlement` whose address satisfies `pick`.
fn row<'a>(rows: &'a [Row], settlement: &str, pick: impl Fn(&Address) -> bool) -> &'a Row {
    rows.iter()
        .find(|r| r.address.settlement() == settlement && pick(&r.address))
        .unwrap_or_else(|| panic!("no such row in {settlement}"))
}

/// A rectangle around `points` with a margin, and the rows inside it.
fn around(rows: &[Row], points: &[(f64, f64)]) -> (Value, usize) {
    let m = 0.0005;
    let x0 = points.iter().map(|p| p.0).fold(f64::MAX, f64::min) - m;
    let x1 = points.iter().map(|p| p.0).fold(f64::MIN, f64::max) + m;
    let y0 = points.iter().map(|p| p.1).fold(f64::MAX, f64::min) - m;
    let y1 = points.iter().map(|p| p.1).fold(f64::MIN, f64::max) + m;
    let inside = rows
        .iter()
        .filter(|r| (x0..=x1).contains(&r.lon) && (y0..=y1).contains(&r.lat))
        .count();
    let ring = json!([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]);
    (json!({"type": "Polygon", "coordinates": [ring]}), inside)
}

/// Nothing an absent street or postcode could have left behind.
fn reads_well(text: &str, what: &str) {
    for bad in [
        ", ,", " ,", ",,", ": ,", ":,", " .", ",.", ", .", "  ", "( ", " )", ", (", ": .",
    ] {
        assert!(!text.contains(bad), "{what} has {bad:?}: {text}");
    }
    assert!(!text.trim_end().ends_with(','), "{what}: {text}");
}

/// A Polish village without streets has no street word anywhere.
fn no_street_words(text: &str, what: &str) {
    for word in ["utca", "ul.", "ulica", " út "] {
        assert!(!text.contains(word), "{what} has {word:?}: {text}");
    }
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

async fn page(app: &TestApp, path: &str) -> String {
    let (status, html) = app.get_page(path).await;
    assert_eq!(status, 200, "{path}");
    html
}

fn query(q: &str) -> String {
    q.replace('%', "%25")
        .replace(' ', "+")
        .replace('/', "%2F")
        .replace(',', "%2C")
}

/// The section of a search page under the result headed `label`.
fn result<'a>(html: &'a str, label: &str) -> &'a str {
    let head = format!("<h3>{label}</h3>");
    html.split(&head)
        .nth(1)
        .unwrap_or_else(|| panic!("no result {head}:\n{html}"))
        .split("</article>")
        .next()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn villages_without_streets_or_postcodes_are_found_and_read_well() {
    // The caller's address is spoken, so the sentence by number shows how it reads.
    let app = TestApp::spawn_with(|c| c.ivr.speak_address = true).await;
    let rows = villages();
    assert!(rows.len() > 8_000 && rows.iter().all(|r| r.address.postcode().is_none()));

    // The API imports in strict mode: a 200 means no row was refused.
    let (s, v) = app
        .post_body("/api/v1/addresses/import", VILLAGES.to_string())
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["rows"].as_u64(),
            v["inserted"].as_u64(),
            v["rejected"].as_u64()
        ),
        (Some(rows.len() as u64), Some(rows.len() as u64), Some(0)),
        "{v}"
    );
    let (s, v) = app
        .post_body("/api/v1/addresses/import", WITH_POSTCODES)
        .await;
    assert_eq!((s, v["rejected"].as_u64()), (200, Some(0)), "{v}");

    // Residents: a Polish village without streets, a Hungarian farmstead known by
    // its lot number, and a Hungarian street without a postcode.
    let village = row(&rows, "Suchowola", |a| a.house_number() == "12-14");
    let flat = row(&rows, "Suchowola", |a| a.house_number().contains('/'));
    let farm = row(&rows, "Bugac", |a| a.house_number().starts_with("hrsz."));
    let street = row(&rows, "Bugac", |a| {
        a.street() == Some("Petőfi Sándor utca") && a.house_number() == "3"
    });
    let contacts = format!(
        "address_external_id,channel,destination,language\n\
         {v},sms,+48 512 000 001,pl\n{v},email,jan@wies.test,pl\n\
         {f},email,ann@village.test,en\n\
         {farm},sms,+36 30 200 0001,hu\n{farm},email,tanya@bugac.test,hu\n\
         {street},email,petofi@bugac.test,hu\n",
        v = village.external_id,
        f = flat.external_id,
        farm = farm.external_id,
        street = street.external_id,
    );
    let (s, v) = app.post_body("/api/v1/contacts/import", contacts).await;
    assert_eq!((s, v["rejected"].as_u64()), (200, Some(0)), "{v}");

    // Found by the polygon: the whole village of Suchowola, and two places in Bugac.
    let suchowola: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.address.settlement() == "Suchowola")
        .map(|r| (r.lon, r.lat))
        .collect();
    let (area, inside) = around(&rows, &suchowola);
    assert!(inside >= suchowola.len());
    // Every place here has electricity; some have no mains water.
    let mut power = app.water_outage(area);
    power["utility"] = json!("power");
    let village_outage = app.declare(&power).await;
    assert_eq!(
        village_outage["affected_addresses"], inside,
        "{village_outage}"
    );
    assert_eq!(village_outage["contacts"]["sms"], 1, "{village_outage}");
    let village_ref = village_outage["reference"].as_str().unwrap().to_string();
    let (area, inside) = around(&rows, &[(farm.lon, farm.lat), (street.lon, street.lat)]);
    let mut power = app.water_outage(area);
    power["utility"] = json!("power");
    let power = app.declare(&power).await;
    assert_eq!(power["affected_addresses"], inside, "{power}");
    let farm_ref = power["reference"].as_str().unwrap().to_string();
    let r = app.drain().await;
    assert_eq!((r.email.sent, r.sms.sent), (4, 2), "{r:?}");

    // The SMS and the e-mail name the place as people write it.
    let sms = app.sms.messages_to("+48512000001").remove(0).text;
    assert!(sms.contains(": Suchowola 12-14. "), "{sms}");
    reads_well(&sms, "Polish SMS");
    no_street_words(&sms, "Polish SMS");
    let mail = app.smtp.messages_to("jan@wies.test").remove(0);
    let subject = mail.subject();
    assert!(
        subject.contains(&format!(": Suchowola 12-14 ({village_ref})")),
        "{subject}"
    );
    reads_well(&subject, "Polish subject");
    let text = mail.text_body();
    assert!(has_line(&text, "Adres: Suchowola 12-14"), "{text}");
    no_street_words(&text, "Polish e-mail");
    assert!(mail.html_body().contains("<td>Suchowola 12-14</td>"));
    let text = app
        .smtp
        .messages_to("ann@village.test")
        .remove(0)
        .text_body();
    let line = format!("Address: Suchowola {}", flat.address.house_number());
    assert!(has_line(&text, &line), "{line} in {text}");

    let hrsz = farm.address.house_number();
    let sms = app.sms.messages_to("+36302000001").remove(0).text;
    assert!(sms.contains(&format!(": Bugac {hrsz}. ")), "{sms}");
    reads_well(&sms, "Hungarian SMS");
    let mail = app.smtp.messages_to("tanya@bugac.test").remove(0);
    assert!(
        mail.subject()
            .contains(&format!(": Bugac {hrsz} ({farm_ref})")),
        "{}",
        mail.subject()
    );
    assert!(has_line(&mail.text_body(), &format!("Cím: Bugac {hrsz}")));
    let mail = app.smtp.messages_to("petofi@bugac.test").remove(0);
    assert!(
        has_line(&mail.text_body(), "Cím: Petőfi Sándor utca 3, Bugac"),
        "{}",
        mail.text_body()
    );
    reads_well(&mail.subject(), "Hungarian subject");

    // The IVR says it as naturally, in every format (as the phone platform
    // asks, with its token).
    let ivr = |q: String| {
        let app = &app;
        async move {
            let r = app
                .http
                .get(app.url(&format!("/ivr/v1/status?{q}")))
                .bearer_auth(&app.ivr_token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{q}");
            r.text().await.unwrap()
        }
    };
    let v: Value = serde_json::from_str(&ivr("phone=%2B48512000001".into()).await).unwrap();
    assert_eq!(
        (v["language"].as_str(), v["affected"].as_bool()),
        (Some("pl"), Some(true))
    );
    let said = v["sentence"].as_str().unwrap();
    assert!(said.contains(": Suchowola 12-14. "), "{said}");
    reads_well(said, "Polish IVR sentence");
    no_street_words(said, "Polish IVR sentence");
    let v: Value = serde_json::from_str(&ivr("phone=%2B36302000001".into()).await).unwrap();
    let said = v["sentence"].as_str().unwrap();
    assert!(said.contains(&format!(": Bugac {hrsz}. ")), "{said}");
    reads_well(said, "Hungarian IVR sentence");
    let q = format!("address_id={}&lang=en", street.external_id);
    let v: Value = serde_json::from_str(&ivr(q).await).unwrap();
    let said = v["sentence"].as_str().unwrap();
    assert!(
        said.starts_with("Power outage at Petőfi Sándor utca 3, Bugac. "),
        "{said}"
    );
    for (format, schema) in [
        ("ssml", "voicexml21/synthesis.xsd"),
        ("vxml", "voicexml21/vxml.xsd"),
    ] {
        let doc = ivr(format!("phone=%2B48512000001&format={format}")).await;
        assert!(doc.contains("Suchowola 12-14"), "{doc}");
        assert_valid(&doc, schema);
    }
    // By postcode where the register has one; a place without one is not in any.
    let v: Value = serde_json::from_str(&ivr("postcode=26-020&lang=en".into()).await).unwrap();
    assert_eq!(
        (v["known"].as_bool(), v["affected"].as_bool()),
        (Some(true), Some(false))
    );
    reads_well(v["sentence"].as_str().unwrap(), "postcode sentence");
    let v: Value = serde_json::from_str(&ivr("postcode=26-021".into()).await).unwrap();
    assert_eq!(v["known"], false, "{v}");
    let feed: Value = serde_json::from_str(&ivr_feed(&app).await).unwrap();
    let outage = feed["outages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["reference"] == village_ref.as_str())
        .unwrap();
    assert_eq!(outage["postcodes"], json!([]), "no empty postcode listed");
    assert!(outage["settlements"]
        .as_array()
        .unwrap()
        .contains(&json!("Suchowola")));

    // Found by the status page's search, however it is typed.
    for (typed, label, reference) in [
        ("Suchowola 12-14", "Suchowola 12-14", Some(&village_ref)),
        (
            "suchowola 13 gmina chmielnik",
            "Suchowola 12-14",
            Some(&village_ref),
        ),
        (
            "Suchowola 12-14, gm. Chmielnik, powiat buski",
            "Suchowola 12-14",
            Some(&village_ref),
        ),
        (
            &format!("bugac {hrsz}"),
            &format!("Bugac {hrsz}"),
            Some(&farm_ref),
        ),
        (
            &format!("{} bugac", hrsz.trim_start_matches("hrsz. ")),
            &format!("Bugac {hrsz}"),
            Some(&farm_ref),
        ),
        (
            "Petőfi Sándor utca 3, Bugac",
            "Petőfi Sándor utca 3, Bugac",
            Some(&farm_ref),
        ),
        (
            "petofi s. u. 3 bugac",
            "Petőfi Sándor utca 3, Bugac",
            Some(&farm_ref),
        ),
        ("Lisów 7", "Lisów 7, 26-020", None),
        ("lisow 7a 26-020", "Lisów 7A, 26-020", None),
    ] {
        let html = page(&app, &format!("/search?lang=pl&q={}", query(typed))).await;
        let section = result(&html, label);
        match reference {
            Some(r) => assert!(section.contains(r.as_str()), "{typed}: {section}"),
            None => assert!(
                section.contains("Brak znanych awarii"),
                "{typed}: {section}"
            ),
        }
        reads_well(label, typed);
    }
    // The outage page names the village alone: it has no streets to list.
    let html = page(&app, &format!("/o/{village_ref}?lang=en")).await;
    let places = html
        .split("<dd>")
        .find(|d| d.contains("Suchowola"))
        .and_then(|d| d.split("</dd>").next())
        .unwrap_or_else(|| panic!("places in {html}"));
    assert!(!places.contains("Suchowola:"), "{places}");
    reads_well(places, "outage page places");
    // And the unsubscribe page reads the address as the messages do.
    let mail = app.smtp.messages_to("jan@wies.test").remove(0);
    let link = mail.header("List-Unsubscribe").unwrap();
    let link = link
        .trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap();
    let (_, html) = app.get_page(link).await;
    assert!(html.contains("dla adresu Suchowola 12-14 na"), "{html}");
}

async fn ivr_feed(app: &TestApp) -> String {
    page(app, "/ivr/v1/feed").await
}

/// Every place of the register is found by the search under the name every
/// message gives it (the search index alone, without a database).
#[test]
fn every_village_address_is_found_by_how_it_reads() {
    let rows = villages();
    let search = AddressSearch::build(rows.iter().enumerate().map(|(i, r)| SearchAddress {
        id: i as i64,
        external_id: r.external_id.clone(),
        address: r.address.clone(),
    }));
    for (i, r) in rows.iter().enumerate() {
        for form in [AddressForm::Full, AddressForm::Short] {
            let label = herald::i18n::address(Language::Pl, &r.address, form);
            let found = search.search(&label, 50);
            assert!(
                found.iter().any(|f| f.id == i as i64),
                "{label} ({}) is not found: {found:?}",
                r.external_id
            );
            assert!(found.len() < 50, "{label} finds too much");
        }
    }
}
