//! keyhold-api owns API v1 as it is on the wire, written once for the server, the client
//! (`keyhold::Remote`) and the CLI: the route table ([`ROUTES`]) and the OpenAPI document made
//! from it, the request and response bodies, the error envelope, and the one table of error
//! codes with their HTTP status and CLI exit status ([`CODES`]). It is plain data and serde: it
//! must never open a store, touch a key, do I/O, or depend on an HTTP stack or another keyhold
//! crate, so both ends of the wire can use it without pulling in the other's machinery.
#![forbid(unsafe_code)]

mod codes;
mod openapi;
mod routes;
mod wire;

pub use codes::{CODES, ErrorCode, exit_status, http_status, lookup};
pub use openapi::openapi;
pub use routes::{Op, ROUTES, Route};
pub use wire::{
    ErrorBody, ErrorEnvelope, KeyList, MintBody, Minted, Records, Refusal, Verdict, VerifyBody,
    doc_url,
};
