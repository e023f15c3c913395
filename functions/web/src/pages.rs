//! The HTML of every page, as pure functions of what the handlers gathered. maud escapes every
//! value it splices in, so nothing that came from an upload (speaker names, file names, reasons,
//! replies) can become markup. No inline script or style anywhere: the Content-Security-Policy
//! allows only the app's own `/static/` files.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, html};

use crate::auth::User;
use crate::backend::{EndpointRow, PackageRow, RunningJob};
use crate::chat::{Label, Turn, history_field};
use crate::data::{Corpus, CostReport, Upload, UploadState};
use hawkins::themes::ThemeReport;

/// The navigation bar's pages: path and label.
pub const NAV: [(&str, &str); 8] = [
    ("/", "Overview"),
    ("/upload", "Upload"),
    ("/chat", "Chat"),
    ("/classify", "Classify"),
    ("/themes", "Themes"),
    ("/network", "Network"),
    ("/costs", "Costs"),
    ("/models", "Models"),
];

/// What every page's frame needs.
pub struct Frame<'a> {
    pub title: &'a str,
    pub path: &'a str,
    pub user: &'a User,
    pub csrf: &'a str,
    /// Reload every this many seconds while something is in progress.
    pub refresh: Option<u32>,
}

pub fn layout(frame: &Frame<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(frame.csrf);
                @if let Some(s) = frame.refresh { meta http-equiv="refresh" content=(s); }
                title { (frame.title) " · Hawkins" }
                link rel="stylesheet" href="/static/app.css";
                // No favicon: the browser asks for nothing else.
                link rel="icon" href="data:,";
                script src="/static/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.bar {
                    span.brand { "Hawkins" }
                    nav aria-label="Pages" {
                        ul {
                            @for (href, label) in NAV {
                                li {
                                    @if href == frame.path {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form.who method="post" action="/signout" {
                        span { (frame.user.name) " · " (if frame.user.can_change() { "approver" } else { "viewer" }) }
                        input type="hidden" name="csrf" value=(frame.csrf);
                        button type="submit" { "Sign out" }
                    }
                }
                main #main {
                    h1 { (frame.title) }
                    (body)
                }
            }
        }
    }
}

pub fn sign_in(can_sign_in: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · Hawkins" }
                link rel="stylesheet" href="/static/app.css";
                // No favicon: the browser asks for nothing else.
                link rel="icon" href="data:,";
            }
            body.signin {
                main #main {
                    h1 { "Hawkins" }
                    p { "The Stranger Things models: chat with the characters, follow the corpus, steer the pipeline." }
                    @if can_sign_in {
                        a.button href="/auth/login" { "Sign in" }
                    } @else {
                        p { "This app has no sign-in here." }
                    }
                }
            }
        }
    }
}

/// A message box: `kind` is `info`, `warn` or `error`.
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { p class=(format!("notice {kind}")) role=(if kind == "error" { "alert" } else { "status" }) { (text) } }
}

pub fn empty(text: &str, hint: &str) -> Markup {
    html! { div.empty { p { (text) } p.hint { (hint) } } }
}

pub fn time(t: Option<i64>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

pub fn usd(v: f64) -> String {
    format!("${v:.2}")
}

pub fn size(bytes: Option<u64>) -> String {
    match bytes {
        None => "-".into(),
        Some(b) if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1 << 20) as f64),
        Some(b) if b >= 1 << 10 => format!("{:.1} KB", b as f64 / 1024.0),
        Some(b) => format!("{b} B"),
    }
}

pub fn upload_state(state: &UploadState) -> Markup {
    match state {
        UploadState::Processing => html! { span.tag.busy { "processing" } },
        UploadState::Processed { records, warnings } => html! {
            span.tag.ok { "processed" } " " (records) " records"
            @if *warnings > 0 { ", " (warnings) " warnings" }
        },
        UploadState::Quarantined {
            code,
            line,
            message,
            action,
        } => html! {
            span.tag.bad { "quarantined" } " "
            code { (code) }
            @if let Some(l) = line { " at line " (l) }
            ": " (message)
            @if !action.is_empty() { br; span.hint { (action) } }
        },
        UploadState::NotASource { reason } => html! { span.tag.bad { "not taken" } " " (reason) },
        UploadState::Missing => html! { span.tag { "missing" } },
    }
}

