//! Getting messages out: claim due deliveries, render them from the outage's current
//! state, send them through the channel's provider within its rate and concurrency
//! limits, and record the outcome (sent, retry later, dead, or skipped).
//!
//! The fan-out itself (which deliveries exist) is written by the store in the same
//! transaction as the outage change; see `store` for the rules.

pub mod decide;
pub mod ratelimit;
pub mod retry;
pub mod worker;

pub use worker::{Dispatcher, DrainReport, Outcomes, WorkerHandle};
