//! Herald: outage notifications. A dispatcher declares an outage (an area, a
//! utility, a cause, an estimated time of restoration); Herald finds every service
//! address inside it and tells the people there by e-mail and SMS — exactly once
//! per change, in their language — and keeps the same status on a web page.
//!
//! Where things live, top layer first (a module uses only those below it; see
//! `docs/ARCHITECTURE.md`):
//! - `cli` (the `herald` command) and `app` (the composition root: builds the
//!   state and the router, runs the server and the workers).
//! - The drivers: `http` (operator API, public status pages, IVR feed,
//!   subscribe/unsubscribe, health and metrics; handlers parse requests and call
//!   the operations; the listener with its connection limits, bearer
//!   credentials and client addresses) and `dispatch` (the workers that claim, decide, render, send
//!   and record deliveries, with shared rate limits and the retry policy; their
//!   housekeeping starts planned work through `outages`).
//! - Operations: `outages` (declare, update, restore, cancel, start planned work),
//!   `operators` (operator accounts, signing in with lock-out),
//!   `status` (the answer for a place), `inbound` (text messages to Herald's
//!   number: STOP/START, HELP, STATUS, references, OUT reports), `receipts`
//!   (SMS delivery reports, e-mail bounces and complaints), `manage` (a
//!   resident's manage page: settings, stop, export, erase), `published` (the versioned view pages and
//!   the IVR are cached by), `import` (address and contact files), `register`
//!   (the in-memory geo and search indexes over the register), `search`
//!   (forgiving address search).
//! - `geo` (GeoJSON validation, the in-memory address index), `channels` (e-mail
//!   and SMS providers, rendering, SMS encoding), `i18n` (message catalogues,
//!   dates and times).
//! - `store`: persistence, the `Database` contract and all SQL; the delivery
//!   guarantees.
//! - Foundations: `domain` (validated types, no I/O), `config`, `clock` (the one
//!   source of "now"), `error` (one error type, mapped to HTTP), `auth` (API
//!   tokens, passwords, roles and the access each grants, the deployment's
//!   signing key), `wake` (wake-ups for idle workers), `coalesce` (requests
//!   that arrive together answered by one statement), `interned` (each
//!   distinct text stored once), `synthetic` (generated registers for
//!   benchmarks).

pub mod app;
pub mod auth;
pub mod calls;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod coalesce;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod geo;
pub mod http;
pub mod i18n;
pub mod import;
pub mod inbound;
pub mod interned;
pub mod manage;
pub mod operators;
pub mod outages;
pub mod published;
pub mod receipts;
pub mod register;
pub mod search;
pub mod status;
pub mod store;
pub mod synthetic;
pub mod wake;
