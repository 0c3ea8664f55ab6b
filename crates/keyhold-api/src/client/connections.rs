//! The calls of the connection routes. A connection's name and slot go in the path; a
//! credential only ever in a body ([`UpdateCredential`], [`CreateConnection`]) or an answer
//! ([`ActiveCredential`]).

use super::{ApiError, Client, Params};
use crate::{
    ActiveCredential, Connection, ConnectionList, CreateConnection, Op, Rotate, SaveCredential,
    SlotName, TestOutcome, UpdateCredential,
};

impl Client {
    /// The workspace's connections (`GET /v1/connections`).
    pub fn list_connections(&self) -> Result<ConnectionList, ApiError> {
        self.get(Op::ListConnections)
    }

    /// Creates a connection (`POST /v1/connections`).
    pub fn create_connection(&self, body: &CreateConnection) -> Result<Connection, ApiError> {
        self.call(Op::CreateConnection, &Params::default(), Some(body))
    }

    /// One connection (`GET /v1/connections/{name}`).
    pub fn connection(&self, name: &str) -> Result<Connection, ApiError> {
        self.call(Op::GetConnection, &Params::connection(name), None::<&()>)
    }

    /// Deletes a connection (`DELETE /v1/connections/{name}`); the answer is its last state.
    pub fn delete_connection(&self, name: &str) -> Result<Connection, ApiError> {
        self.call(Op::DeleteConnection, &Params::connection(name), None::<&()>)
    }

    /// Stages a credential into `slot` (`PUT /v1/connections/{name}/slots/{slot}/credential`).
    pub fn update_credential(
        &self,
        name: &str,
        slot: SlotName,
        body: &UpdateCredential,
    ) -> Result<Connection, ApiError> {
        self.call(Op::UpdateCredential, &Params::slot(name, slot), Some(body))
    }

    /// Tests `slot`'s credential at the target (`POST …/slots/{slot}/test`).
    pub fn test_credential(&self, name: &str, slot: SlotName) -> Result<TestOutcome, ApiError> {
        self.call(Op::TestCredential, &Params::slot(name, slot), None::<&()>)
    }

    /// Promotes `slot`'s tested credential (`POST …/slots/{slot}/save`).
    pub fn save_credential(
        &self,
        name: &str,
        slot: SlotName,
        body: &SaveCredential,
    ) -> Result<Connection, ApiError> {
        self.call(Op::SaveCredential, &Params::slot(name, slot), Some(body))
    }

    /// Makes a new credential for `slot` at the target and tests it
    /// (`POST …/slots/{slot}/regenerate`).
    pub fn regenerate_credential(
        &self,
        name: &str,
        slot: SlotName,
        body: &Rotate,
    ) -> Result<TestOutcome, ApiError> {
        self.call(
            Op::RegenerateCredential,
            &Params::slot(name, slot),
            Some(body),
        )
    }

    /// Rotates the connection (`POST /v1/connections/{name}/rotate`): the outcome of the new
    /// credential's test, and the connection after it.
    pub fn rotate_connection(&self, name: &str, body: &Rotate) -> Result<TestOutcome, ApiError> {
        self.call(Op::RotateConnection, &Params::connection(name), Some(body))
    }

    /// The credential to use now (`GET /v1/connections/{name}/credential`). The answer's
    /// bytes are wiped once decoded; the password is a [`crate::Secret`].
    pub fn active_credential(&self, name: &str) -> Result<ActiveCredential, ApiError> {
        self.call(Op::ActiveCredential, &Params::connection(name), None::<&()>)
    }
}
