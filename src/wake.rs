//! Wake-ups for idle claim loops. Whoever commits new work (an outage change, a
//! "press 2" request, a confirmation) calls [`Wake::all`]; the workers of this
//! process claim at once instead of at their next poll. Other processes learn
//! of it through the database (`Database::listen`) or by polling.

use tokio::sync::Notify;

use crate::domain::Channel;

/// One `Notify` per channel with `notify_one`, whose stored permit means a
/// wake-up that arrives while a loop is busy is not lost.
#[derive(Debug, Default)]
pub struct Wake {
    email: Notify,
    sms: Notify,
    confirmations: Notify,
}

impl Wake {
    pub fn all(&self) {
        self.email.notify_one();
        self.sms.notify_one();
        self.confirmations.notify_one();
    }

    /// The sign-up confirmations' loop (both channels).
    pub fn confirmations(&self) -> &Notify {
        &self.confirmations
    }

    pub fn channel(&self, channel: Channel) -> &Notify {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
        }
    }
}
