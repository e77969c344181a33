//! A console user for tests: a browser with its own cookies and client
//! address that signs in through the form, and the operators it signs in as.

use std::collections::HashMap;

use herald::auth::Role;
use herald::domain::audit::Actor;
use serde_json::Value;

use super::app::{TestApp, Town};

pub const PASSWORD: &str = "correct horse battery";

pub async fn operator(app: &TestApp, name: &str, role: Role) {
    herald::operators::create(
        &app.state().store,
        name,
        role,
        PASSWORD.into(),
        &Actor::cli(),
        app.now(),
    )
    .await
    .expect("operator");
}

/// A browser: its own cookies, redirects not followed (the tests look at them).
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    pub cookies: HashMap<String, String>,
    /// The client address it claims through the trusted test proxy.
    pub from: String,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub text: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser::from(app, "203.0.113.7")
    }

    pub fn from(app: &TestApp, addr: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: HashMap::new(),
            from: addr.into(),
        }
    }

    pub fn cookie_header(&self) -> String {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.join("; ")
    }

    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let r = request
            .header("cookie", self.cookie_header())
            .header("x-forwarded-for", &self.from)
            .header("accept-language", "en-GB,en;q=0.8")
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let set_cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &set_cookies {
            let (pair, attributes) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        Page {
            status,
            location,
            set_cookies,
            text: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    pub async fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(request).await
    }

    /// A JSON request as the console's scripts send it: the session cookie,
    /// and the CSRF token when `csrf` is given.
    pub async fn api(&mut self, method: &str, path: &str, body: &Value, csrf: Option<&str>) -> u16 {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(body);
        if let Some(token) = csrf {
            request = request.header("x-csrf-token", token);
        }
        self.send(request).await.status
    }

    /// [`Browser::api`], with the answer's JSON.
    pub async fn api_json(&mut self, path: &str, body: &Value, csrf: Option<&str>) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = csrf {
            request = request.header("x-csrf-token", token);
        }
        let page = self.send(request).await;
        let value = serde_json::from_str(&page.text).unwrap_or(Value::Null);
        (page.status, value)
    }

    /// Signs in through the form; returns the page it ends on.
    /// (As a fresh window would: a session this browser holds is forgotten.)
    pub async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        self.cookies.remove("herald_session");
        let form = self.get("/console/login").await;
        assert_eq!(form.status, 200, "{}", form.text);
        let csrf = hidden(&form.text, "csrf");
        self.post_form(
            "/console/login",
            &[
                ("username", username),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/console"),
            ],
        )
        .await
    }

    /// The session's CSRF token, as the console's pages carry it.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/console").await;
        assert_eq!(page.status, 200, "{}", page.text);
        hidden(&page.text, "csrf")
    }
}

/// The value of the hidden input `name` in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no hidden {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The app behind a trusted proxy (loopback), so each test browser can
/// present its own client address.
pub async fn app() -> TestApp {
    let app = TestApp::spawn_with(|c| c.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    app.import_town(&Town).await;
    app
}
