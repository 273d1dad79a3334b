//! Dashboard sessions: random ids held in memory (by their SHA-256), an idle and an absolute
//! expiry, a per-session CSRF token, and the cookies that carry them.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "tollgate_session";
/// Name of the short-lived cookie that carries the login form's CSRF token (double submit).
pub const LOGIN_COOKIE: &str = "tollgate_login";
/// A session ends this long after its last request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// A session ends this long after login, however busy.
pub const MAX_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// The login form must be sent within this long of being served.
pub const LOGIN_FORM_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Most sessions held at once; past it the least recently used one is ended.
pub const MAX_SESSIONS: usize = 10_000;

/// 32 random bytes from the operating system's CSPRNG, as 64 hex digits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS generator failing is not something a login can recover from.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in time that depends only on their lengths.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What a logged-in session may see: one key's workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The id of the API key that logged in (never its secret).
    pub key_id: String,
    /// The key's workspace: the only one this session reads.
    pub workspace: String,
    /// The token every form of this session posts back.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// The live sessions, keyed by the SHA-256 of their id (the id itself is only in the cookie).
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session for `key_id` in `workspace`; returns the session id for the cookie.
    pub fn create(&self, key_id: &str, workspace: &str) -> String {
        let id = random_token();
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| live(s, now));
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            digest(&id),
            Session {
                key_id: key_id.to_string(),
                workspace: workspace.to_string(),
                csrf: random_token(),
                created: now,
                last_seen: now,
            },
        );
        id
    }

    /// The live session with this id (and marks it used), or `None`.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut map = self.lock();
        let key = digest(id);
        let s = map.get_mut(&key)?;
        if !live(s, now) {
            map.remove(&key);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Ends the session with this id.
    pub fn remove(&self, id: &str) {
        self.lock().remove(&digest(id));
    }

    /// Ends every session of a key (it was revoked or lost its scope).
    pub fn remove_key(&self, key_id: &str) {
        self.lock().retain(|_, s| s.key_id != key_id);
    }

    /// Number of live sessions.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock().values().filter(|s| live(s, now)).count()
    }
}

fn live(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last_seen) < IDLE_TIMEOUT && now.duration_since(s.created) < MAX_LIFETIME
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/`, `Secure` over TLS, and
/// `Max-Age` (0 clears the cookie).
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        max_age.as_secs()
    )
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn sessions_live_end_and_belong_to_keys() {
        let s = Sessions::default();
        let a = s.create("k1", "ws-a");
        let b = s.create("k2", "ws-b");
        assert_eq!(s.get(&a).unwrap().workspace, "ws-a");
        assert_eq!(s.get(&b).unwrap().key_id, "k2");
        assert!(s.get("not-a-session").is_none());
        s.remove_key("k1");
        assert!(s.get(&a).is_none());
        s.remove(&b);
        assert!(s.get(&b).is_none());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn cookies() {
        assert_eq!(
            set_cookie("n", "v", Duration::from_secs(60), true),
            "n=v; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure"
        );
        assert_eq!(
            cookie("a=1; tollgate_session=xyz; b=2", SESSION_COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie("tollgate_sessionx=1", SESSION_COOKIE), None);
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
    }
}
