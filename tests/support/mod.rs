//! Test support: the app harness and stand-ins for the outside world that speak
//! the real protocols (an SMTP server, Kannel's and a Twilio-style SMS API).
#![allow(dead_code)]

pub mod app;
pub mod sms_gateway;
pub mod smtp_sink;
