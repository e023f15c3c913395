//! A fault-injecting layer between the functions and the local AWS: the HTTP client of the
//! functions' SDK configuration, so every call a handler makes (S3, SNS, SQS, SageMaker,
//! CloudWatch, Application Auto Scaling) can be throttled, answered with a server error or timed
//! out, as AWS does on a bad day, and a function can crash between two writes, as a Lambda
//! process can.
//!
//! Decisions come from one seeded generator, so a run with the same seed injects the same faults
//! at the same calls (the local run calls in a fixed order). Faults happen before the request
//! leaves: a throttled or failed call did not reach the local AWS, as with the real services'
//! throttling. A crash happens after a write succeeded: from then on, every call of that
//! invocation fails, until the runner delivers the event again ([`Faults::begin_invocation`]).
//!
//! SNS Publish is never a crash point: a crash between an alert and its marker repeats the alert
//! (alert first, marker second, so that none is lost), and e-mail through SNS cannot be made
//! exactly-once; the campaign counts duplicates, so it keeps to the crashes the pipeline must
//! absorb without any.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
    http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde::Serialize;

/// What to inject, and how often.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    pub seed: u64,
    /// The share of calls that fail (throttled, server error or timeout, in equal parts).
    pub rate: f64,
    /// The share of successful writes after which the function crashes.
    pub crash_rate: f64,
    /// At most this many crashes in a run, so that a long handler still finishes.
    pub max_crashes: u64,
}

impl FaultPlan {
    /// The campaign of the reliability tests: a fifth of all calls fail, and one successful
    /// write in fifty ends its invocation.
    pub fn campaign(seed: u64) -> FaultPlan {
        FaultPlan {
            seed,
            rate: 0.2,
            crash_rate: 0.02,
            max_crashes: 12,
        }
    }
}

/// What the layer did, for the run's log line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultReport {
    pub seed: u64,
    /// Every call that reached the layer, retries included.
    pub calls: u64,
    pub throttled: u64,
    pub server_errors: u64,
    pub timeouts: u64,
    /// Invocations cut off after a write.
    pub crashes: u64,
    /// Calls refused because their invocation had crashed.
    pub after_crash: u64,
    /// Calls the SDK made again after a failed attempt (its `amz-sdk-request` header).
    pub retries: u64,
    /// Events the runner delivered again after a failed or crashed invocation.
    pub redeliveries: u64,
}

impl FaultReport {
    /// Faults injected: throttling, server errors and timeouts.
    pub fn injected(&self) -> u64 {
        self.throttled + self.server_errors + self.timeouts
    }

    /// One line: `faults: seed 7: 900 calls, 180 injected (...), 3 crashes, 170 SDK retries, ...`.
    pub fn line(&self) -> String {
        format!(
            "faults: seed {}: {} calls, {} injected ({} throttled, {} server errors, {} timeouts), {} crashes ({} calls refused after them), {} SDK retries, {} events delivered again",
            self.seed,
            self.calls,
            self.injected(),
            self.throttled,
            self.server_errors,
            self.timeouts,
            self.crashes,
            self.after_crash,
            self.retries,
            self.redeliveries
        )
    }
}

#[derive(Debug)]
struct State {
    rng: fastrand::Rng,
    report: FaultReport,
    crashed: bool,
}

/// The layer: shared by every client of the functions' configuration.
#[derive(Debug)]
pub struct Faults {
    plan: FaultPlan,
    state: Mutex<State>,
}

/// What happens to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Pass { crash_after: bool },
    Throttle,
    ServerError,
    Timeout,
    Down,
}

/// The wire protocol of a request, for answering in the service's own error format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `x-amz-target`: SageMaker, SQS, EventBridge, Application Auto Scaling.
    Json,
    /// A form body with `Action=`: SNS, CloudWatch.
    Query,
    /// S3 and anything else.
    Rest,
}

