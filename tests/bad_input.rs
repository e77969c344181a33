//! Every bad input gets a 4xx whose message names the field, and leaves the stored
//! data exactly as it was.

mod support;

use serde_json::{json, Value};
use support::app::{start, water_outage_at, TestApp, Town};

enum Body {
    Json(Value),
    Raw(&'static str, String),
}

struct Case {
    what: &'static str,
    path: &'static str,
    body: Body,
    status: u16,
    /// Expected in the error's `field`.
    field: &'static str,
}

/// A valid declaration at the manual clock's start, with one field replaced.
fn with(key: &str, value: Value) -> Value {
    let mut body = water_outage_at(start(), Town::rect(0, 2, 0, 2));
    body[key] = value;
    body
}

fn without(key: &str) -> Value {
    let mut body = water_outage_at(start(), Town::rect(0, 2, 0, 2));
    body.as_object_mut().unwrap().remove(key);
    body
}

fn polygon(ring: Value) -> Value {
    json!({"type": "Polygon", "coordinates": [ring]})
}

/// Issue 10's 2°-wide strip across the antimeridian, which the old code read the
/// long way round the globe (358° wide, through the Town at latitude 47°).
fn antimeridian_strip() -> Value {
    polygon(json!([
        [179, 46],
        [-179, 46],
        [-179, 47],
        [179, 47],
        [179, 46]
    ]))
}

fn ring(&[x0, y0, x1, y1]: &[f64; 4]) -> Value {
    json!([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]])
}

/// A polygon around the Town (18.99..19.02, 46.99..47.02) with these holes.
fn holed(holes: &[[f64; 4]]) -> Value {
    let mut rings = vec![ring(&[18.99, 46.99, 19.02, 47.02])];
    rings.extend(holes.iter().map(ring));
    json!({"type": "Polygon", "coordinates": rings})
}

/// A MultiPolygon of these rectangles.
fn multi(parts: &[[f64; 4]]) -> Value {
    let parts: Vec<Value> = parts.iter().map(|r| json!([ring(r)])).collect();
    json!({"type": "MultiPolygon", "coordinates": parts})
}

fn circle(n: usize) -> Value {
    let mut ring: Vec<Value> = (0..n)
        .map(|k| {
            let a = k as f64 / n as f64 * std::f64::consts::TAU;
            json!([19.0 + 0.01 * a.cos(), 47.0 + 0.01 * a.sin()])
        })
        .collect();
    ring.push(ring[0].clone());
    polygon(Value::Array(ring))
}

