//! Per-key rate limiting (a token bucket in its GCRA form: one instant per key) and the
//! request-body reader with its size limit. Header-size and read/idle timeouts are connection
//! settings applied by [`crate::Server`] (hyper's `max_buf_size` and `header_read_timeout`, and a
//! write timeout on the socket for clients that stop reading); the
//! overall request timeout is a tower-http layer in [`crate::router`].

use crate::error::ApiError;
use axum::body::Body;
use axum::http::StatusCode;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A per-key token bucket: `rate_per_sec` on average, `burst` at once.
///
/// ```
/// use tollgate_server::limits::RateLimiter;
/// let rl = RateLimiter::new(1, 2);
/// assert!(rl.check("k").is_ok());
/// assert!(rl.check("k").is_ok());
/// let wait = rl.check("k").unwrap_err();          // the third within a second
/// assert!(wait.as_millis() > 0 && wait.as_secs() <= 1);
/// assert!(rl.check("other").is_ok());             // buckets are per key
/// ```
#[derive(Debug)]
pub struct RateLimiter {
    interval: Option<Duration>,
    tolerance: Duration,
    /// Theoretical arrival time per key id; bounded by the number of keys.
    tat: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    /// `rate_per_sec` 0 = unlimited.
    pub fn new(rate_per_sec: u32, burst: u32) -> RateLimiter {
        let interval = (rate_per_sec > 0).then(|| Duration::from_secs(1) / rate_per_sec);
        RateLimiter {
            interval,
            tolerance: interval.unwrap_or_default() * burst.saturating_sub(1),
            tat: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `key_id`; `Err(wait)` if over the limit (nothing counted).
    pub fn check(&self, key_id: &str) -> Result<(), Duration> {
        let Some(t) = self.interval else {
            return Ok(());
        };
        let now = Instant::now();
        let mut map = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let tat = map.get(key_id).copied().unwrap_or(now).max(now);
        let ahead = tat - now;
        if ahead > self.tolerance {
            return Err(ahead - self.tolerance);
        }
        match map.get_mut(key_id) {
            Some(v) => *v = tat + t,
            None => {
                map.insert(key_id.to_string(), tat + t);
            }
        }
        Ok(())
    }
}

/// Reads a request body of at most `limit` bytes: 413 `body_too_large` beyond (checked against
/// `Content-Length` first, then while reading).
pub async fn read_body(
    body: Body,
    content_length: Option<u64>,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    };
    if content_length.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = src {
            if s.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            src = s.source();
        }
        ApiError::bad_request("bad_body", "the request body could not be read")
    })
}
