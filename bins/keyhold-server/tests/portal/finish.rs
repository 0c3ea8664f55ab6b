//! The last steps of the portal's run: revoke all, invite a member who sets their password
//! on the first-run page, sign out — and the scan of everything the browser received.

use serde_json::json;

use crate::browser::Browser;
use crate::common::request;
use crate::steps::Run;

impl Run<'_> {
    /// Keys → Revoke all, behind the workspace's name typed out: every key of the workspace
    /// is refused on its next request.
    pub async fn revoke_all(&mut self, web: &mut Browser) {
        web.click("#menu-apis").await;
        web.click("#nav-keys").await;
        web.page("keys").await;
        web.click("#revoke-all").await;
        web.shown("#revoke-all-dialog").await;
        let go = web.shown("#revoke-all-go").await;
        assert!(
            !go.is_enabled().await.expect("enabled"),
            "not before the name is typed"
        );
        web.fill("#revoke-all-confirm", "not-the-workspace").await;
        assert!(
            !go.is_enabled().await.expect("enabled"),
            "not for another name"
        );
        web.fill("#revoke-all-confirm", &self.workspace).await;
        assert!(!go.is_enabled().await.expect("enabled"), "not for its id");
        web.fill("#revoke-all-confirm", "default").await;
        assert!(go.is_enabled().await.expect("enabled"));
        go.click().await.expect("revoke all");
        web.text_until("tr[data-key-name=\"portal-30d\"] .status", |t| {
            t == "revoked"
        })
        .await;
        for name in ["portal-30d", "portal-8h"] {
            assert_eq!(
                self.with_key(self.token(name)),
                (401, "key_revoked_all".to_owned())
            );
        }
        assert_eq!(
            self.with_key(&self.s.admin).0,
            401,
            "the admin key of the workspace too"
        );
        web.harvest().await;
    }

    /// Members: an invitation shows its enrolment code once.
    pub async fn invite(&mut self, web: &mut Browser) {
        web.click("#nav-members").await;
        web.page("members").await;
        web.fill("#invite-email", "new.person@team.com").await;
        let role = web.shown("#invite-role").await;
        role.select_by_value("developer").await.expect("a role");
        web.click("#invite").await;
        let mut code = String::new();
        for _ in 0..400 {
            code = web.value("#invite-code").await;
            if !code.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(
            code.starts_with("khe_") || code.len() >= 20,
            "an enrolment code: {}",
            code.len()
        );
        self.enrolment = Some(code);
        web.text_until("#members-table", |t| t.contains("new.person@team.com"))
            .await;
        web.photograph("members").await;
        web.harvest().await;
    }

    /// Sign out: back to the sign-in page, and the session's cookie is refused by the API.
    pub async fn sign_out(&mut self, web: &mut Browser) {
        let session = web.cookie("keyhold_session").await.expect("signed in");
        web.click("#sign-out").await;
        web.page("sign-in").await;
        assert!(
            web.cookie("keyhold_session").await.is_none(),
            "the cookie is cleared"
        );
        let cookie = format!("keyhold_session={session}");
        let r = request(
            self.s,
            "GET",
            "/v1/whoami",
            None,
            None,
            &[("Cookie", &cookie)],
        );
        assert_eq!(r.status, 401, "{:?}", r.body);
        assert_eq!(r.body["error"]["code"], "session_invalid");
        web.harvest().await;
    }

    /// The first-run page: the invited person redeems their code, sets a password, signs in
    /// as a developer (no Members in their top bar), and signs out.
    pub async fn enrol(&mut self, web: &mut Browser) {
        web.click("#enrol-link").await;
        web.page("enrol").await;
        web.photograph("enrol").await;
        let code = self.enrolment.clone().expect("invited");
        let password = "canary-Newcomer-Passphrase-0d81";
        self.never.push(password.to_owned());
        web.fill("#enrol-code", &code).await;
        web.fill("#enrol-password", password).await;
        web.fill("#enrol-password2", password).await;
        web.click("#enrol-submit").await;
        web.shown("#enrol-done").await;
        web.open("/#/sign-in").await;
        web.page("sign-in").await;
        web.fill("#email", "new.person@team.com").await;
        web.fill("#password", password).await;
        web.click("#sign-in-submit").await;
        web.page("api-keys").await;
        let session = web.cookie("keyhold_session").await.expect("a session");
        self.never.push(session);
        let members = "const m = document.getElementById('nav-members'); \
                       return m === null || m.hidden || m.offsetParent === null;";
        assert_eq!(
            web.script(members, vec![]).await,
            json!(true),
            "no Members for a developer"
        );
        self.sign_out(web).await;
    }

    /// Everything the browser received: each token only in the one response that showed it,
    /// the enrolment code only in the invitation's, no password or session token anywhere;
    /// every response under the strict policy; nothing refused by it in the console.
    pub async fn scan(&mut self, web: &mut Browser) {
        web.harvest().await;
        let got = &web.received;
        assert!(
            got.iter().any(|r| r.mime == "text/html"),
            "the page itself was seen"
        );
        assert!(
            got.iter().any(|r| r.mime.contains("javascript")),
            "its scripts were seen"
        );
        assert!(
            got.iter().any(|r| r.mime == "text/css"),
            "its stylesheet was seen"
        );
        for r in got {
            let csp = r.headers["Content-Security-Policy"]
                .as_str()
                .or(r.headers["content-security-policy"].as_str())
                .unwrap_or_default();
            assert!(
                csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
                "{}",
                r.url
            );
            for secret in &self.never {
                assert!(
                    !r.body.contains(secret.as_str()) && !r.url.contains(secret.as_str()),
                    "a secret in {}",
                    r.url
                );
            }
        }
        let showing = |secret: &str| {
            got.iter()
                .filter(|r| r.body.contains(secret))
                .map(|r| r.url.clone())
                .collect::<Vec<_>>()
        };
        for (name, token) in &self.tokens {
            let at = showing(token);
            assert_eq!(
                at.len(),
                1,
                "{name} was received {} times: {at:?}",
                at.len()
            );
            assert!(
                at[0].ends_with("/v1/keys") || at[0].ends_with("/v1/assistant"),
                "{at:?}"
            );
            assert!(got.iter().all(|r| !r.url.contains(token.as_str())));
        }
        let code = self.enrolment.clone().expect("invited");
        let at = showing(&code);
        assert!(at.len() == 1 && at[0].ends_with("/v1/members"), "{at:?}");
        let console = web.console().await;
        for secret in self.secrets() {
            assert!(
                console.iter().all(|l| !l.contains(secret.as_str())),
                "a secret in the console"
            );
        }
        let refused: Vec<&String> = console
            .iter()
            .filter(|l| l.contains("Content Security Policy") || l.contains("SEVERE"))
            .filter(|l| !l.contains("/v1/"))
            .collect();
        assert!(refused.is_empty(), "the console reports: {refused:?}");
        assert!(got.len() > 30, "the run saw {} responses", got.len());
    }
}