impl Faults {
    pub fn new(plan: FaultPlan) -> Arc<Faults> {
        Arc::new(Faults {
            plan,
            state: Mutex::new(State {
                rng: fastrand::Rng::with_seed(plan.seed),
                report: FaultReport {
                    seed: plan.seed,
                    ..FaultReport::default()
                },
                crashed: false,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `inner` with this layer in front of every connection it makes.
    pub fn http_client(self: &Arc<Self>, inner: SharedHttpClient) -> SharedHttpClient {
        let faults = Arc::clone(self);
        http_client_fn(move |settings, components| {
            SharedHttpConnector::new(FaultyConnector {
                inner: inner.http_connector(settings, components),
                faults: Arc::clone(&faults),
            })
        })
    }

    /// A new invocation of a function starts: a crashed one is over.
    pub fn begin_invocation(&self) {
        self.state().crashed = false;
    }

    /// Whether the invocation that just ended was cut off by a crash.
    pub fn crashed(&self) -> bool {
        self.state().crashed
    }

    /// The runner delivered an event again.
    pub fn redelivered(&self) {
        self.state().report.redeliveries += 1;
    }

    pub fn report(&self) -> FaultReport {
        self.state().report.clone()
    }

    fn decide(&self, request: &HttpRequest) -> Fate {
        let retry = request
            .headers()
            .get("amz-sdk-request")
            .is_some_and(|v| !v.starts_with("attempt=1;") && v != "attempt=1");
        let write = is_write(request);
        let plan = self.plan;
        let mut state = self.state();
        state.report.calls += 1;
        if retry {
            state.report.retries += 1;
        }
        if state.crashed {
            state.report.after_crash += 1;
            return Fate::Down;
        }
        let roll = state.rng.f64();
        let fate = if roll < plan.rate / 3.0 {
            state.report.throttled += 1;
            Fate::Throttle
        } else if roll < plan.rate * 2.0 / 3.0 {
            state.report.server_errors += 1;
            Fate::ServerError
        } else if roll < plan.rate {
            state.report.timeouts += 1;
            Fate::Timeout
        } else {
            let crash_after = write
                && state.report.crashes < plan.max_crashes
                && state.rng.f64() < plan.crash_rate;
            Fate::Pass { crash_after }
        };
        drop(state);
        fate
    }

    fn crash(&self) {
        let mut state = self.state();
        state.crashed = true;
        state.report.crashes += 1;
    }
}

/// The operation a request names: `x-amz-target`'s action, a query body's `Action`, or the
/// HTTP method for S3.
fn action(request: &HttpRequest) -> Option<String> {
    if let Some(target) = request.headers().get("x-amz-target") {
        return target.rsplit('.').next().map(str::to_string);
    }
    let body = request.body().bytes()?;
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_string)
}

fn protocol(request: &HttpRequest) -> Protocol {
    if request.headers().get("x-amz-target").is_some() {
        Protocol::Json
    } else if request
        .headers()
        .get("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        Protocol::Query
    } else {
        Protocol::Rest
    }
}

/// A call that changes something, other than SNS Publish (see the module's notes).
fn is_write(request: &HttpRequest) -> bool {
    match protocol(request) {
        Protocol::Rest => matches!(request.method(), "PUT" | "POST" | "DELETE"),
        Protocol::Json | Protocol::Query => action(request).is_some_and(|action| {
            action != "Publish"
                && ![
                    "Describe", "List", "Get", "Search", "Receive", "Query", "Head",
                ]
                .iter()
                .any(|read| action.starts_with(read))
        }),
    }
}

fn answer(status: u16, content_type: &str, body: String) -> HttpResponse {
    let status = StatusCode::try_from(status).expect("the layer answers with valid HTTP statuses");
    let mut response = HttpResponse::new(status, SdkBody::from(body));
    response
        .headers_mut()
        .insert("content-type", content_type.to_string());
    response
}

/// The answer a service gives when it throttles or fails, in its own protocol.
fn error_answer(protocol: Protocol, throttle: bool) -> HttpResponse {
    let (json_code, query_code, s3_code, status) = if throttle {
        ("ThrottlingException", "Throttling", "SlowDown", 400)
    } else {
        ("InternalFailure", "InternalFailure", "InternalError", 500)
    };
    let message = "injected by the local run's fault layer";
    match protocol {
        Protocol::Json => answer(
            status,
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{json_code}","message":"{message}"}}"#),
        ),
        Protocol::Query => answer(
            status,
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ),
        ),
        // S3 throttles with 503 SlowDown.
        Protocol::Rest => answer(
            if throttle { 503 } else { 500 },
            "application/xml",
            format!("<Error><Code>{s3_code}</Code><Message>{message}</Message></Error>"),
        ),
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    faults: Arc<Faults>,
}

/// Runs one invocation of a function over `faults` (if any): a crash of an earlier invocation is
/// over; what it returned, and whether this one crashed.
pub async fn invoke<T>(
    faults: Option<&Faults>,
    run: impl std::future::Future<Output = T>,
) -> (T, bool) {
    if let Some(faults) = faults {
        faults.begin_invocation();
    }
    let result = run.await;
    (result, faults.is_some_and(Faults::crashed))
}

/// What a call of a crashed invocation gets.
#[derive(Debug, thiserror::Error)]
#[error("the function crashed (injected): its invocation makes no more calls")]
struct Crashed;

/// What a call that times out gets.
#[derive(Debug, thiserror::Error)]
#[error("no answer in time (injected)")]
struct TimedOut;

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let fate = self.faults.decide(&request);
        let protocol = protocol(&request);
        match fate {
            Fate::Pass { crash_after } => {
                let call = self.inner.call(request);
                let faults = Arc::clone(&self.faults);
                HttpConnectorFuture::new(async move {
                    let response = call.await;
                    if crash_after && response.as_ref().is_ok_and(|r| r.status().is_success()) {
                        faults.crash();
                    }
                    response
                })
            }
            Fate::Throttle => HttpConnectorFuture::ready(Ok(error_answer(protocol, true))),
            Fate::ServerError => HttpConnectorFuture::ready(Ok(error_answer(protocol, false))),
            Fate::Timeout => HttpConnectorFuture::new(async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Err(ConnectorError::timeout(Box::new(TimedOut)))
            }),
            // Not a timeout nor an I/O error, so the SDK does not try again: the process is gone.
            Fate::Down => {
                HttpConnectorFuture::ready(Err(ConnectorError::other(Box::new(Crashed), None)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from(body.to_string()));
        request.set_method(method).expect("method");
        request.set_uri(uri).expect("uri");
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(name.to_string(), value.to_string());
        }
        request
    }

    #[test]
    fn writes_are_told_from_reads_in_every_protocol() {
        let json = |target: &str| {
            request(
                "POST",
                "http://127.0.0.1/",
                &[("x-amz-target", target)],
                "{}",
            )
        };
        let form = [("content-type", "application/x-www-form-urlencoded")];
        assert!(is_write(&json("SageMaker.CreateModel")));
        assert!(is_write(&json("AmazonSQS.SendMessage")));
        assert!(!is_write(&json("SageMaker.DescribeEndpoint")));
        assert!(!is_write(&json("SageMaker.ListModelPackages")));
        assert!(!is_write(&json("AmazonSQS.ReceiveMessage")));
        assert!(is_write(&request(
            "POST",
            "http://127.0.0.1/",
            &form,
            "Action=PutMetricAlarm&Version=2010-08-01"
        )));
        assert!(
            !is_write(&request(
                "POST",
                "http://127.0.0.1/",
                &form,
                "Action=Publish&TopicArn=x"
            )),
            "Publish is never a crash point"
        );
        assert!(is_write(&request("PUT", "http://127.0.0.1/b/k", &[], "")));
        assert!(!is_write(&request("GET", "http://127.0.0.1/b/k", &[], "")));
        assert!(!is_write(&request("HEAD", "http://127.0.0.1/b/k", &[], "")));
    }

    #[test]
    fn the_same_seed_gives_the_same_faults_and_the_rate_holds() {
        let run = |seed| {
            let faults = Faults::new(FaultPlan::campaign(seed));
            let fates: Vec<Fate> = (0..2_000)
                .map(|_| faults.decide(&request("GET", "http://127.0.0.1/b/k", &[], "")))
                .collect();
            (fates, faults.report())
        };
        let (first, report) = run(7);
        assert_eq!(run(7).0, first);
        assert_ne!(run(8).0, first);
        let share = report.injected() as f64 / report.calls as f64;
        assert!((0.17..0.23).contains(&share), "{share}");
        assert!(report.throttled > 0 && report.server_errors > 0 && report.timeouts > 0);
        assert_eq!(report.crashes, 0, "reads are never crash points");
    }

    #[test]
    fn after_a_crash_every_call_fails_until_the_next_invocation() {
        let faults = Faults::new(FaultPlan {
            seed: 1,
            rate: 0.0,
            crash_rate: 1.0,
            max_crashes: 1,
        });
        let put = || request("PUT", "http://127.0.0.1/b/k", &[], "");
        assert_eq!(faults.decide(&put()), Fate::Pass { crash_after: true });
        faults.crash();
        assert!(faults.crashed());
        assert_eq!(faults.decide(&put()), Fate::Down);
        faults.begin_invocation();
        assert!(!faults.crashed());
        assert_eq!(
            faults.decide(&put()),
            Fate::Pass { crash_after: false },
            "the crash budget is spent"
        );
        assert_eq!(faults.report().after_crash, 1);
    }

    #[test]
    fn retries_are_counted_from_the_sdk_header() {
        let faults = Faults::new(FaultPlan {
            seed: 1,
            rate: 0.0,
            crash_rate: 0.0,
            max_crashes: 0,
        });
        for attempt in ["attempt=1; max=4", "attempt=2; max=4", "attempt=3; max=4"] {
            faults.decide(&request(
                "GET",
                "http://127.0.0.1/b/k",
                &[("amz-sdk-request", attempt)],
                "",
            ));
        }
        assert_eq!(faults.report().retries, 2);
    }

    #[test]
    fn error_answers_carry_each_protocols_code() {
        let json = error_answer(Protocol::Json, true);
        assert_eq!(json.status().as_u16(), 400);
        assert!(
            std::str::from_utf8(json.body().bytes().unwrap_or_default())
                .unwrap_or_default()
                .contains("ThrottlingException")
        );
        assert_eq!(error_answer(Protocol::Rest, true).status().as_u16(), 503);
        assert_eq!(error_answer(Protocol::Query, false).status().as_u16(), 500);
    }
}
