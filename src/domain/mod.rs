//! Pure domain types. Nothing here does I/O; every type validates on construction,
//! so a value that exists is a value that is allowed.

pub mod address;
pub mod audit;
pub mod bucket;
pub mod consent;
pub mod contact;
pub mod keyword;
pub mod operator;
pub mod outage;
pub mod reference;
pub mod runs;
pub mod text;
pub mod token;
pub mod window;

pub use address::{Address, AddressForm};
pub use contact::{Channel, Email, Language, Phone};
pub use outage::{
    ChangeKind, DeliveryKind, DeliveryState, Etr, Outage, OutageField, OutageKind, OutageStatus,
    Urgency, Utility,
};
pub use reference::Reference;
pub use window::Window;
