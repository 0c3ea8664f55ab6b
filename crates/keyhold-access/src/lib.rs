//! keyhold's team access rules. The people of a workspace are its **members**, each with a
//! [`Role`]; this crate says what a role may do ([`Role::holds`], the one table
//! `docs/access.md` shows), whom a member may manage ([`Role::may_assign`]), which scopes the
//! keys a member mints may carry ([`Role::grantable`]), what a password must be
//! ([`check_password`]), how failed sign-ins slow the next attempt ([`Throttle`]), how long a
//! session lives ([`SessionPolicy`]) and how a TOTP code is checked ([`totp`]).
//!
//! It decides; it stores and sends nothing. Times are handed in (Unix seconds), so every rule
//! is a pure function the facade calls inside its transaction, and tests can walk the clock.
//! Password hashing and the HMAC under TOTP are keyhold-crypto's.
#![forbid(unsafe_code)]

mod email;
mod error;
mod password;
mod role;
mod session;
pub mod throttle;
pub mod totp;

pub use email::normalise_email;
pub use error::AccessError;
pub use password::{MIN_PASSWORD_CHARS, check_password};
pub use role::{Access, OPERATIONS, Operation, Role, decide_change};
pub use session::{ENROLMENT_SECS, SessionPolicy};
pub use throttle::{Throttle, ThrottleRule};
