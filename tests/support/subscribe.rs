//! The status page's sign-up flow as a resident goes through it: the
//! address picked from the search, the form posted, the confirmation link.

use super::app::TestApp;

pub async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = app
        .http
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The address id behind "Kossuth Lajos utca {house}" on the subscribe search.
pub async fn address_id(app: &TestApp, house: usize) -> String {
    let (s, html) = app
        .get_page(&format!("/subscribe?q=kossuth+l.+u.+{house}"))
        .await;
    assert_eq!(s, 200);
    let label = format!("Kossuth Lajos utca {house}, 1111 Budapest</a>");
    let at = html
        .find(&label)
        .unwrap_or_else(|| panic!("{label} in {html}"));
    let href = html[..at].rfind("/subscribe?address=").unwrap();
    html[href + "/subscribe?address=".len()..at]
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// The confirmation token in a message's text.
pub fn token_in(text: &str) -> String {
    let at = text.find("/subscribe/confirm/").expect("confirmation link");
    text[at + "/subscribe/confirm/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}
