//! When and how long to wait before another attempt: jittered exponential backoff, `Retry-After`.

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::HeaderMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

use super::error::HttpError;

/// Bounded retries with jittered exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first (0 = never retry).
    pub max_retries: usize,
    /// First backoff; each retry doubles it, plus a random jitter of up to the same amount.
    pub min_delay: Duration,
    /// Backoff ceiling (before jitter).
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a provider asking for more ends the retries at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Two retries starting at 0.5 s, capped at 8 s, honouring `Retry-After` up to 20 s.
    fn default() -> Self {
        Self {
            max_retries: 2,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self { max_retries: 0, ..Self::default() }
    }

    /// The wait before the next attempt: the provider's `Retry-After` when it gave one (ending the
    /// retries when it is longer than [`RetryPolicy::max_retry_after`]), else the backoff's.
    fn next_wait(&self, err: &HttpError, backoff: Option<Duration>) -> Option<Duration> {
        let backoff = backoff?;
        match err.retry_after() {
            Some(asked) if asked > self.max_retry_after => None,
            Some(asked) => Some(asked),
            None => Some(backoff),
        }
    }

    /// Runs `attempt` until it succeeds, fails with a non-retryable error, or the retries run out.
    /// `on_retry` sees each retryable error and the wait before the next attempt.
    pub async fn run<T, Fut, F, N>(&self, attempt: F, on_retry: N) -> Result<T, HttpError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
        N: FnMut(&HttpError, Duration),
    {
        let backoff = ExponentialBuilder::default()
            .with_jitter()
            .with_factor(2.0)
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries);
        let policy = *self;
        attempt
            .retry(backoff)
            .when(HttpError::is_retryable)
            .adjust(move |err, wait| policy.next_wait(err, wait))
            .notify(on_retry)
            .await
    }
}

/// The wait a response asks for: `retry-after-ms` (OpenAI), else `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return duration_from_secs(ms / 1000.0);
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return duration_from_secs(secs);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

fn duration_from_secs(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs >= 0.0).then(|| Duration::try_from_secs_f64(secs).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after(&headers(&[("retry-after", "2")])), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&headers(&[("retry-after", "0.5")])), Some(Duration::from_millis(500)));
        let both = headers(&[("retry-after", "2"), ("retry-after-ms", "150")]);
        assert_eq!(retry_after(&both), Some(Duration::from_millis(150)));
        let past = headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert_eq!(retry_after(&past), Some(Duration::ZERO));
        let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let wait = retry_after(&headers(&[("retry-after", &future)])).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-1")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    fn fast(max_retries: usize) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            max_retry_after: Duration::from_millis(50),
        }
    }

    #[tokio::test]
    async fn retries_are_bounded_and_only_for_retryable_errors() {
        let calls = AtomicUsize::new(0);
        let server_error = || HttpError::Status { status: 500, message: "boom".into(), retry_after: None };
        let result: Result<(), _> = fast(3)
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(server_error())
                },
                |_, _| {},
            )
            .await;
        assert_eq!(result, Err(server_error()));
        assert_eq!(calls.swap(0, Ordering::SeqCst), 4);

        let unauthorized = HttpError::Unauthorized { status: 401, message: "no".into() };
        let result: Result<(), _> = fast(3)
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(unauthorized.clone())
                },
                |_, _| {},
            )
            .await;
        assert_eq!(result, Err(unauthorized));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn retry_after_is_honoured_or_ends_the_retries() {
        let mut waits = Vec::new();
        let calls = AtomicUsize::new(0);
        let result = fast(2)
            .run(
                || async {
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0 => Err(HttpError::RateLimited {
                            message: "slow down".into(),
                            retry_after: Some(Duration::from_millis(20)),
                        }),
                        _ => Ok(7),
                    }
                },
                |_, wait| waits.push(wait),
            )
            .await;
        assert_eq!(result, Ok(7));
        assert_eq!(waits, vec![Duration::from_millis(20)]);

        let too_long = HttpError::RateLimited { message: "later".into(), retry_after: Some(Duration::from_secs(60)) };
        calls.store(0, Ordering::SeqCst);
        let result: Result<(), _> = fast(2)
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(too_long.clone())
                },
                |_, _| {},
            )
            .await;
        assert_eq!(result, Err(too_long));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