pub fn uploads_table(uploads: &[Upload]) -> Markup {
    html! {
        table {
            thead { tr { th scope="col" { "File" } th scope="col" { "Size" } th scope="col" { "Uploaded" } th scope="col" { "Outcome" } } }
            tbody {
                @for u in uploads {
                    tr { td { code { (u.key) } } td { (size(u.size)) } td { (time(u.modified)) } td { (upload_state(&u.state)) } }
                }
            }
        }
    }
}

pub fn variants(endpoint: &EndpointRow) -> Markup {
    html! {
        ul.variants {
            @for v in &endpoint.variants {
                li {
                    code { (v.name) } " serves " code { (v.model) }
                    " · weight " (format!("{:.2}", v.weight))
                    @if let Some(n) = v.instances { " · " (n) " × " (v.instance_type.as_deref().unwrap_or("serverless")) }
                }
            }
        }
    }
}

/// The Overview page's content.
pub struct Overview {
    pub corpus: Option<Corpus>,
    pub uploads: Vec<Upload>,
    /// Each with its on-demand price per hour (all its instances), where the price list has it.
    pub jobs: Vec<(RunningJob, Option<f64>)>,
    pub pending: Vec<(String, PackageRow)>,
    pub endpoints: Vec<(String, Option<EndpointRow>)>,
    pub costs: Option<CostReport>,
    pub monthly_budget: Option<f64>,
    pub problems: Vec<String>,
    pub now: i64,
}

impl Overview {
    /// Something is moving: the page reloads itself.
    pub fn in_progress(&self) -> bool {
        !self.jobs.is_empty()
            || self
                .uploads
                .iter()
                .any(|u| u.state == UploadState::Processing)
            || self.endpoints.iter().any(|(_, e)| {
                e.as_ref()
                    .is_some_and(|e| matches!(e.status.as_str(), "Creating" | "Updating"))
            })
    }
}

