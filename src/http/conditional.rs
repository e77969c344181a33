//! Conditional requests: `If-None-Match` (RFC 9110 §13.1.2), the one place every
//! `304 Not Modified` we answer is decided (status pages, IVR answers, the IVR feed).
//!
//! The field is a comma-separated list of entity tags, possibly spread over several
//! header lines, or `*`. It is compared with the **weak** comparison function
//! (§8.8.3.2): `W/"x"` matches `"x"` and the other way round, because a client
//! revalidating a cached copy only needs to know the content is equivalent.
//! `*` matches any current representation, so it needs to know whether there is
//! one: [`if_none_match`] says which kind of match it found and leaves that to the
//! caller; [`not_modified`] is for answers that always exist (every valid IVR
//! query has one). Only an answer that would be a 2xx may become a 304 (§13.2.1:
//! a 404 ignores preconditions).
//!
//! Parsing is by the grammar, not by splitting on commas: a comma is a legal
//! character inside an opaque tag (`"a,b"`). A list member that is not an entity
//! tag (a bare `abc`, an unterminated quote) is skipped up to the next comma, so
//! one malformed member does not hide the valid ones around it.

use axum::http::{header, HeaderMap};

/// What `If-None-Match` says about the current representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// No header, or none of its tags is the current one: answer in full.
    Unmatched,
    /// It lists the current tag: the client has this representation; 304.
    Tag,
    /// It is `*` (and lists no current tag): 304 if a current representation
    /// exists, else answer in full.
    Any,
}

/// Evaluates `If-None-Match` against `current`, the entity tag of the
/// representation the request would get, with its quotes (`"v12-ab"`, or
/// `W/"v12-ab"`). Every header line counts.
pub fn if_none_match(headers: &HeaderMap, current: &str) -> Condition {
    let current = opaque(current);
    let mut condition = Condition::Unmatched;
    // A line that is not visible ASCII cannot hold an entity tag we sent.
    for line in headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for member in members(line) {
            match member {
                Member::Tag(tag) if Some(tag) == current => return Condition::Tag,
                Member::Tag(_) => {}
                Member::Any => condition = Condition::Any,
            }
        }
    }
    condition
}

/// Whether to answer `304 Not Modified` for a representation that exists:
/// `If-None-Match` lists `current` or is `*`. No header: false.
pub fn not_modified(headers: &HeaderMap, current: &str) -> bool {
    if_none_match(headers, current) != Condition::Unmatched
}

#[derive(Debug, PartialEq, Eq)]
enum Member<'a> {
    /// `*`
    Any,
    /// The opaque tag with its quotes, weakness dropped (weak comparison).
    Tag(&'a str),
}

/// The opaque part (`"x"`) of an entity tag, `W/` dropped; None if it is not one.
fn opaque(tag: &str) -> Option<&str> {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    let inner = tag.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('"')).then_some(tag)
}

/// The members of one `If-None-Match` line.
fn members(line: &str) -> impl Iterator<Item = Member<'_>> {
    let mut rest = line;
    std::iter::from_fn(move || loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return None;
        }
        if let Some(after) = rest.strip_prefix('*') {
            if ends_member(after) {
                rest = after;
                return Some(Member::Any);
            }
        }
        let start = rest;
        let unweak = rest.strip_prefix("W/").unwrap_or(rest);
        if let Some(body) = unweak.strip_prefix('"') {
            if let Some(end) = body.find('"') {
                let after = &body[end + 1..];
                if ends_member(after) {
                    let prefix = start.len() - unweak.len();
                    let tag = &start[prefix..prefix + end + 2];
                    rest = after;
                    return Some(Member::Tag(tag));
                }
            }
        }
        // Not an entity tag: skip to the next comma outside quotes (or give up
        // on an unterminated quote, which swallows the rest of the line).
        rest = skip_member(rest);
    })
}

/// True when what follows a member is only whitespace up to a comma or the end.
fn ends_member(after: &str) -> bool {
    let after = after.trim_start_matches([' ', '\t']);
    after.is_empty() || after.starts_with(',')
}

