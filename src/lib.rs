//! Herald: outage notifications. A dispatcher declares an outage (an area, a
//! utility, a cause, an estimated time of restoration); Herald finds every service
//! address inside it and tells the people there by e-mail and SMS — exactly once
//! per change, in their language — and keeps the same status on a web page.
//!
//! Where things live:
//! - `domain`: validated types (outages, contacts, references), no I/O.
//! - `geo`: GeoJSON validation and the in-memory address index.
//! - `outages`: the dispatcher's operations (declare, update, restore, cancel).
//! - `store`: persistence; all SQL, per backend; the delivery guarantees.
//! - `dispatch`: workers that claim, render, send and record deliveries.
//! - `channels`: e-mail and SMS providers, rendering, SMS encoding.
//! - `http`: operator API, public pages, health and metrics.
//! - `import`: address and contact files. `cli`: the `herald` command.

pub mod app;
pub mod auth;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod geo;
pub mod http;
pub mod i18n;
pub mod import;
pub mod outages;
pub mod published;
pub mod search;
pub mod status;
pub mod store;
pub mod synthetic;
