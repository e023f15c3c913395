//! The web app in a real browser: Debian's Chromium, driven over WebDriver (chromedriver),
//! against the app that `hawkins local --serve` serves over the local AWS. A person's session,
//! page by page: upload an episode and see it processed, upload a bad file and see it
//! quarantined with its reason, chat two turns, classify a scene, approve the waiting package and
//! see its result, open Themes, Network and Costs. Every page is saved as a screenshot under
//! `target/web-screenshots/`, and the browser's console must stay free of errors (a blocked
//! script or style, a failed request).
//!
//! `tests/all.sh` installs `chromium` and `chromium-driver` when missing; without them this test
//! fails and says so.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A child process stopped (SIGINT, then SIGKILL) when dropped, so a failed test leaves nothing.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `hawkins local --serve`, once its summary (with the app's URL) is printed.
fn serve_local(out: &Path) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hawkins"))
        .current_dir(root())
        .args(["local", "--serve", "--out"])
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the hawkins binary runs");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut seen = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line of the summary");
        seen.push_str(&line);
        seen.push('\n');
        if let Some(url) = line.trim().strip_prefix("web app: ") {
            return (running, url.to_string());
        }
    }
    panic!("hawkins local ended without serving the web app:\n{seen}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn chromedriver() -> (Running, u16) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver runs: tests/all.sh installs chromium and chromium-driver (Debian)");
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    (running, port)
}

/// chromedriver's browser log (`POST /session/{id}/se/log`), which the W3C protocol lacks.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// The console's errors since the last call.
async fn console_errors(client: &Client) -> Vec<String> {
    let log = client.issue_cmd(BrowserLog).await.expect("the browser log");
    log.as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["level"] == "SEVERE")
                .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The page's text; empty while a navigation (a submitted form, a redirect) is under way.
async fn text_of(client: &Client) -> String {
    match client.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Reloads (or waits) until the page shows `wanted`, at most `seconds`.
async fn wait_for(client: &Client, wanted: &str, seconds: u64, reload: bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let text = text_of(client).await;
        if text.contains(wanted) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed '{wanted}':\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
        if reload {
            client.refresh().await.expect("reload");
        }
    }
}

async fn screenshot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("saved");
}

async fn open(client: &Client, base: &str, path: &str) {
    client
        .goto(&format!("{base}{path}"))
        .await
        .expect("the page opens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uses_every_page_of_the_local_app_in_chromium() {
    let work = std::env::temp_dir().join(format!("hawkins-web-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("a work folder");
    let shots = root().join("target/web-screenshots");
    std::fs::create_dir_all(&shots).expect("the screenshot folder");
    let (_local, base) = serve_local(&work.join("out"));
    let (_driver, port) = chromedriver();
    let profile = work.join("profile");
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                     format!("--user-data-dir={}", profile.display())],
        },
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    let client = ClientBuilder::rustls()
        .expect("a TLS configuration")
        .capabilities(capabilities.as_object().cloned().unwrap_or_default())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a browser session");

    // Overview: the local run's corpus and endpoints.
    open(&client, &base, "/").await;
    let text = text_of(&client).await;
    assert!(
        text.contains("Corpus") && text.contains("Dialogue lines"),
        "{text}"
    );
    screenshot(&client, &shots, "overview").await;

    // Upload: a new episode through the file input, then a file ingest refuses.
    let episode = work.join("Hawkins.Browser.S01E04.srt");
    std::fs::write(
        &episode,
        "1\n00:00:01,000 --> 00:00:03,000\nDUSTIN: The gate is open.\n\n2\n00:00:04,000 --> 00:00:06,000\nSTEVE: Then we close it.\n\n3\n00:00:07,000 --> 00:00:09,000\n[thunder rumbling]\n",
    )
    .expect("the episode");
    let bad = work.join("empty.srt");
    std::fs::write(&bad, "this is not a subtitle file\n").expect("the bad file");
    open(&client, &base, "/upload").await;
    let input = client
        .find(Locator::Css("#files"))
        .await
        .expect("the file input");
    input
        .send_keys(&episode.display().to_string())
        .await
        .expect("the episode chosen");
    wait_for(&client, "processed:", 90, false).await;
    let input = client
        .find(Locator::Css("#files"))
        .await
        .expect("the file input");
    input.clear().await.expect("the input emptied");
    input
        .send_keys(&bad.display().to_string())
        .await
        .expect("the bad file chosen");
    let text = wait_for(&client, "quarantined (", 90, false).await;
    assert!(text.contains("empty.srt"), "{text}");
    screenshot(&client, &shots, "upload").await;

    // Chat: two turns with Eleven; each reply names the variant that answered.
    open(&client, &base, "/chat?model=chatbot-eleven").await;
    for line in ["Where is Hopper?", "Do you like Eggos?"] {
        let message = client
            .find(Locator::Css("#message"))
            .await
            .expect("the message box");
        message.send_keys(line).await.expect("typed");
        client
            .find(Locator::Css("#chat-form button[name=send]"))
            .await
            .expect("send")
            .click()
            .await
            .expect("sent");
        wait_for(&client, line, 30, false).await;
    }
    let replies = client
        .find_all(Locator::Css("li.them"))
        .await
        .expect("replies");
    assert_eq!(replies.len(), 2);
    assert!(
        text_of(&client).await.contains("primary"),
        "the variant is shown"
    );
    screenshot(&client, &shots, "chat").await;

    // Classify a scene description.
    open(&client, &base, "/classify").await;
    client
        .find(Locator::Css("#text"))
        .await
        .expect("the text box")
        .send_keys("A government laboratory behind fences and guards")
        .await
        .expect("typed");
    client
        .find(Locator::Css("main form button[type=submit]"))
        .await
        .expect("classify")
        .click()
        .await
        .expect("sent");
    let text = wait_for(&client, "Score", 30, false).await;
    assert!(text.contains("Location"), "{text}");
    screenshot(&client, &shots, "classify").await;

    // Models: approve the package that waits (the themes model); its batch transform then
    // scores the episodes, which the Themes page shows.
    open(&client, &base, "/models").await;
    client
        .find(Locator::Css("button[value=approve]"))
        .await
        .expect("an Approve button")
        .click()
        .await
        .expect("approved");
    wait_for(
        &client,
        "Approved: the lifecycle function deploys it",
        20,
        false,
    )
    .await;
    screenshot(&client, &shots, "models").await;
    open(&client, &base, "/themes").await;
    wait_for(&client, "Themes per episode", 120, true).await;
    screenshot(&client, &shots, "themes").await;

    open(&client, &base, "/network").await;
    let frame = client
        .find(Locator::Css("iframe.network"))
        .await
        .expect("the network frame");
    assert!(frame.attr("src").await.expect("src").is_some());
    screenshot(&client, &shots, "network").await;

    open(&client, &base, "/costs").await;
    let text = text_of(&client).await;
    assert!(text.contains("Month to date"), "{text}");
    screenshot(&client, &shots, "costs").await;

    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    client.close().await.expect("the session ends");
}