fn skip_member(s: &str) -> &str {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return &s[i..],
            _ => {}
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in lines {
            h.append(header::IF_NONE_MATCH, HeaderValue::from_str(line).unwrap());
        }
        h
    }

    fn listed(line: &str) -> Vec<Member<'_>> {
        members(line).collect()
    }

    const TAG: &str = "\"v7-0123abcd\"";

    #[test]
    fn no_header_never_matches() {
        assert!(!not_modified(&HeaderMap::new(), TAG));
    }

    #[test]
    fn the_same_tag_matches() {
        assert!(not_modified(&headers(&[TAG]), TAG));
        assert!(!not_modified(&headers(&["\"v6-0123abcd\""]), TAG));
    }

    #[test]
    fn a_list_matches_any_member() {
        let line = format!("\"v5-aaaa\", {TAG} ,\"v9-bbbb\"");
        assert!(not_modified(&headers(&[&line]), TAG));
        assert!(!not_modified(&headers(&["\"v5-aaaa\", \"v9-bbbb\""]), TAG));
    }

    #[test]
    fn every_header_line_counts() {
        // Caches merging validators send several lines; the match may be in any.
        assert!(not_modified(&headers(&["\"v5-aaaa\"", TAG]), TAG));
        assert!(not_modified(
            &headers(&["\"v1\", \"v2\"", &format!("\"v3\", {TAG}")]),
            TAG
        ));
        assert!(!not_modified(&headers(&["\"v1\"", "\"v2\""]), TAG));
    }

    #[test]
    fn star_matches_whatever_exists() {
        assert!(not_modified(&headers(&["*"]), TAG));
        assert!(not_modified(&headers(&[" * "]), TAG));
        assert!(not_modified(&headers(&["\"v1\"", "*"]), TAG));
    }

    #[test]
    fn comparison_is_weak() {
        assert!(not_modified(&headers(&["W/\"v7-0123abcd\""]), TAG));
        assert!(not_modified(&headers(&[TAG]), "W/\"v7-0123abcd\""));
        assert!(not_modified(&headers(&["W/\"x\", W/\"v7-0123abcd\""]), TAG));
        // `W/` is case-sensitive (RFC 9110 §8.8.3): `w/"…"` is not an entity tag.
        assert!(!not_modified(&headers(&["w/\"v7-0123abcd\""]), TAG));
    }

    #[test]
    fn tags_compare_exactly_otherwise() {
        // Quotes are part of the tag: an unquoted value is not our tag.
        assert!(!not_modified(&headers(&["v7-0123abcd"]), TAG));
        assert!(!not_modified(&headers(&["\"V7-0123ABCD\""]), TAG));
        assert!(!not_modified(&headers(&["\"v7-0123abc\""]), TAG));
        assert!(!not_modified(&headers(&["\"v7-0123abcd"]), TAG));
    }

    #[test]
    fn a_comma_inside_a_tag_is_part_of_it() {
        assert_eq!(
            listed("\"a,b\", W/\"c\""),
            [Member::Tag("\"a,b\""), Member::Tag("\"c\"")]
        );
        assert!(not_modified(&headers(&["\"x\", \"a,b\""]), "\"a,b\""));
        assert!(!not_modified(&headers(&["\"a,b\""]), "\"a\""));
    }

    #[test]
    fn malformed_members_are_skipped_not_fatal() {
        assert_eq!(
            listed("abc, \"v1\" junk, **, \"v2\",,, W/\"v3\""),
            [Member::Tag("\"v2\""), Member::Tag("\"v3\"")]
        );
        // `"open, "` is a tag followed by junk: the whole member goes.
        assert_eq!(listed("\"open, \"v1\""), []);
        assert_eq!(listed(""), []);
        assert_eq!(listed(" , ,"), []);
        assert!(not_modified(&headers(&["abc, ", TAG]), TAG));
    }

    #[test]
    fn the_condition_says_how_it_matched() {
        let h = |lines: &[&str]| if_none_match(&headers(lines), TAG);
        assert_eq!(h(&[]), Condition::Unmatched);
        assert_eq!(h(&["\"v1\""]), Condition::Unmatched);
        assert_eq!(h(&[TAG]), Condition::Tag);
        assert_eq!(h(&["*"]), Condition::Any);
        // A listed tag is the stronger answer: it needs no existence check.
        assert_eq!(h(&["*", TAG]), Condition::Tag);
        assert_eq!(h(&[&format!("*, W/{TAG}")]), Condition::Tag);
    }

    #[test]
    fn a_current_tag_that_is_not_one_matches_only_star() {
        assert!(!not_modified(&headers(&["\"\""]), "not-quoted"));
        assert!(not_modified(&headers(&["*"]), "not-quoted"));
    }
}
