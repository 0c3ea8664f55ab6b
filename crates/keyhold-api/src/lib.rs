//! keyhold-api owns API v1 as it is on the wire, written once for the server, the client
//! (`Client`, which `keyhold::Remote` drives) and the CLI: the route table ([`ROUTES`]) and the OpenAPI document made
//! from it, the request and response bodies, the error envelope, and the one table of error
//! codes with their HTTP status and CLI exit status ([`CODES`]), and the rules for the names
//! callers choose ([`names`]). Without features it is plain
//! data, serde and the audit route's query string ([`AuditQuery`]), with no I/O and no HTTP
//! stack; a secret in a body (a connection's password) is a [`Secret`], wiped when dropped
//! and never printed. The feature `client` adds `Client`, the HTTP client of these routes (ureq,
//! rustls): the only I/O here, and only the network. It never opens a store or touches a key
//! of the store, and depends on no other keyhold crate, so both ends of the wire can use it
//! without pulling in the other's machinery.
#![forbid(unsafe_code)]

mod assistant;
mod audit;
#[cfg(feature = "client")]
mod client;
mod codes;
mod connections;
mod keys;
pub mod names;
mod openapi;
mod routes;
mod store_at;
mod team;
mod wire;

pub use assistant::{AskBody, AskReply, AskStatus, Confirmation, Done};
pub use audit::{AuditQuery, AuditVerification, QueryError};

#[cfg(feature = "client")]
pub use client::{ApiError, Client, Params};
pub use codes::{CODES, ErrorCode, exit_status, http_status, lookup};
pub use connections::{
    ActiveCredential, Connection, ConnectionKind, ConnectionList, CreateConnection,
    DEFAULT_GRACE_SECS, Failure, HttpScheme, Rotate, SaveCredential, Secret, Slot, SlotName,
    SlotState, Slots, Target, TestOutcome, UpdateCredential,
};
pub use keys::{ApiKey, KeyState, RevokeAll, SigningKeyRotation};
pub use openapi::openapi;
pub use routes::{Op, ROUTES, Route};
pub use store_at::{BadStoreAt, StoreAt};
pub use team::{
    AddMember, Added, Enrolment, Member, MemberList, Policy, Redeem, Session, SignIn, TotpEnrol,
    TotpSecret, UpdateMember, WorkspaceRole, session_cookie,
};
pub use wire::{
    ErrorBody, ErrorEnvelope, KeyList, MintBody, Minted, Records, Refusal, Verdict, VerifyBody,
    doc_url,
};