pub fn overview(o: &Overview) -> Markup {
    html! {
        @for p in &o.problems { (notice("error", p)) }
        section aria-labelledby="corpus" {
            h2 #corpus { "Corpus" }
            @match &o.corpus {
                Some(c) => {
                    dl.facts {
                        dt { "Version" } dd { code { (c.version) } }
                        dt { "Sources" } dd { (c.sources) }
                        dt { "Episodes" } dd { (c.episodes.len()) }
                        dt { "Dialogue lines" } dd { (c.lines) }
                        dt { "Speakers" } dd { (c.speakers) }
                    }
                }
                None => (empty("No corpus yet.", "Upload episodes (.srt) or transcripts (.csv) on the Upload page; a version is built once the uploads settle.")),
            }
        }
        section aria-labelledby="uploads" {
            h2 #uploads { "Last uploads" }
            @if o.uploads.is_empty() { (empty("Nothing uploaded yet.", "Drop files on the Upload page.")) }
            @else { (uploads_table(&o.uploads)) }
        }
        section aria-labelledby="jobs" {
            h2 #jobs { "Training in progress" }
            @if o.jobs.is_empty() { (empty("No training job is running.", "A new corpus version starts one job per model.")) }
            @else {
                table {
                    thead { tr { th scope="col" { "Job" } th scope="col" { "Instance" } th scope="col" { "Running for" } th scope="col" { "Cost so far" } } }
                    tbody {
                        @for (j, per_hour) in &o.jobs {
                            tr {
                                td { code { (j.name) } }
                                td { (j.instance_count) " × " (j.instance_type.as_deref().unwrap_or("-")) @if j.spot { " (spot)" } }
                                td { (j.created.map(|c| duration(o.now - c)).unwrap_or_else(|| "-".into())) }
                                td {
                                    @match (per_hour, j.created) {
                                        (Some(p), Some(c)) => {
                                            @if j.spot { "at most " }
                                            (usd(p * (o.now - c).max(0) as f64 / 3600.0))
                                            @if j.spot { span.hint { " (on-demand price; spot bills less)" } }
                                        }
                                        _ => "-",
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="pending" {
            h2 #pending { "Waiting for approval" }
            @if o.pending.is_empty() { (empty("No model package is waiting.", "Packages that pass their gate but need a person appear here and on the Models page.")) }
            @else {
                ul { @for (model, p) in &o.pending { li { a href=(format!("/models#{model}")) { (model) " v" (p.version) } " · registered " (time(p.created)) } } }
            }
        }
        section aria-labelledby="endpoints" {
            h2 #endpoints { "Endpoints" }
            @if o.endpoints.iter().all(|(_, e)| e.is_none()) { (empty("No endpoint is deployed.", "An approved model package is deployed to its endpoint.")) }
            @else {
                table {
                    thead { tr { th scope="col" { "Endpoint" } th scope="col" { "State" } th scope="col" { "Variants" } } }
                    tbody {
                        @for (_, e) in &o.endpoints {
                            @if let Some(e) = e {
                                tr { td { code { (e.name) } } td { (e.status) } td { (variants(e)) } }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="cost" {
            h2 #cost { "Cost this month" }
            @match &o.costs {
                Some(c) => {
                    p { strong { (usd(c.month_to_date_usd)) } " so far in " (c.month) ", " (usd(c.forecast_usd)) " forecast"
                        @if let Some(b) = o.monthly_budget { " · budget " (usd(b)) @if c.forecast_usd > b { " " span.tag.bad { "over budget" } } } }
                    p.hint { "From the cost report of " (c.date) ". " a href="/costs" { "Details" } }
                }
                None => (empty("No cost report yet.", "The cost function writes one on its schedule (daily by default).")),
            }
        }
    }
}

pub fn upload_page(bucket: &str, can_upload: bool, uploads: &[Upload]) -> Markup {
    html! {
        @if can_upload {
            p { "Files go straight from this browser to " code { "s3://" (bucket) "/raw/" } "; ingest then processes them or quarantines them with a reason." }
            form #upload-form method="post" action="/upload" {
                div #drop.drop {
                    label for="files" { "Drop .srt, .csv or .jsonl files here, or choose them" }
                    input #files type="file" name="files" multiple accept=".srt,.csv,.jsonl";
                }
                noscript { p.notice.warn { "Uploading needs JavaScript: the browser sends each file to S3 with a signed URL." } }
            }
            ul #progress aria-live="polite" {}
        } @else {
            (notice("info", "Only approvers can upload. Ask an approver to add you to the group."))
        }
        h2 { "Recent uploads" }
        @if uploads.is_empty() { (empty("Nothing uploaded yet.", "Episodes as .srt (hearing-impaired subtitles with NAME: labels), transcripts as name,line .csv, locations and characters as .jsonl.")) }
        @else { (uploads_table(uploads)) }
    }
}

/// A chatbot the Chat page offers.
pub struct Character {
    pub model: String,
    pub name: String,
    pub endpoint: Option<EndpointRow>,
}

pub struct ChatView<'a> {
    pub characters: &'a [Character],
    pub chosen: Option<&'a Character>,
    pub variant: &'a str,
    pub turns: &'a [Turn],
    pub error: Option<String>,
    pub csrf: &'a str,
}

pub fn chat(v: &ChatView<'_>) -> Markup {
    let ready: Vec<&Character> = v
        .characters
        .iter()
        .filter(|c| c.endpoint.as_ref().is_some_and(|e| e.status == "InService"))
        .collect();
    html! {
        @if ready.is_empty() {
            (empty("No character is in service.", "A chatbot answers once its model is approved and its endpoint is InService (see Models)."))
        } @else {
            form.row method="get" action="/chat" {
                label for="model" { "Character" }
                select #model name="model" {
                    @for c in &ready {
                        option value=(c.model) selected[v.chosen.is_some_and(|x| x.model == c.model)] { (c.name) }
                    }
                }
                button type="submit" { "Talk" }
            }
        }
        @if let Some(c) = v.chosen {
            @let endpoint = c.endpoint.as_ref();
            @match endpoint {
                None => (notice("warn", &format!("{} has no endpoint: approve a model on the Models page to deploy one.", c.name))),
                Some(e) if e.status != "InService" => (notice("warn", &format!("{}'s endpoint is {}: try again once it is InService.", c.name, e.status))),
                Some(e) => {
                    @if let Some(err) = &v.error { (notice("error", err)) }
                    ol.conversation aria-live="polite" {
                        @for (i, t) in v.turns.iter().enumerate() {
                            li.you { span.who { "You" } p { (t.user) } }
                            li.them {
                                span.who { (c.name) @if !t.variant.is_empty() { " · " span.variant { (t.variant) @if t.version > 0 { " v" (t.version) } } } }
                                p { (t.reply) }
                                form.rate method="post" action="/chat" {
                                    (chat_hidden(v, &c.model))
                                    @if t.rated.is_empty() {
                                        button type="submit" name="rate" value=(format!("up:{i}")) { "Good reply" }
                                        button type="submit" name="rate" value=(format!("down:{i}")) { "Bad reply" }
                                    } @else {
                                        span.hint { "Rated " (t.rated) }
                                    }
                                }
                            }
                        }
                    }
                    form #chat-form method="post" action="/chat" {
                        (chat_hidden(v, &c.model))
                        @if e.variants.len() > 1 {
                            label for="variant" { "Variant" }
                            select #variant name="variant" {
                                option value="" selected[v.variant.is_empty()] { "By the endpoint's weights" }
                                @for var in &e.variants {
                                    option value=(var.name) selected[v.variant == var.name] { (var.name) " (" (var.model) ")" }
                                }
                            }
                        }
                        label for="message" { "Say something to " (c.name) }
                        textarea #message name="message" rows="2" maxlength="2000" required {}
                        button type="submit" name="send" value="1" { "Send" }
                        span.thinking hidden { "Thinking…" }
                    }
                }
            }
        }
    }
}

fn chat_hidden(v: &ChatView<'_>, model: &str) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(v.csrf);
        input type="hidden" name="model" value=(model);
        input type="hidden" name="history" value=(history_field(v.turns));
        @if !v.variant.is_empty() { input type="hidden" name="chosen_variant" value=(v.variant); }
    }
}

pub fn classify(
    csrf: &str,
    ready: Result<(), String>,
    text: &str,
    labels: &[Label],
    error: Option<&str>,
) -> Markup {
    html! {
        @match ready {
            Err(why) => (empty(&why, "The location classifier answers once its model is approved and deployed.")),
            Ok(()) => {
                form method="post" action="/classify" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="text" { "Scene description" }
                    textarea #text name="text" rows="4" maxlength="2000" required { (text) }
                    button type="submit" { "Classify" }
                }
                @if let Some(e) = error { (notice("error", e)) }
                @if !labels.is_empty() {
                    table {
                        thead { tr { th scope="col" { "Location" } th scope="col" { "Score" } } }
                        tbody { @for l in labels { tr { td { (l.label) } td { (format!("{:.3}", l.score)) } } } }
                    }
                }
            }
        }
    }
}

/// A score's shade class (0 to 9): the chart's colour without inline style.
pub fn shade(score: f64) -> String {
    format!("s{}", ((score.clamp(0.0, 1.0) * 9.0).round()) as u8)
}

pub fn themes(report: Option<&ThemeReport>) -> Markup {
    html! {
        @match report {
            None => (empty("No theme scores yet.", "Theme scores come from the theme model's batch transform, run after its model package is approved; `hawkins themes` prints the same table.")),
            Some(r) => {
                p { "Corpus " code { (r.corpus_version) } " scored by " code { (r.job) } " (package v" (r.package_version) "). Each cell is the episode's mean score for the theme." }
                div.scroll {
                    table.heat {
                        caption { "Themes per episode" }
                        thead { tr { th scope="col" { "Episode" } @for t in &r.themes { th scope="col" { (t) } } } }
                        tbody {
                            @for e in &r.episodes {
                                tr {
                                    th scope="row" { (e.episode) }
                                    @for t in &r.themes {
                                        @let s = e.scores.get(t).copied().unwrap_or(0.0);
                                        td class=(shade(s)) { (format!("{s:.2}")) }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Themes" }
                ul { @for t in &r.themes { li { (t) } } }
            }
        }
    }
}

pub fn network(episodes: &[String], chosen: Option<&str>, available: bool) -> Markup {
    let src = match chosen {
        Some(e) => format!("/network/frame?episode={e}"),
        None => "/network/frame".into(),
    };
    html! {
        form.row method="get" action="/network" {
            label for="episode" { "Network of" }
            select #episode name="episode" {
                option value="" selected[chosen.is_none()] { "the whole corpus" }
                @for e in episodes { option value=(e) selected[chosen == Some(e.as_str())] { (e) } }
            }
            button type="submit" { "Show" }
        }
        @if available {
            iframe.network src=(src) title="Character network" {}
        } @else {
            (empty("No network yet for this choice.", "Networks are drawn from the speakers of each processed episode."))
        }
    }
}

/// The per-day cost chart: one bar per day, as SVG drawn here (no script, no inline style).
pub fn cost_chart(days: &BTreeMap<String, BTreeMap<String, f64>>) -> Markup {
    let totals: Vec<(&String, f64)> = days.iter().map(|(d, m)| (d, m.values().sum())).collect();
    let max = totals.iter().map(|t| t.1).fold(0.0_f64, f64::max).max(0.01);
    let (w, h, gap) = (24.0, 160.0, 4.0);
    let width = totals.len() as f64 * (w + gap) + gap;
    html! {
        svg.chart role="img" aria-label="Cost per day" viewBox=(format!("0 0 {width} {}", h + 20.0)) width=(width) height=(h + 20.0) {
            @for (i, (day, total)) in totals.iter().enumerate() {
                @let bar = total / max * h;
                @let x = gap + i as f64 * (w + gap);
                g {
                    title { (day) ": " (usd(*total)) }
                    rect x=(x) y=(h - bar) width=(w) height=(bar) {}
                    text x=(x + w / 2.0) y=(h + 14.0) text-anchor="middle" { (day.get(8..10).unwrap_or(day)) }
                }
            }
        }
    }
}

/// The `n` models that cost most this month, most first.
pub fn top_spenders(by_model: &BTreeMap<String, f64>, n: usize) -> Vec<(&str, f64)> {
    let mut top: Vec<(&str, f64)> = by_model.iter().map(|(m, v)| (m.as_str(), *v)).collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    top.truncate(n);
    top
}

pub fn costs(report: Option<&CostReport>, monthly_budget: Option<f64>) -> Markup {
    html! {
        @match report {
            None => (empty("No cost report yet.", "The cost function writes one on its schedule; `hawkins costs` computes one on demand.")),
            Some(r) => {
                dl.facts {
                    dt { "Month to date" } dd { (usd(r.month_to_date_usd)) }
                    dt { "Forecast" } dd { (usd(r.forecast_usd)) @if let Some(b) = monthly_budget { " of " (usd(b)) " budget" @if r.forecast_usd > b { " " span.tag.bad { "over" } } @else { " " span.tag.ok { "within" } } } }
                    dt { "Last 24 hours" } dd { (usd(r.last_24h_usd)) }
                    dt { "Spot savings" } dd { (usd(r.spot_savings_month_usd)) }
                    @if let Some(s) = &r.storage { dt { "Storage" } dd { (usd(s.usd_per_month)) " a month for " (size(Some(s.bytes))) } }
                }
                h2 { "Per day" }
                @if r.days.is_empty() { p.hint { "No spending this month." } } @else { (cost_chart(&r.days)) }
                h2 { "Top spenders" }
                @let top = top_spenders(&r.by_model, 10);
                table {
                    thead { tr { th scope="col" { "Model" } th scope="col" { "This month" } } }
                    tbody { @for (m, v) in &top { tr { td { (m) } td { (usd(*v)) } } } }
                }
                h2 { "Idle endpoints" }
                @if r.idle_endpoints.is_empty() { p.hint { "None: every endpoint with instances was invoked in the idle window." } }
                @else {
                    table {
                        thead { tr { th scope="col" { "Endpoint" } th scope="col" { "Idle for" } th scope="col" { "Costs per day" } th scope="col" { "To delete it" } } }
                        tbody { @for e in &r.idle_endpoints { tr { td { code { (e.endpoint) } } td { (e.idle_hours) " h" } td { (e.usd_per_day.map(usd).unwrap_or_else(|| "unknown".into())) } td { code { (e.delete_command) } } } } }
                    }
                }
                p.hint { "Report of " (r.date) ", generated " (r.generated_at) "." }
            }
        }
    }
}

/// One model on the Models page.
pub struct ModelView {
    pub model: String,
    pub kind: String,
    pub endpoint: Option<EndpointRow>,
    pub packages: Result<Vec<PackageRow>, String>,
}

/// Corpus version → the sources it was built from (its manifest's), for the lineage column.
pub type Lineage = BTreeMap<String, Vec<String>>;

pub fn models(
    models: &[ModelView],
    lineage: &Lineage,
    user: &User,
    csrf: &str,
    message: Option<&str>,
) -> Markup {
    html! {
        @if let Some(m) = message { (notice("info", m)) }
        @for m in models {
            section aria-labelledby=(m.model) {
                h2 id=(m.model) { (m.model) " " span.hint { (m.kind) } }
                @if let Some(e) = &m.endpoint { p { "Endpoint " code { (e.name) } " · " (e.status) } (variants(e)) }
                @match &m.packages {
                    Err(e) => (notice("error", e)),
                    Ok(p) if p.is_empty() => (empty("No version registered yet.", "A finished training job that passes its gate registers a version.")),
                    Ok(p) => {
                        table {
                            thead { tr { th scope="col" { "Version" } th scope="col" { "Registered" } th scope="col" { "Corpus" } th scope="col" { "Metrics" } th scope="col" { "Gate" } th scope="col" { "Approval" } } }
                            tbody {
                                @for pkg in p {
                                    tr {
                                        td { "v" (pkg.version) }
                                        td { (time(pkg.created)) }
                                        td {
                                            @let version = pkg.metadata.get("hawkins:corpus-version").map(String::as_str).unwrap_or("-");
                                            code { (version) }
                                            @if let Some(sources) = lineage.get(version) {
                                                details { summary { (sources.len()) " sources" } ul { @for s in sources { li { code { (s) } } } } }
                                            }
                                        }
                                        td { @for (k, v) in pkg.metadata.iter().filter(|(k, _)| k.starts_with("hawkins:metric:")) { span.metric { (k.trim_start_matches("hawkins:metric:")) " " (v) } " " } }
                                        td { (pkg.metadata.get("hawkins:gate").map(String::as_str).unwrap_or("-")) }
                                        td {
                                            (pkg.approval)
                                            @if pkg.approval == "PendingManualApproval" && user.can_change() {
                                                form.inline method="post" action="/models/decide" {
                                                    input type="hidden" name="csrf" value=(csrf);
                                                    input type="hidden" name="model" value=(m.model);
                                                    input type="hidden" name="version" value=(pkg.version);
                                                    button type="submit" name="decision" value="approve" { "Approve" }
                                                    button type="submit" name="decision" value="reject" { "Reject" }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if models.is_empty() { (empty("The config names no model.", "Models are listed in infra/hawkins.toml.")) }
    }
}

/// The stored network page's Content-Security-Policy: its own inline script and style are
/// allowed by their hashes and nothing else runs; it may be framed only by the app.
pub fn network_frame_policy(page: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let mut scripts = Vec::new();
    let mut styles = Vec::new();
    for (open, close, into) in [
        ("<script>", "</script>", &mut scripts),
        ("<style>", "</style>", &mut styles),
    ] {
        let mut rest = page;
        while let Some(start) = rest.find(open) {
            let body = &rest[start + open.len()..];
            let Some(end) = body.find(close) else { break };
            let digest = Sha256::digest(&body.as_bytes()[..end]);
            into.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
            rest = &body[end..];
        }
    }
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
        if scripts.is_empty() {
            "'none'".into()
        } else {
            scripts.join(" ")
        },
        if styles.is_empty() {
            "'none'".into()
        } else {
            styles.join(" ")
        }
    )
}

/// An error page's body, for what a person can read (never a stack trace).
pub fn problem(text: &str) -> Markup {
    notice("error", text)
}
