//! A real Chromium, headless, driven through chromedriver (WebDriver, with `fantoccini`):
//! pages are opened, filled in and clicked as a person would, every response the browser
//! receives is kept (from Chromium's performance log and the DevTools protocol) for the
//! canary scan, and screenshots go to the target directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test support: a failure is the report

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The two sizes every page is checked and photographed at.
pub const VIEWPORTS: [(u32, u32); 2] = [(1280, 800), (390, 844)];

/// A response the browser received: what it was, and its body as text.
#[derive(Debug, Clone)]
pub struct Received {
    pub url: String,
    pub status: u64,
    pub mime: String,
    pub headers: Value,
    pub body: String,
}

/// Chromium, its driver, and what the browser has received so far.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    pub received: Vec<Received>,
    pub base: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A command chromedriver has beyond WebDriver: one DevTools protocol call, or the log.
#[derive(Debug)]
struct Vendor {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Vendor {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// Where a program is, if it is on the PATH.
fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver on a free port of its choosing: the child and the port.
fn driver() -> (Child, u16) {
    let binary = which("chromedriver").expect(
        "chromedriver is not installed: the portal tests need Debian's chromium and \
         chromium-driver (scripts/test installs them)",
    );
    let mut child = Command::new(binary)
        .args(["--port=0", "--log-level=SEVERE"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("chromedriver said nothing")
            .expect("line");
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            break rest.trim_end_matches('.').parse().expect("port");
        }
    };
    // The rest of its output is drained so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, port)
}

impl Browser {
    /// Chromium with a fresh profile, headless, showing `base` (the server's address).
    pub async fn start(base: &str) -> Browser {
        let chromium =
            which("chromium").expect("chromium is not installed (scripts/test installs it)");
        let profile = tempfile::tempdir().expect("profile dir");
        let (driver, port) = driver();
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:loggingPrefs".into(),
            json!({ "performance": "ALL", "browser": "ALL" }),
        );
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        let browser = Browser {
            client,
            driver,
            _profile: profile,
            received: Vec::new(),
            base: base.trim_end_matches('/').to_owned(),
        };
        browser.cdp("Network.enable", json!({})).await;
        let grant = json!({ "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] });
        browser.cdp("Browser.grantPermissions", grant).await;
        browser
    }

    /// One DevTools protocol call.
    pub async fn cdp(&self, method: &str, params: Value) -> Value {
        let body = json!({ "cmd": method, "params": params });
        self.client
            .issue_cmd(Vendor {
                path: "goog/cdp/execute",
                body,
            })
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Chromium's log of `kind` since the last read (`performance`, `browser`).
    async fn log(&self, kind: &str) -> Vec<Value> {
        let got = self
            .client
            .issue_cmd(Vendor {
                path: "se/log",
                body: json!({ "type": kind }),
            })
            .await
            .expect("the log");
        got.as_array().cloned().unwrap_or_default()
    }

    /// Keeps every response received since the last call, with its body.
    pub async fn harvest(&mut self) {
        for entry in self.log("performance").await {
            let Some(text) = entry["message"].as_str() else {
                continue;
            };
            let message: Value = serde_json::from_str(text).expect("a DevTools event");
            if message["message"]["method"] != "Network.responseReceived" {
                continue;
            }
            let params = &message["message"]["params"];
            let response = &params["response"];
            let url = response["url"].as_str().unwrap_or_default().to_owned();
            if !url.starts_with(&self.base) {
                continue;
            }
            let id = json!({ "requestId": params["requestId"] });
            let body = match self
                .client
                .issue_cmd(Vendor {
                    path: "goog/cdp/execute",
                    body: json!({ "cmd": "Network.getResponseBody", "params": id }),
                })
                .await
            {
                Ok(b) if b["base64Encoded"] == true => format!(
                    "<{} bytes of binary>",
                    b["body"].as_str().unwrap_or_default().len()
                ),
                Ok(b) => b["body"].as_str().unwrap_or_default().to_owned(),
                // A response with no body (a redirect, a 204) has none to fetch.
                Err(_) => String::new(),
            };
            self.received.push(Received {
                url,
                status: response["status"].as_u64().unwrap_or_default(),
                mime: response["mimeType"].as_str().unwrap_or_default().to_owned(),
                headers: response["headers"].clone(),
                body,
            });
        }
    }

    /// What the page's console and the browser reported (CSP violations among them).
    pub async fn console(&self) -> Vec<String> {
        let entries = self.log("browser").await;
        entries
            .iter()
            .map(|e| format!("{} {}", e["level"], e["message"]))
            .collect()
    }

    /// Opens `path` of the server.
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    /// Waits for the page `name` to have rendered its data (`main[data-page=name]`).
    pub async fn page(&self, name: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(&format!("main[data-page=\"{name}\"]")))
            .await
            .unwrap_or_else(|e| panic!("page {name} never rendered: {e}"));
    }

    /// Waits for `css` to exist and be shown.
    pub async fn shown(&self, css: &str) -> fantoccini::elements::Element {
        let wait = self.client.wait().at_most(Duration::from_secs(20));
        let e = wait
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        for _ in 0..400 {
            if e.is_displayed().await.unwrap_or(false) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} is never shown")
    }

    /// Clicks `css` once it is shown.
    pub async fn click(&self, css: &str) {
        self.shown(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types `text` into the field `css` (cleared first).
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.shown(css).await;
        e.clear().await.expect("clear");
        e.send_keys(text)
            .await
            .unwrap_or_else(|err| panic!("type into {css}: {err}"));
    }

    /// The visible text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.shown(css).await.text().await.expect("text")
    }

    /// The `value` of the field `css`.
    pub async fn value(&self, css: &str) -> String {
        let e = self.shown(css).await;
        e.prop("value").await.expect("value").unwrap_or_default()
    }

    /// Waits until `check` holds for the text of `css`; the text it settled on.
    pub async fn text_until(&self, css: &str, check: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..400 {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                last = e.text().await.unwrap_or_default();
                if check(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} never showed what was expected; last: {last:?}")
    }

    /// Runs `script` in the page (its `arguments` are `args`) and returns its value.
    pub async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script: {e}"))
    }

    /// Shows the page at `width`×`height`.
    pub async fn viewport(&self, (width, height): (u32, u32)) {
        let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700 });
        self.cdp("Emulation.setDeviceMetricsOverride", metrics)
            .await;
    }