fn cases() -> Vec<Case> {
    let j = |what, body, field| Case {
        what,
        path: "/api/v1/outages",
        body: Body::Json(body),
        status: 422,
        field,
    };
    let csv = |what, path, text: &str, field| Case {
        what,
        path,
        body: Body::Raw("text/csv", text.to_string()),
        status: 422,
        field,
    };
    let addr_header = "external_id,street,house_number,postcode,settlement,lon,lat\n";
    let contact_header = "address_external_id,channel,destination,language\n";
    vec![
        j("unclosed ring", with("area", polygon(json!([[19.0, 47.0], [19.01, 47.0], [19.01, 47.01], [19.0, 47.01]]))), "area"),
        j("ring of three positions", with("area", polygon(json!([[19.0, 47.0], [19.01, 47.0], [19.0, 47.0]]))), "area"),
        j("longitude out of range", with("area", polygon(json!([[190.0, 47.0], [19.01, 47.0], [19.01, 47.01], [190.0, 47.0]]))), "area"),
        j("latitude out of range", with("area", polygon(json!([[19.0, -91.0], [19.01, 47.0], [19.01, 47.01], [19.0, -91.0]]))), "area"),
        j("non-numeric coordinate", with("area", polygon(json!([[19.0, 47.0], ["x", 47.0], [19.01, 47.01], [19.0, 47.0]]))), "area"),
        j("self-intersecting ring", with("area", polygon(json!([[19.0, 47.0], [19.01, 47.01], [19.01, 47.0], [19.0, 47.01], [19.0, 47.0]]))), "area"),
        j("too many vertices", with("area", circle(2_000)), "area"),
        // Geometry that is not what the dispatcher meant (see `geometry_the_dispatcher_did_not_mean…`).
        j("ring across the antimeridian", with("area", antimeridian_strip()), "area.coordinates[0][1]"),
        j("hole outside its shell", with("area", holed(&[[19.05, 47.05, 19.06, 47.06]])), "area.coordinates[1]"),
        j("hole crossing its shell", with("area", holed(&[[19.0, 47.0, 19.03, 47.005]])), "area.coordinates[1]"),
        j("overlapping parts", with("area", multi(&[[18.999, 46.999, 19.002, 47.002], [19.001, 46.999, 19.004, 47.002]])), "area.coordinates[1]"),
        j("point instead of polygon", with("area", json!({"type": "Point", "coordinates": [19.0, 47.0]})), "area"),
        j("line string", with("area", json!({"type": "LineString", "coordinates": [[19.0, 47.0], [19.1, 47.1]]})), "area"),
        j("area missing", without("area"), "area"),
        j("etr not a timestamp", with("etr", json!("tomorrow evening")), "etr"),
        j("etr a number", with("etr", json!(1700000000)), "etr"),
        j("etr in the past", with("etr", json!("2020-01-01T10:00:00Z")), "etr"),
        j("unknown utility", with("utility", json!("electricity")), "utility"),
        j("utility missing", without("utility"), "utility"),
        j("empty cause", with("cause", json!("   ")), "cause"),
        j("cause too long", with("cause", json!("x".repeat(501))), "cause"),
        // Control characters would make every SSML/VoiceXML answer invalid XML.
        j("NUL byte in the cause", with("cause", json!("Burst\u{0}main")), "cause"),
        j("escape sequence in the cause", with("cause", json!("Burst \u{1b}[31mmain")), "cause"),
        j("control character in a message", with("message", json!({"en": "Water\u{7}off"})), "message.en"),
        // Nor can XML carry U+FFFE or U+FFFF, which are not control characters.
        j("U+FFFE in the cause", with("cause", json!("Burst \u{FFFE} main")), "cause"),
        j("U+FFFF in a message", with("message", json!({"pl": "Brak\u{FFFF}wody"})), "message.pl"),
        j("unknown field", with("colour", json!("red")), "colour"),
        j("planned without start", with("kind", json!("planned")), "starts_at"),
        j("unknown kind", with("kind", json!("surprise")), "kind"),
        j("message in unsupported language", with("message", json!({"de": "Wasser weg"})), "message.de"),
        j("unknown urgency", with("urgency", json!("panic")), "urgency"),
        Case { what: "broken JSON", path: "/api/v1/outages", body: Body::Raw("application/json", "{\"utility\": ".into()), status: 400, field: "body" },
        Case { what: "JSON array", path: "/api/v1/outages", body: Body::Json(json!([1, 2])), status: 422, field: "body" },
        Case { what: "oversized body", path: "/api/v1/outages", body: Body::Raw("application/json", format!("{{\"cause\": \"{}\"}}", "x".repeat(300_000))), status: 413, field: "body" },
        Case { what: "preview with bad area", path: "/api/v1/outages/preview", body: Body::Json(with("area", json!({"type": "Polygon", "coordinates": []}))), status: 422, field: "area" },
        csv("addresses CSV without lat column", "/api/v1/addresses/import", "external_id,street,house_number,postcode,settlement,lon\nX1,Fő utca,1,1011,Budapest,19.0\n", "header"),
        csv("address with bad longitude", "/api/v1/addresses/import", &format!("{addr_header}X1,Fő utca,1,1011,Budapest,east,47.0\n"), "lon"),
        // A street or a postcode may be empty (a village without streets); a settlement may not.
        csv("address without settlement", "/api/v1/addresses/import", &format!("{addr_header}X1,Fő utca,1,1011,Budapest,19.0,47.0\nX2,Fő utca,2,1011,,19.0,47.0\n"), "settlement"),
        csv("address without house number", "/api/v1/addresses/import", &format!("{addr_header}X1,,,,Wola,19.0,47.0\n"), "house_number"),
        csv("contact with bad phone", "/api/v1/contacts/import", &format!("{contact_header}T1,sms,06 30 12,hu\n"), "destination"),
        csv("contact with letters for phone", "/api/v1/contacts/import", &format!("{contact_header}T1,sms,call me,hu\n"), "destination"),
        csv("contact with a 5,000-digit phone", "/api/v1/contacts/import", &format!("{contact_header}T1,sms,{},hu\n", "3".repeat(5_000)), "destination"),
        csv("address with a control character", "/api/v1/addresses/import", &format!("{addr_header}X1,Fő\u{8}utca,1,1011,Budapest,19.0,47.0\n"), "street"),
        csv("address with U+FFFE", "/api/v1/addresses/import", &format!("{addr_header}X1,Fő utca,1,1011,Buda\u{FFFE}pest,19.0,47.0\n"), "settlement"),
        csv("contact with bad email", "/api/v1/contacts/import", &format!("{contact_header}T1,email,anna@,hu\n"), "destination"),
        csv("contact with unknown channel", "/api/v1/contacts/import", &format!("{contact_header}T1,fax,+3612345678,hu\n"), "channel"),
        csv("contact with unknown language", "/api/v1/contacts/import", &format!("{contact_header}T1,email,a@b.example,de\n"), "language"),
        csv("contact at unknown address", "/api/v1/contacts/import", &format!("{contact_header}T1,email,ok@town.test,hu\nNOPE,email,x@town.test,hu\n"), "address_external_id"),
    ]
}

