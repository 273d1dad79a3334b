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

/// How long sessions live and how many there may be.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Ended this long after the last request.
    pub idle: Duration,
    /// Ended this long after login.
    pub lifetime: Duration,
    /// Most sessions at once (the least recently used is ended first).
    pub max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            idle: IDLE_TIMEOUT,
            lifetime: MAX_LIFETIME,
            max: MAX_SESSIONS,
        }
    }
}

/// The live sessions, keyed by the SHA-256 of their id (the id itself is only in the cookie).
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
    limits: Limits,
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// Sessions with other limits than the defaults.
    #[cfg(test)]
    pub fn with_limits(limits: Limits) -> Sessions {
        Sessions {
            map: Mutex::default(),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session for `key_id` in `workspace`; returns the session id for the cookie.
    pub fn create(&self, key_id: &str, workspace: &str) -> String {
        self.create_at(key_id, workspace, Instant::now())
    }

    fn create_at(&self, key_id: &str, workspace: &str, now: Instant) -> String {
        let id = random_token();
        let mut map = self.lock();
        let limits = self.limits;
        map.retain(|_, s| live(s, now, &limits));
        while map.len() >= limits.max.max(1)
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
        self.get_at(id, Instant::now())
    }

    fn get_at(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.lock();
        let key = digest(id);
        let s = map.get_mut(&key)?;
        if !live(s, now, &self.limits) {
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

    /// Number of live sessions at `now`.
    #[cfg(test)]
    fn len_at(&self, now: Instant) -> usize {
        self.lock()
            .values()
            .filter(|s| live(s, now, &self.limits))
            .count()
    }
}

fn live(s: &Session, now: Instant, limits: &Limits) -> bool {
    now.duration_since(s.last_seen) < limits.idle && now.duration_since(s.created) < limits.lifetime
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
        assert_eq!(s.len_at(Instant::now()), 0);
    }

    // Time is handed in (no sleeping): a session's fate depends only on the instants given.
    #[test]
    fn idle_and_old_sessions_end() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let idle = Sessions::with_limits(Limits {
            idle: ms(200),
            ..Limits::default()
        });
        let a = idle.create_at("k", "w", t0);
        assert!(
            idle.get_at(&a, t0 + ms(150)).is_some(),
            "used within the idle time"
        );
        assert!(
            idle.get_at(&a, t0 + ms(300)).is_some(),
            "the last use restarted it"
        );
        assert!(
            idle.get_at(&a, t0 + ms(500)).is_none(),
            "idle 200 ms: ended"
        );
        assert!(idle.get_at(&a, t0 + ms(300)).is_none(), "and gone for good");

        let old = Sessions::with_limits(Limits {
            lifetime: ms(200),
            ..Limits::default()
        });
        let b = old.create_at("k", "w", t0);
        for t in [50, 100, 150, 199] {
            assert!(old.get_at(&b, t0 + ms(t)).is_some());
        }
        assert!(
            old.get_at(&b, t0 + ms(200)).is_none(),
            "past its lifetime, however busy"
        );
    }

    #[test]
    fn the_number_of_sessions_is_bounded() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let s = Sessions::with_limits(Limits {
            max: 3,
            ..Limits::default()
        });
        let ids: Vec<String> = (0..3u64)
            .map(|i| s.create_at(&format!("k{i}"), "w", t0 + ms(i)))
            .collect();
        // k0 used last: k1 is now the least recently used.
        assert!(s.get_at(&ids[0], t0 + ms(10)).is_some());
        let fourth = s.create_at("k3", "w", t0 + ms(11));
        assert_eq!(s.len_at(t0 + ms(12)), 3);
        assert!(
            s.get_at(&ids[1], t0 + ms(12)).is_none(),
            "the least recently used one ended"
        );
        for id in [&ids[0], &ids[2], &fourth] {
            assert!(s.get_at(id, t0 + ms(13)).is_some());
        }
        for i in 0..100u64 {
            s.create_at(&format!("more{i}"), "w", t0 + ms(20 + i));
        }
        assert_eq!(s.len_at(t0 + ms(200)), 3);
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
