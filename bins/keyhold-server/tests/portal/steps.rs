//! The steps of the portal's end-to-end run, each a thing a person does in the browser,
//! checked in the browser and against the API behind it.

use base64::Engine;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::common::{Server, library, request};
use crate::pg;

/// The presets the API Keys page offers, and the lifetime (`exp − iat`) each must give.
const PRESETS: [(&str, i64); 6] = [
    ("15m", 900),
    ("1h", 3_600),
    ("8h", 28_800),
    ("24h", 86_400),
    ("7d", 604_800),
    ("30d", 2_592_000),
];

/// What one run knows: the server, the person, and every secret it made or saw.
pub struct Run<'s> {
    pub(crate) s: &'s Server,
    pub(crate) email: &'static str,
    pub(crate) password: &'static str,
    pub(crate) wrong_password: &'static str,
    pub(crate) workspace: String,
    /// Keys minted through the browser: name and token.
    pub(crate) tokens: Vec<(String, String)>,
    /// Secrets no response may hold: passwords, the session tokens, database passwords.
    pub(crate) never: Vec<String>,
    pub(crate) enrolment: Option<String>,
}

/// The claims of a JWT, read without checking it (the server checks it when it is used).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("claims")
}

impl<'s> Run<'s> {
    /// A store with an owner who has a password, and connection `orders` whose primary slot
    /// holds `a`'s password, tested and saved (so the secondary, `b`, is the one to update).
    pub fn new(s: &'s Server, a: &pg::Role, b: &pg::Role) -> Run<'s> {
        let (email, password) = ("owner@team.com", "canary-Portal-Passphrase-91c4e2");
        let req = keyhold::api::AddMember {
            email: email.into(),
            role: "owner".into(),
            display_name: None,
            password: Some(keyhold::api::Secret::new(password)),
        };
        let kh = library(s);
        kh.add_member(&keyhold::Caller::operator(), "default", &req)
            .expect("the owner");
        let workspace = kh.workspace("default").expect("workspace").id;
        let r = request(
            s,
            "POST",
            "/v1/connections",
            Some(&s.admin),
            Some(&pg::create_body(a, b, 600)),
            &[],
        );
        assert_eq!(r.status, 201, "{:?}", r.body);
        let base = "/v1/connections/orders/slots/primary";
        let primary = json!({ "password": a.password }).to_string();
        for (method, path, body) in [
            ("PUT", format!("{base}/credential"), Some(primary.as_str())),
            ("POST", format!("{base}/test"), None),
            ("POST", format!("{base}/save"), Some("{}")),
        ] {
            let r = request(s, method, &path, Some(&s.admin), body, &[]);
            assert_eq!(r.status, 200, "{method} {path}: {:?}", r.body);
        }
        let wrong_password = "canary-Wrong-Passphrase-5be0a1";
        let never = [
            password,
            wrong_password,
            &a.password,
            &b.password,
            &pg::superuser().1,
        ];
        Run {
            s,
            email,
            password,
            wrong_password,
            workspace,
            tokens: Vec::new(),
            never: never.iter().map(|v| (*v).to_owned()).collect(),
            enrolment: None,
        }
    }

    /// Every secret of the run, for scans beyond the browser's.
    pub fn secrets(&self) -> Vec<String> {
        let tokens = self.tokens.iter().map(|(_, t)| t.clone());
        self.never
            .iter()
            .cloned()
            .chain(tokens)
            .chain(self.enrolment.clone())
            .collect()
    }

    /// A request as the key `token`: its status and error code.
    pub(crate) fn with_key(&self, token: &str) -> (u16, String) {
        let r = request(self.s, "GET", "/v1/whoami", Some(token), None, &[]);
        let code = r.body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (r.status, code)
    }

    pub(crate) fn token(&self, name: &str) -> &str {
        let found = self.tokens.iter().find(|(n, _)| n == name);
        &found.unwrap_or_else(|| panic!("no key {name}")).1
    }

    /// The sign-in page: a wrong password is refused with a message; the right one opens
    /// the portal as the person.
    pub async fn sign_in(&mut self, web: &mut Browser) {
        web.open("/").await;
        web.page("sign-in").await;
        web.photograph("sign-in").await;
        web.fill("#email", self.email).await;
        web.fill("#password", self.wrong_password).await;
        web.click("#sign-in-submit").await;
        web.text_until("#sign-in-error", |t| !t.is_empty()).await;
        assert_eq!(
            web.value("#password").await,
            "",
            "the password field is cleared"
        );
        assert!(web.cookie("keyhold_session").await.is_none());
        // By keyboard: Enter in the password field signs in.
        web.fill("#password", self.password).await;
        let field = web.shown("#password").await;
        field
            .send_keys(&fantoccini::key::Key::Enter.to_string())
            .await
            .expect("Enter");
        web.page("api-keys").await;
        let session = web
            .cookie("keyhold_session")
            .await
            .expect("a session cookie");
        self.never.push(session);
        web.text_until("#whoami", |t| t.contains(self.email)).await;
        web.harvest().await;
    }

    /// Waits for the one-time token box to hold a token other than `previous`.
    pub(crate) async fn new_token(web: &Browser, previous: Option<&str>) -> String {
        for _ in 0..400 {
            let value = web.value("#token").await;
            if !value.is_empty() && Some(value.as_str()) != previous {
                return value;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no new token was shown")
    }

    /// API Keys: one key per preset, each shown once, whose `exp − iat` is the preset.
    pub async fn mint_each_preset(&mut self, web: &mut Browser) {
        web.photograph("api-keys").await;
        let mut last: Option<String> = None;
        for (preset, seconds) in PRESETS {
            let name = format!("portal-{preset}");
            web.fill("#key-name", &name).await;
            web.click(&format!("#preset-{preset}")).await;
            web.click("#generate").await;
            let token = Self::new_token(web, last.as_deref()).await;
            let c = claims(&token);
            let lifetime = c["exp"].as_i64().expect("exp") - c["iat"].as_i64().expect("iat");
            assert_eq!(lifetime, seconds, "preset {preset}");
            assert_eq!(c["sub"], self.email, "the key is the person's");
            let panel = web.text("#token-panel").await;
            assert!(panel.contains("it won't be shown again"), "{panel}");
            last = Some(token.clone());
            self.tokens.push((name, token));
            web.harvest().await;
        }
    }

    /// Copy puts the token on the clipboard; it works against the API; and once the person
    /// leaves the page, the token is gone from it.
    pub async fn copy_and_use(&mut self, web: &mut Browser) {
        web.click("#copy").await;
        web.text_until("#copy-status", |t| t.contains("Copied"))
            .await;
        let read = "const done = arguments[arguments.length - 1];\
                    navigator.clipboard.readText().then(done, e => done('failed: ' + e));";
        let copied = web
            .client
            .execute_async(read, vec![])
            .await
            .expect("clipboard");
        let copied = copied.as_str().expect("text").to_owned();
        assert_eq!(
            copied,
            self.token("portal-30d"),
            "Copy copies the token shown"
        );
        assert_eq!(self.with_key(&copied), (200, String::new()));
        web.click("#menu-apis").await;
        web.click("#nav-keys").await;
        web.page("keys").await;
        let gone = "return document.getElementById('token') === null \
                    && !document.body.textContent.includes(arguments[0]);";
        assert_eq!(web.script(gone, vec![json!(copied)]).await, json!(true));
        web.client.back().await.expect("back");
        web.page("api-keys").await;
        assert_eq!(web.script(gone, vec![json!(copied)]).await, json!(true));
        web.client.refresh().await.expect("reload");
        web.page("api-keys").await;
        assert_eq!(web.script(gone, vec![json!(copied)]).await, json!(true));
        web.harvest().await;
    }

    /// Keys: revoke one, confirmed in a dialog; the next API call with it is refused.
    pub async fn revoke_one(&mut self, web: &mut Browser) {
        // The APIs menu by keyboard: Enter opens it, Escape closes it.
        let enter = fantoccini::key::Key::Enter.to_string();
        let menu = web.shown("#menu-apis").await;
        menu.send_keys(&enter).await.expect("Enter");
        web.shown("#nav-keys").await;
        menu.send_keys(&fantoccini::key::Key::Escape.to_string())
            .await
            .expect("Escape");
        let hidden = "return document.getElementById('nav-keys').offsetParent === null;";
        assert_eq!(
            web.script(hidden, vec![]).await,
            json!(true),
            "Escape closes the menu"
        );
        menu.send_keys(&enter).await.expect("Enter");
        web.click("#nav-keys").await;
        web.page("keys").await;
        web.photograph("keys").await;
        let row = "tr[data-key-name=\"portal-1h\"]";
        web.click(&format!("{row} .revoke")).await;
        web.shown("#confirm-dialog").await;
        web.click("#confirm-yes").await;
        web.text_until(&format!("{row} .status"), |t| t == "revoked")
            .await;
        let status = web.text("tr[data-key-name=\"portal-8h\"] .status").await;
        assert_eq!(status, "active", "only the one key is revoked");
        let refused = self.with_key(self.token("portal-1h"));
        assert_eq!(refused, (401, "key_revoked".to_owned()));
        web.harvest().await;
    }

    /// Connections: a wrong password fails its test against PostgreSQL and cannot be
    /// saved; the right one passes, is saved, and its slot becomes the active one.
    pub async fn update_credentials(&mut self, web: &mut Browser, b: &pg::Role) {
        web.click("#nav-connections").await;
        web.page("connections").await;
        web.click("button[data-connection=\"orders\"]").await;
        web.text_until("#slot-primary .slot-state", |t| t.contains("active"))
            .await;
        web.photograph("connections").await;
        web.click("#update-credentials").await;
        assert_eq!(
            web.value("#cred-slot").await,
            "secondary",
            "the slot that is not active"
        );
        assert_eq!(web.value("#cred-password").await, "", "never pre-filled");
        let wrong = "canary-not-the-password-7f3e";
        self.never.push(wrong.to_owned());
        web.fill("#cred-password", wrong).await;
        web.click("#test").await;
        web.text_until("#test-result", |t| t.starts_with("Failed"))
            .await;
        assert!(
            !web.shown("#save")
                .await
                .is_enabled()
                .await
                .expect("enabled"),
            "Save after a failed test"
        );
        web.fill("#cred-password", &b.password).await;
        web.click("#test").await;
        web.text_until("#test-result", |t| t.starts_with("Passed"))
            .await;
        web.click("#save").await;
        web.shown("#slot-secondary.active").await;
        web.text_until("#slot-secondary .slot-state", |t| t.contains("active"))
            .await;
        let r = request(
            self.s,
            "GET",
            "/v1/connections/orders/credential",
            Some(&self.s.admin),
            None,
            &[],
        );
        assert_eq!(r.body["user"], b.name.as_str(), "{:?}", r.body["user"]);
        web.harvest().await;
    }

    /// Ask Azi: a key for the mobile app (shown once, 30 days), then its revocation, which
    /// waits for Confirm.
    pub async fn azi(&mut self, web: &mut Browser) {
        web.click("#nav-azi").await;
        web.page("azi").await;
        web.photograph("azi").await;
        web.fill(
            "#azi-input",
            "Create an API key for the mobile app with 30-day expiry",
        )
        .await;
        web.click("#azi-ask").await;
        let token = Self::new_token(web, None).await;
        let c = claims(&token);
        assert_eq!(
            c["exp"].as_i64().expect("exp") - c["iat"].as_i64().expect("iat"),
            2_592_000
        );
        self.tokens.push(("mobile app".to_owned(), token.clone()));
        assert_eq!(self.with_key(&token), (200, String::new()));
        web.harvest().await;
        web.fill("#azi-input", "Revoke the key named \"mobile app\"")
            .await;
        web.click("#azi-ask").await;
        web.shown("#azi-question").await;
        assert_eq!(
            self.with_key(&token),
            (200, String::new()),
            "nothing before Confirm"
        );
        web.click("#azi-confirm").await;
        for _ in 0..400 {
            if self.with_key(&token).0 == 401 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(self.with_key(&token), (401, "key_revoked".to_owned()));
        web.harvest().await;
    }

    /// Audit: the chain verifies, and the filters find the portal's revocation.
    pub async fn audit(&mut self, web: &mut Browser) {
        web.click("#nav-audit").await;
        web.page("audit").await;
        web.text_until("#chain-status", |t| t.contains("verified"))
            .await;
        web.photograph("audit").await;
        web.fill("#f-action", "key.revoked").await;
        web.fill("#f-actor", self.email).await;
        web.click("#audit-apply").await;
        let rows = web
            .text_until("#audit-table tbody", |t| {
                t.contains("key.revoked") && t.contains("portal")
            })
            .await;
        assert!(
            !rows.contains("key.created"),
            "the action filter applies: {rows}"
        );
        web.harvest().await;
    }
}