/// The town with one water outage declared and its messages sent: the app and
/// the outage's id.
async fn town_with_an_outage() -> (TestApp, i64) {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    app.drain().await;
    (app, outage["id"].as_i64().unwrap())
}

/// Everything a bad request could have damaged.
async fn snapshot(app: &TestApp) -> Value {
    let store = app.state().store.clone();
    // Every column of every address, as the in-memory register reads them.
    let addresses = tokio::task::spawn_blocking(move || {
        let mut rows = Vec::new();
        store
            .each_address(&mut |a| rows.push(format!("{a:?}")))
            .unwrap();
        rows
    })
    .await
    .unwrap();
    // The contacts who would be told, per channel, as the database holds them.
    let contacts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT channel, COUNT(*) FROM contacts WHERE opted_out_at IS NULL \
         GROUP BY channel ORDER BY channel",
    )
    .fetch_all(&mut app.db().await)
    .await
    .unwrap();
    let store = &app.state().store;
    json!({
        "outages": app.get_json("/api/v1/outages").await.1,
        "addresses": addresses,
        "contacts": format!("{contacts:?}"),
        "deliveries": format!("{:?}", store.delivery_totals().await.unwrap()),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_a_clear_4xx_and_change_nothing() {
    let app = TestApp::spawn_with(|c| {
        c.max_area_vertices = 1_000;
        c.max_body_bytes = 256 * 1024;
    })
    .await;
    app.import_town(&Town).await;
    let before = snapshot(&app).await;
    let cases = cases();
    assert!(cases.len() >= 20);
    for case in &cases {
        let request = app.http.post(app.url(case.path)).bearer_auth(&app.token);
        let request = match &case.body {
            Body::Json(v) => request.json(v),
            Body::Raw(ct, text) => request.header("Content-Type", *ct).body(text.clone()),
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let v: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, case.status, "{}: {v}", case.what);
        let field = v["error"]["field"].as_str().unwrap_or_default();
        assert!(
            field.contains(case.field),
            "{}: field '{field}' should name '{}': {v}",
            case.what,
            case.field
        );
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.len() > 5, "{}: message too thin: {v}", case.what);
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a bad request changed stored data"
    );
    // And the skip mode of the importer reports bad rows by line while importing good ones.
    let (s, v) = app
        .post_body(
            "/api/v1/contacts/import?on_error=skip",
            "address_external_id,channel,destination,language\nT1,sms,06 30 12,hu\nT1,email,new@town.test,hu\n",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["inserted"], 1);
    assert_eq!(v["errors"][0]["line"], 2);
    assert_eq!(v["errors"][0]["field"], "destination");
}

/// One request with bad parameters and what must come back.
struct ParamCase {
    method: &'static str,
    path: String,
    status: u16,
    /// The parameter the error must name.
    field: &'static str,
}

/// Every typed parameter of every endpoint that refuses bad values, with a bad
/// value (or a missing required one), and the parameter the 4xx must name.
fn param_cases(outage_id: i64) -> Vec<ParamCase> {
    let get = |path: &str, field| ParamCase {
        method: "GET",
        path: path.to_string(),
        status: 400,
        field,
    };
    let post = |path: &str, field| ParamCase {
        method: "POST",
        path: path.to_string(),
        status: 400,
        field,
    };
    let deliveries = format!("/api/v1/outages/{outage_id}/deliveries");
    vec![
        // The operator API.
        get("/api/v1/outages?status=bogus", "status"),
        get("/api/v1/outages?status=Active", "status"),
        get("/api/v1/outages?utility=electricity", "utility"),
        get("/api/v1/outages?reference=WA-0000-X", "reference"),
        get("/api/v1/outages?reference=hello", "reference"),
        get("/api/v1/outages?limit=0", "limit"),
        get("/api/v1/outages?limit=10001", "limit"),
        get("/api/v1/outages?limit=ten", "limit"),
        get("/api/v1/outages?limit=", "limit"),
        get("/api/v1/outages?limit=5&limit=x", "limit"),
        get(&format!("{deliveries}?state=lost"), "state"),
        get(&format!("{deliveries}?limit=-1"), "limit"),
        get(&format!("{deliveries}?state=sent&limit="), "limit"),
        post("/api/v1/addresses/import?on_error=ignore", "on_error"),
        post("/api/v1/contacts/import?on_error=", "on_error"),
        post("/api/v1/contacts/import?on_error=Skip", "on_error"),
        // The IVR.
        get("/ivr/v1/status", "query"),
        get(
            &format!("/ivr/v1/status?phone={}", "3".repeat(5_000)),
            "phone",
        ),
        get(&format!("/ivr/v1/sms?phone={}", "3".repeat(5_000)), "phone"),
        get("/ivr/v1/status?postcode=1111&format=pdf", "format"),
        get("/ivr/v1/status?postcode=1111&format=", "format"),
        get("/ivr/v1/status?postcode=11%2F14", "postcode"),
        get("/ivr/v1/status?postcode=1234567890123", "postcode"),
        get("/ivr/v1/status?reference=WA-0000-X", "reference"),
        get("/ivr/v1/status?reference=PW", "reference"),
        get("/ivr/v1/status?lat=91&lon=19", "lat"),
        get("/ivr/v1/status?lat=north&lon=19", "lat"),
        get("/ivr/v1/status?lat=47&lon=181", "lon"),
        get("/ivr/v1/status?lat=47&lon=NaN", "lon"),
        get("/ivr/v1/status?lat=47", "lon"),
        get("/ivr/v1/status?lon=19", "lat"),
        get("/ivr/v1/status?postcode=1111&lang=de", "lang"),
        get("/ivr/v1/status?postcode=1111&lang=xx-YY", "lang"),
        get("/ivr/v1/sms", "phone"),
        get("/ivr/v1/sms?phone=", "phone"),
        get("/ivr/v1/sms?phone=call+me", "phone"),
        post("/ivr/v1/sms?phone=12", "phone"),
        get("/ivr/v1/sms?phone=%2B36301000000&lang=de", "lang"),
        post("/ivr/v1/sms?phone=%2B36301000000&lang=de", "lang"),
        // With several problems, the one the old code reported first still is.
        get("/api/v1/outages?limit=x&status=y", "status"),
        get("/api/v1/outages?utility=x&reference=y", "reference"),
        get("/ivr/v1/status?lang=de&reference=x&format=pdf", "format"),
        get("/ivr/v1/status?lang=de&reference=x", "reference"),
        get("/ivr/v1/status?lang=de", "query"),
        get("/ivr/v1/sms?lang=de&phone=12", "phone"),
        ParamCase {
            method: "GET",
            path: "/api/v1/outages/999999/deliveries?state=lost".into(),
            status: 404,
            field: "",
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_get_a_4xx_naming_the_parameter() {
    let (app, id) = town_with_an_outage().await;
    let before = snapshot(&app).await;
    let sms_before = app.sms.count();
    for case in param_cases(id) {
        let url = app.url(&case.path);
        let request = match case.method {
            "GET" => app.http.get(url),
            _ => app.http.post(url).body(""),
        };
        let response = request.bearer_auth(&app.token).send().await.unwrap();
        let status = response.status().as_u16();
        let what = format!("{} {}", case.method, case.path);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        let v: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, case.status, "{what}: {v}");
        assert_eq!(content_type, "application/json", "{what}");
        assert_eq!(v["error"]["status"], case.status, "{what}: {v}");
        if !case.field.is_empty() {
            assert_eq!(v["error"]["field"], case.field, "{what}: {v}");
        }
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.len() > 5, "{what}: message too thin: {v}");
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a bad request changed stored data"
    );
    // Anything a bad request had queued would go out now.
    app.drain().await;
    assert_eq!(app.sms.count(), sms_before, "a bad request sent an SMS");
}

/// Geometry that is not what the dispatcher meant (issue 10, item 7) is refused
/// wherever an area is taken (declare, preview, update) with a 422 naming the
/// ring and saying what to send instead; and what they should send is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geometry_the_dispatcher_did_not_mean_is_refused() {
    let (app, id) = town_with_an_outage().await;
    let before = snapshot(&app).await;
    let refused = [
        (
            antimeridian_strip(),
            "area.coordinates[0][1]",
            vec![
                "RFC 7946 §3.1.9",
                "split the polygon at the antimeridian",
                "more than 180°",
            ],
        ),
        (
            json!({"type": "Feature", "properties": {}, "geometry": antimeridian_strip()}),
            "area.geometry.coordinates[0][1]",
            vec!["RFC 7946 §3.1.9"],
        ),
        (
            holed(&[[19.05, 47.05, 19.06, 47.06]]),
            "area.coordinates[1]",
            vec!["outside its shell area.coordinates[0]"],
        ),
        (
            holed(&[
                [19.001, 47.001, 19.002, 47.002],
                [19.0, 47.0, 19.03, 47.005],
            ]),
            "area.coordinates[2]",
            vec!["reaches outside its shell area.coordinates[0]"],
        ),
        (
            holed(&[
                [19.001, 47.001, 19.003, 47.003],
                [19.002, 47.002, 19.004, 47.004],
            ]),
            "area.coordinates[2]",
            vec!["overlaps the hole area.coordinates[1]"],
        ),
        (
            multi(&[
                [18.999, 46.999, 19.002, 47.002],
                [19.1, 47.1, 19.2, 47.2],
                [19.001, 46.999, 19.004, 47.002],
            ]),
            "area.coordinates[2]",
            vec!["overlaps the polygon area.coordinates[0]"],
        ),
    ];
    for (area, field, needles) in &refused {
        let patch = json!({ "area": area });
        let requests = [
            (
                "declare",
                app.http
                    .post(app.url("/api/v1/outages"))
                    .json(&with("area", area.clone())),
            ),
            (
                "preview",
                app.http
                    .post(app.url("/api/v1/outages/preview"))
                    .json(&with("area", area.clone())),
            ),
            (
                "update",
                app.http
                    .patch(app.url(&format!("/api/v1/outages/{id}")))
                    .json(&patch),
            ),
        ];
        for (what, request) in requests {
            let (status, v) = app.send(request).await;
            assert_eq!(status, 422, "{what} {field}: {v}");
            assert_eq!(v["error"]["field"], *field, "{what}: {v}");
            let message = v["error"]["message"].as_str().unwrap_or_default();
            for needle in needles {
                assert!(message.contains(needle), "{what} {field}: {message}");
            }
        }
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused area changed stored data"
    );
    app.drain().await;

    // What the dispatcher meant, sent as asked: accepted, and reaching what it should.
    let accepted = [
        // The strip split at the antimeridian: nowhere near the Town.
        (
            multi(&[[179.0, 46.0, 180.0, 47.0], [-180.0, 46.0, -179.0, 47.0]]),
            0,
        ),
        // Parts sharing an edge (between columns 1 and 2) and touching at a corner.
        (
            multi(&[
                [18.9995, 46.9995, 19.0015, 47.0005],
                [19.0015, 46.9995, 19.0035, 47.0005],
                [19.0035, 47.0005, 19.0045, 47.0015],
            ]),
            5,
        ),
        // A hole sharing two edges with its shell, and an island (a second part) in the hole.
        (
            json!({"type": "MultiPolygon", "coordinates": [
                [ring(&[18.9995, 46.9995, 19.0095, 47.0095]), ring(&[18.9995, 47.0005, 19.0045, 47.0095])],
                [ring(&[19.0005, 47.0015, 19.0015, 47.0025])],
            ]}),
            100 - 5 * 9 + 1,
        ),
    ];
    for (area, reach) in accepted {
        let (status, v) = app
            .post_json("/api/v1/outages/preview", &with("area", area.clone()))
            .await;
        assert_eq!(status, 200, "{area}: {v}");
        assert_eq!(v["affected_addresses"], reach, "{area}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_empty_repeated_and_unused_parameters_are_accepted() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let (id, reference) = (
        outage["id"].as_i64().unwrap(),
        outage["reference"].as_str().unwrap(),
    );
    for path in [
        // Unknown parameters are ignored, empty filters are no filter.
        "/api/v1/outages?_=1700000000&utm_source=mail".to_string(),
        "/api/v1/outages?status=&utility=&reference=".to_string(),
        // A repeated parameter: the last one counts.
        "/api/v1/outages?limit=x&limit=5".to_string(),
        format!("/api/v1/outages/{id}/deliveries?state=&cachebust=2"),
        format!("/api/v1/outages?status=active&utility=water&reference={reference}&limit=1"),
        // The IVR reads one place, by precedence; the others are not validated.
        "/ivr/v1/status?phone=anonymous&reference=junk&lat=999".to_string(),
        "/ivr/v1/status?postcode=1111&lat=north".to_string(),
        "/ivr/v1/status?postcode=+1111+&lang=&x=1".to_string(),
        "/ivr/v1/status?address_id=T0&format=voicexml&lang=en-GB".to_string(),
        // Public pages never refuse a visitor over a parameter.
        "/?lang=xx".to_string(),
        "/planned?lang=".to_string(),
        format!("/o/{reference}?lang=zz&utm=1"),
        "/search?q=&lang=klingon".to_string(),
        "/subscribe?address=abc&lang=".to_string(),
    ] {
        let r = app
            .http
            .get(app.url(&path))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
    }
    let (_, v) = app.get_json("/api/v1/outages?limit=x&limit=1").await;
    assert_eq!(v["outages"].as_array().unwrap().len(), 1);
    let (_, v) = app
        .get_json(&format!(
            "/api/v1/outages?reference={}",
            reference.to_lowercase()
        ))
        .await;
    assert_eq!(
        v["outages"][0]["id"], id,
        "references are read leniently: {v}"
    );
}
