//! `/v1/connections…`: connections and their credentials. A credential enters only in a
//! request body and leaves only in `GET …/credential`'s (`connections:use`); every call runs
//! as the bearer key, in its workspace, within the scope the route table gives the route.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use keyhold::api::{
    ConnectionList, CreateConnection, Op, Rotate, Route, SaveCredential, SlotName, UpdateCredential,
};
use keyhold::{Caller, Keyhold, Origin};
use serde::de::DeserializeOwned;

use super::auth::{Record, as_key, key_caller};
use super::input::{body, parse};
use super::reply::{Answer, Failure, blocking, http};
use super::router::PathParams;
use super::{App, Seen};

/// The operation of a connection route.
pub async fn route<'a>(
    app: &'a App,
    origin: Origin,
    req: Request<Incoming>,
    (route, p): (&'static Route, PathParams),
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    let PathParams { name, slot, .. } = p;
    let slot = slot.unwrap_or(SlotName::Primary);
    let (read, write) = ((route, Record::BeforeReply), (route, Record::First));
    match route.op {
        Op::ListConnections => {
            let list = |kh: &Keyhold, c: &Caller, ws: &str| {
                Ok(ConnectionList {
                    connections: kh.connections(c, ws)?,
                })
            };
            as_key(app, &req, origin, read, seen, list).await
        }
        Op::GetConnection => {
            let get = move |kh: &Keyhold, c: &Caller, ws: &str| kh.connection(c, ws, &name);
            as_key(app, &req, origin, read, seen, get).await
        }
        Op::ActiveCredential => {
            let scope = super::auth::route_scope(route)?;
            let (ws, c) = key_caller(app, &req, origin, scope, seen, Record::BeforeReply).await?;
            let kh = app.kh.clone();
            let credential = blocking(move || kh.active_credential(&c, &ws, &name)).await?;
            Ok(Answer::secret(StatusCode::OK, &credential))
        }
        Op::DeleteConnection => {
            let delete =
                move |kh: &Keyhold, c: &Caller, ws: &str| kh.delete_connection(c, ws, &name);
            as_key(app, &req, origin, write, seen, delete).await
        }
        Op::TestCredential => {
            let test =
                move |kh: &Keyhold, c: &Caller, ws: &str| kh.test_credential(c, ws, &name, slot);
            as_key(app, &req, origin, write, seen, test).await
        }
        _ => with_json(app, origin, req, (route, name, slot), seen).await,
    }
}

/// The connection routes that take a JSON body.
async fn with_json<'a>(
    app: &'a App,
    origin: Origin,
    req: Request<Incoming>,
    (route, name, slot): (&'static Route, String, SlotName),
    seen: &mut Seen<'a>,
) -> Result<Answer, Failure> {
    match route.op {
        Op::CreateConnection => {
            let create = |kh: &Keyhold, c: &Caller, ws: &str, b: CreateConnection| {
                kh.create_connection(c, ws, &b)
            };
            let created = with_body(app, origin, req, route, seen, create).await?;
            Ok(Answer::with(StatusCode::CREATED, &created))
        }
        Op::UpdateCredential => {
            let update = move |kh: &Keyhold, c: &Caller, ws: &str, b: UpdateCredential| {
                kh.update_credential(c, ws, &name, slot, &b.password, false)
            };
            Ok(Answer::of(
                &with_body(app, origin, req, route, seen, update).await?,
            ))
        }
        Op::SaveCredential => {
            let save = move |kh: &Keyhold, c: &Caller, ws: &str, b: SaveCredential| {
                kh.save_credential(c, ws, &name, slot, b.acknowledge_untested)
            };
            Ok(Answer::of(
                &with_body(app, origin, req, route, seen, save).await?,
            ))
        }
        Op::RegenerateCredential => {
            let regenerate = move |kh: &Keyhold, c: &Caller, ws: &str, b: Rotate| {
                kh.regenerate_credential(c, ws, &name, slot, b.force)
            };
            Ok(Answer::of(
                &with_body(app, origin, req, route, seen, regenerate).await?,
            ))
        }
        Op::RotateConnection => {
            let rotate = move |kh: &Keyhold, c: &Caller, ws: &str, b: Rotate| {
                kh.rotate_connection(c, ws, &name, b.force)
            };
            Ok(Answer::of(
                &with_body(app, origin, req, route, seen, rotate).await?,
            ))
        }
        _ => Err(http(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "not a connection route",
        )),
    }
}

/// A request with a JSON body (an empty body is `{}`), made with an API key: authenticated
/// for the route's scope and recorded first, then the body is read and `op` runs on the
/// blocking pool as that key's caller in its own workspace.
async fn with_body<'a, B, T, F>(
    app: &'a App,
    origin: Origin,
    req: Request<Incoming>,
    route: &Route,
    seen: &mut Seen<'a>,
    op: F,
) -> Result<T, Failure>
where
    B: DeserializeOwned + Send + 'static,
    T: Send + 'static,
    F: FnOnce(&Keyhold, &Caller, &str, B) -> keyhold::Result<T> + Send + 'static,
{
    let scope = super::auth::route_scope(route)?;
    let (ws, caller) = key_caller(app, &req, origin, scope, seen, Record::First).await?;
    let bytes = body(app, req).await?;
    let b: B = if bytes.iter().all(u8::is_ascii_whitespace) {
        parse(b"{}")?
    } else {
        parse(&bytes)?
    };
    let kh = app.kh.clone();
    blocking(move || op(&kh, &caller, &ws, b)).await
}
