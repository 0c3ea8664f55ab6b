//! The load benchmark's baselines: a minimal hyper 1 server on the same runtime setup as
//! keyhold-server.
//!
//! - `hello ADDR`: answers every request with a small JSON body (the hello-world).
//! - `hello ADDR JWKS_FILE ISSUER`: for every request, reads the JSON body `{"token": ...}`
//!   and runs the token's signature and claim checks (`keyhold_token::verify` against the
//!   JWKS) and nothing else — no store, no record: what "the signature check alone allows"
//!   on these cores, served over the same HTTP stack.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

#[derive(serde::Deserialize)]
struct Body {
    token: String,
}

/// The signature-only check of one request body.
fn check(jwks: &keyhold_token::Jwks, issuer: &str, body: &[u8]) -> &'static [u8] {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    match serde_json::from_slice::<Body>(body) {
        Ok(b) => match keyhold_token::verify(&b.token, jwks, issuer, now, 30) {
            Ok(_) => b"{\"valid\":true}",
            Err(_) => b"{\"valid\":false}",
        },
        Err(_) => b"{\"error\":\"invalid_json\"}",
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: std::net::SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()?;
    let verifier: Option<Arc<(keyhold_token::Jwks, String)>> = match (args.next(), args.next()) {
        (Some(jwks), Some(issuer)) => Some(Arc::new((
            serde_json::from_slice(&std::fs::read(jwks)?)?,
            issuer,
        ))),
        _ => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let verifier = verifier.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let verifier = verifier.clone();
                    async move {
                        let reply: Bytes = match verifier {
                            None => Bytes::from_static(b"{\"status\":\"ok\"}"),
                            Some(v) => {
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|c| c.to_bytes())
                                    .unwrap_or_default();
                                Bytes::from_static(check(&v.0, &v.1, &body))
                            }
                        };
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(reply)))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
