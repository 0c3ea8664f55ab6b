//! The HTTP connector against a small server on loopback: 200 for the right Bearer or Basic
//! header, 401 otherwise; 403 on `/forbidden`, 500 on `/broken`, a redirect on `/moved`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use keyhold_connect::{
    Connector, Http, HttpAuth, Login, Refusal, SecretBytes, SetError, new_password,
};

const TOKEN: &str = "tok-3f9a1c-right";
const USER: &str = "svc";
const PASSWORD: &str = "pa55-Word-right";

/// Answers one request on `stream`.
fn answer(stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let path = first.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut auth = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            auth = Some(value.trim().to_owned());
        }
    }
    // base64("svc:pa55-Word-right")
    let basic = "Basic c3ZjOnBhNTUtV29yZC1yaWdodA==";
    let good =
        auth.as_deref() == Some(&format!("Bearer {TOKEN}")) || auth.as_deref() == Some(basic);
    let status = match path.as_str() {
        "/broken" => "500 Internal Server Error",
        "/forbidden" => "403 Forbidden",
        "/moved" => "302 Found\r\nLocation: http://127.0.0.1:1/elsewhere",
        _ if good => "200 OK",
        _ => "401 Unauthorized",
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    );
}

/// Starts the server; returns its base URL.
fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    format!("http://{addr}")
}

fn login<'a>(user: &'a str, password: &'a SecretBytes) -> Login<'a> {
    Login { user, password }
}

fn secret(s: &str) -> SecretBytes {
    SecretBytes::copy_from(s.as_bytes())
}

#[test]
fn bearer_passes_with_the_right_token_and_is_rejected_otherwise() {
    let base = server();
    let http = Http::new(&format!("{base}/me"), HttpAuth::Bearer).unwrap();
    assert!(http.testable());
    assert_eq!(http.test(&login("ignored", &secret(TOKEN))), Ok(()));
    let wrong = new_password().unwrap();
    let r = http.test(&login("", &wrong));
    let Err(Refusal::Rejected { detail }) = &r else {
        panic!("expected Rejected, got {r:?}")
    };
    assert!(detail.contains("401"), "{detail}");
    let shown = format!("{detail} {r:?}");
    assert!(!shown.contains(std::str::from_utf8(wrong.expose()).unwrap()));
    // A Basic header with the token as password is not a Bearer token.
    let basic = Http::new(&format!("{base}/me"), HttpAuth::Basic).unwrap();
    assert!(matches!(
        basic.test(&login("", &secret(TOKEN))),
        Err(Refusal::Rejected { .. })
    ));
}

#[test]
fn basic_passes_with_the_right_user_and_password_only() {
    let base = server();
    let http = Http::new(&format!("{base}/me"), HttpAuth::Basic).unwrap();
    assert_eq!(http.test(&login(USER, &secret(PASSWORD))), Ok(()));
    for (user, password) in [(USER, "wrong"), ("other", PASSWORD), ("", PASSWORD)] {
        assert!(
            matches!(
                http.test(&login(user, &secret(password))),
                Err(Refusal::Rejected { .. })
            ),
            "{user}:{password}"
        );
    }
}

#[test]
fn forbidden_is_rejected_and_other_answers_are_unreachable() {
    let base = server();
    let test = |path: &str| {
        Http::new(&format!("{base}{path}"), HttpAuth::Bearer)
            .unwrap()
            .test(&login("", &secret(TOKEN)))
    };
    assert!(matches!(test("/forbidden"), Err(Refusal::Rejected { .. })));
    match test("/broken") {
        Err(Refusal::Unreachable { detail }) => assert!(detail.contains("500"), "{detail}"),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    // A redirect is not followed: the token stays with this host.
    match test("/moved") {
        Err(Refusal::Unreachable { detail }) => assert!(detail.contains("302"), "{detail}"),
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[test]
fn a_closed_port_is_unreachable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let http = Http::new(&format!("http://127.0.0.1:{port}/me"), HttpAuth::Bearer).unwrap();
    match http.test(&login("", &secret(TOKEN))) {
        Err(Refusal::Unreachable { detail }) => {
            assert!(detail.contains("connection refused"), "{detail}");
            assert!(!detail.contains(TOKEN));
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[test]
fn http_cannot_set_passwords() {
    let http = Http::new("https://api.example.com/me", HttpAuth::Bearer).unwrap();
    assert!(!http.regenerates());
    let pw = secret(TOKEN);
    assert_eq!(
        http.set_password("u", &pw, &login("u", &pw)),
        Err(SetError::Unsupported)
    );
}
