//! Sending notifications: one worker thread per destination posts its messages in
//! order (a Healthchecks `/start` before the ping that ends the run), each retried with
//! exponential backoff within a bound of attempts and time. What cannot be delivered
//! is logged naming the destination by scheme and host only, and counted.

use lifeboat_core::Secret;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Tries per message.
pub const ATTEMPTS: u32 = 3;
/// How long a message may take from being queued to its last try: the most a
/// notification ever delays the exit of a command.
pub const DELIVERY_BOUND: Duration = Duration::from_secs(10);
/// One request's limit (connecting included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The wait before the second try; doubled before each next.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// A try with less time left than this would only time out.
const LEAST_TRY: Duration = Duration::from_millis(200);

/// For the whole process, across configuration reloads: `/metrics` counters.
static DELIVERED: AtomicU64 = AtomicU64::new(0);
static UNDELIVERED: AtomicU64 = AtomicU64::new(0);

pub fn delivered_total() -> u64 {
    DELIVERED.load(Ordering::Relaxed)
}

pub fn undelivered_total() -> u64 {
    UNDELIVERED.load(Ordering::Relaxed)
}

/// One HTTP POST to make.
pub struct Message {
    pub url: Secret<String>,
    pub body: String,
    pub content_type: &'static str,
    /// What it tells, for the log (`failure of esp`).
    pub what: String,
    pub deadline: Instant,
}

/// Messages queued or being sent, for `flush`.
#[derive(Default)]
pub struct Pending {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Pending {
    fn add(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }

    fn done(&self) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        *count = count.saturating_sub(1);
        self.changed.notify_all();
    }

    /// Waits until nothing is pending or `deadline`; how many still are.
    pub fn wait(&self, deadline: Instant) -> usize {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *count > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            count = self
                .changed
                .wait_timeout(count, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *count
    }
}

/// The queue of one destination's worker.
pub struct Queue {
    tx: mpsc::Sender<Message>,
    pending: Arc<Pending>,
}

impl Queue {
    /// Starts the worker of one destination.
    pub fn spawn(pending: Arc<Pending>) -> Queue {
        let (tx, rx) = mpsc::channel::<Message>();
        let done = pending.clone();
        let spawned = std::thread::Builder::new()
            .name("lifeboat-notify".into())
            .spawn(move || work(&rx, &done));
        if let Err(e) = spawned {
            // The receiver is gone with the closure: every send fails and is counted.
            tracing::warn!(error = %e, "cannot start the notification sender");
        }
        Queue { tx, pending }
    }

    pub fn send(&self, message: Message) {
        self.pending.add();
        if let Err(mpsc::SendError(message)) = self.tx.send(message) {
            given_up(&message, 0, "the sender is not running");
            self.pending.done();
        }
    }
}

fn work(rx: &mpsc::Receiver<Message>, pending: &Pending) {
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!("lifeboat/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(REQUEST_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(reason);
    for message in rx {
        let outcome = match &client {
            Ok(client) => deliver(client, &message),
            Err(why) => Err((0, why.clone())),
        };
        match outcome {
            Ok(attempts) => {
                DELIVERED.fetch_add(1, Ordering::Relaxed);
                let to = origin(message.url.expose());
                tracing::debug!(to = %to, what = %message.what, attempts, "notification delivered");
            }
            Err((attempts, why)) => given_up(&message, attempts, &why),
        }
        pending.done();
    }
}

fn given_up(message: &Message, attempts: u32, why: &str) {
    UNDELIVERED.fetch_add(1, Ordering::Relaxed);
    let to = origin(message.url.expose());
    // A reason never carries the URL (see `reason`); this is the belt to those braces.
    let why = why.replace(message.url.expose().as_str(), &to);
    tracing::warn!(to = %to, what = %message.what, attempts, error = %why, "notification NOT delivered");
}

/// Posts until it is accepted, refused for good, or out of tries or time: the tries
/// made, or them with the last reason.
fn deliver(client: &reqwest::blocking::Client, message: &Message) -> Result<u32, (u32, String)> {
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::from("no time left to try");
    for attempt in 1..=ATTEMPTS {
        let left = message.deadline.saturating_duration_since(Instant::now());
        if left < LEAST_TRY {
            return Err((attempt - 1, last));
        }
        match post(client, message, left.min(REQUEST_TIMEOUT)) {
            Ok(()) => return Ok(attempt),
            Err(Failure { why, retry: false }) => return Err((attempt, why)),
            Err(Failure { why, retry: true }) => last = why,
        }
        tracing::debug!(to = %origin(message.url.expose()), attempt, error = %last, "notification failed; retrying");
        if attempt < ATTEMPTS {
            let left = message.deadline.saturating_duration_since(Instant::now());
            std::thread::sleep(backoff.min(left));
            backoff *= 2;
        }
    }
    Err((ATTEMPTS, last))
}

struct Failure {
    why: String,
    /// Worth another try: the receiver was down, slow or overloaded.
    retry: bool,
}

fn post(
    client: &reqwest::blocking::Client,
    message: &Message,
    timeout: Duration,
) -> Result<(), Failure> {
    let response = client
        .post(message.url.expose().as_str())
        .header(reqwest::header::CONTENT_TYPE, message.content_type)
        .body(message.body.clone())
        .timeout(timeout)
        .send()
        .map_err(|e| Failure {
            why: reason(e),
            retry: true,
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    // 408 and 429 are "later"; other 4xx mean the URL or the body is wrong for good.
    let retry = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
    Err(Failure {
        why: format!("HTTP {status}"),
        retry,
    })
}

/// The error and its causes, without the URL reqwest puts in its message.
fn reason(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// `https://hooks.slack.com`: all of a destination a log may name (the path and the
/// query of a webhook URL are its token).
pub fn origin(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(
        |_| "(an invalid URL)".into(),
        |u| u.origin().ascii_serialization(),
    )
}
