//! One outage's dashboard in the console: its deliveries by channel and state,
//! and who called the phone system before being told (see [`crate::calls`]).
//! The outage page renders it; `GET /console/o/{ref}/live` returns the same
//! figures as JSON, which `static/console.js` polls to keep the page current
//! during a fan-out without reloading it.

use serde_json::{json, Map, Value};

use super::public::Words;
use super::AppState;
use crate::calls::{self, CallStats};
use crate::domain::{Channel, DeliveryState, Outage};
use crate::error::Result;
use crate::i18n;

/// One channel's deliveries by state.
pub struct DeliveryLine {
    /// `email` or `sms`: the live cells' key.
    pub key: &'static str,
    pub channel: String,
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
}

/// The callers' figures, as words.
pub struct CallLines {
    pub callers: String,
    pub told: String,
    pub share: String,
    pub lead: String,
}

pub struct Dashboard {
    pub deliveries: Vec<DeliveryLine>,
    /// Deliveries that failed for good, whatever the channel: when it moves,
    /// the page's failure list is out of date.
    pub dead: i64,
    pub calls: CallLines,
    /// Residents' reports of no supply inside it.
    pub reports_inside: String,
    /// Reports of supply still out within a day after its restore.
    pub reports_still_out: String,
    /// When the figures were read, in words.
    pub updated: String,
}

impl Dashboard {
    pub async fn of(state: &AppState, w: &Words, outage: &Outage) -> Result<Dashboard> {
        let counts = state.store.delivery_counts(outage.id).await?;
        let sum = |channel: Channel, states: &[DeliveryState]| -> i64 {
            counts
                .iter()
                .filter(|c| c.channel == channel && states.contains(&c.state))
                .map(|c| c.count)
                .sum()
        };
        let deliveries = [Channel::Email, Channel::Sms]
            .into_iter()
            .map(|channel| DeliveryLine {
                key: channel.as_str(),
                channel: w.t(&format!("console-channel-{}", channel.as_str())),
                pending: sum(channel, DeliveryState::QUEUED),
                sent: sum(channel, &[DeliveryState::Sent, DeliveryState::Delivered]),
                failed: sum(
                    channel,
                    &[
                        DeliveryState::Dead,
                        DeliveryState::Expired,
                        DeliveryState::Failed,
                    ],
                ),
            })
            .collect();
        let dead =
            sum(Channel::Email, &[DeliveryState::Dead]) + sum(Channel::Sms, &[DeliveryState::Dead]);
        let stats =
            calls::outage_stats(&state.calls, &state.store, &state.server_key, outage.id).await?;
        let reports = state.store.outage_reports(outage.id).await?;
        let now = state.clock.now();
        let reports_still_out = match reports.last_still_out_at {
            Some(at) => i18n::t_args(
                w.lang,
                "console-reports-still-out-last",
                &i18n::args([
                    ("count", reports.still_out.to_string()),
                    ("time", i18n::date_time(w.lang, state.tz, at)),
                ]),
            ),
            None => reports.still_out.to_string(),
        };
        Ok(Dashboard {
            deliveries,
            dead,
            calls: call_lines(w, &stats),
            reports_inside: reports.inside.to_string(),
            reports_still_out,
            updated: w.ta(
                "console-live-updated",
                "time",
                &i18n::date_time(w.lang, state.tz, now),
            ),
        })
    }

    /// The page's live cells (`data-live` attribute → text) and what tells
    /// the page it is out of date, as `console.js` reads them.
    pub fn live(&self, outage: &Outage) -> Value {
        let mut cells = Map::new();
        for d in &self.deliveries {
            for (state, n) in [
                ("pending", d.pending),
                ("sent", d.sent),
                ("failed", d.failed),
            ] {
                cells.insert(format!("{}-{state}", d.key), json!(n.to_string()));
            }
        }
        for (key, text) in [
            ("calls-callers", &self.calls.callers),
            ("calls-told", &self.calls.told),
            ("calls-share", &self.calls.share),
            ("calls-lead", &self.calls.lead),
            ("reports-inside", &self.reports_inside),
            ("reports-still-out", &self.reports_still_out),
            ("updated", &self.updated),
        ] {
            cells.insert(key.into(), json!(text));
        }
        json!({
            "revision": outage.revision,
            "status": outage.status,
            "dead": self.dead,
            "cells": cells,
        })
    }
}

fn call_lines(w: &Words, s: &CallStats) -> CallLines {
    let none = || w.t("console-calls-none");
    CallLines {
        callers: s.callers.to_string(),
        told: s.told_first.to_string(),
        share: s
            .share_told
            .map_or_else(none, |share| format!("{:.0}%", share * 100.0)),
        lead: s
            .median_lead_seconds
            .map_or_else(none, |secs| duration(w, secs)),
    }
}

/// "under a minute", "12 min", "1 h 5 min", in the page's language.
fn duration(w: &Words, seconds: i64) -> String {
    let minutes = seconds / 60;
    if minutes < 1 {
        return w.t("console-duration-under-minute");
    }
    let (h, m) = (minutes / 60, minutes % 60);
    if h == 0 {
        return w.ta("console-duration-minutes", "minutes", &m.to_string());
    }
    i18n::t_args(
        w.lang,
        "console-duration-hours",
        &i18n::args([("hours", h.to_string()), ("minutes", m.to_string())]),
    )
}