    /// Photographs the current page at both sizes into the target directory, and checks that
    /// nothing is wider than the viewport (readable without scrolling sideways).
    pub async fn photograph(&self, name: &str) {
        self.labelled(name).await;
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        for size in VIEWPORTS {
            self.viewport(size).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
            let wide = self
                .script("return document.documentElement.scrollWidth;", vec![])
                .await
                .as_u64()
                .unwrap_or(u64::MAX);
            let png = self.client.screenshot().await.expect("screenshot");
            std::fs::write(dir.join(format!("{name}-{}x{}.png", size.0, size.1)), png)
                .expect("write");
            let widest = "let w = null; for (const e of document.querySelectorAll('body *')) { \
                          const r = e.getBoundingClientRect(); \
                          if (r.right > window.innerWidth + 1 && (!w || r.width < w.width)) \
                          w = { tag: e.tagName, id: e.id, cls: e.className, width: r.right }; } return w;";
            let culprit = self.script(widest, vec![]).await;
            assert!(
                wide <= u64::from(size.0),
                "{name} is {wide}px wide at {size:?}: {culprit}"
            );
        }
        self.viewport(VIEWPORTS[0]).await;
    }

    /// Checks that every control of the page has a name a screen reader says (a `<label>`,
    /// or `aria-label` where a table row's control is named by its row) and that the page
    /// has one `<h1>`.
    pub async fn labelled(&self, name: &str) {
        let script = "const bad = []; \
            for (const e of document.querySelectorAll('input, select, textarea')) { \
              if (e.type === 'hidden') continue; \
              const named = (e.labels && e.labels.length > 0) || e.getAttribute('aria-label'); \
              if (!named) bad.push(e.outerHTML.slice(0, 80)); } \
            const h1 = document.querySelectorAll('main h1').length; \
            return { bad, h1 };";
        let got = self.script(script, vec![]).await;
        assert_eq!(got["bad"], json!([]), "{name}: controls without a label");
        assert_eq!(got["h1"], json!(1), "{name}: one heading");
    }

    /// The value of the cookie `name` (HttpOnly ones too: WebDriver sees them all).
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let all = self.client.get_all_cookies().await.expect("cookies");
        all.iter()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    }
}
