//! API keys: `DATA/keys.json` holds, per key, its id, workspace, scope and the SHA-256 of the
//! secret — never the secret itself, which is shown once, when the key is created.
//!
//! A key reads `tgk_<id>_<secret>`: `id` is 12 hex digits (public, it names the key in lists
//! and logs), `secret` 64 hex digits (256 random bits). Lookup goes by id; the hash of the
//! presented key is then compared with the stored hash in constant time, so the time an
//! answer takes tells nothing about how much of a secret was right.
//!
//! `tollgate keys create|list|revoke` edit the file (under a lock file, written atomically);
//! a running server notices the change within a second ([`KeyStore::reload_if_changed`]).
//!
//! ```
//! use tollgate_server::keys::{KeyStore, Scope};
//! let dir = tempfile::tempdir().unwrap();
//! let created = KeyStore::create(dir.path(), "acme", Scope::Ingest, Some("ci")).unwrap();
//! let keys = KeyStore::open(dir.path()).unwrap();
//! let info = keys.verify(&created.secret).unwrap();
//! assert_eq!((info.workspace.as_str(), info.scope), ("acme", Scope::Ingest));
//! assert!(keys.verify("tgk_000000000000_00").is_none());
//! // The file holds the hash, not the key.
//! let text = std::fs::read_to_string(dir.path().join("keys.json")).unwrap();
//! assert!(!text.contains(&created.secret[17..]));
//! ```

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use subtle::ConstantTimeEq;

/// The keys file's name in the data directory.
pub const KEYS_FILE: &str = "keys.json";
const KEYS_LOCK: &str = "keys.lock";
const PREFIX: &str = "tgk_";
const ID_HEX: usize = 12;
const SECRET_HEX: usize = 64;
/// How often a running server looks at the keys file's modification time.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// What a key may do. `admin` includes `read` and `ingest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Write usage, customers, resolutions; ask the guard (the `tollgateai` SDK's key).
    Ingest,
    /// Read margins, reports, the dashboard.
    Read,
    /// Everything, including policies and rate-card changes.
    Admin,
}

impl Scope {
    /// Parses `ingest | read | admin`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
    /// Whether a key of this scope may do what `needed` guards.
    ///
    /// ```
    /// use tollgate_server::keys::Scope;
    /// assert!(Scope::Admin.allows(Scope::Read));
    /// assert!(!Scope::Read.allows(Scope::Ingest));
    /// assert!(!Scope::Ingest.allows(Scope::Read));
    /// ```
    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Admin || self == needed
    }
}

/// Who a request's key is: what the auth extractor hands to a handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's public id (12 hex digits).
    pub id: String,
    /// The workspace the key is bound to: it reads and writes only this one.
    pub workspace: String,
    /// What it may do.
    pub scope: Scope,
}

/// One entry of `keys.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// Public id.
    pub id: String,
    /// Bound workspace.
    pub workspace: String,
    /// Scope.
    pub scope: Scope,
    /// SHA-256 of the whole key text, hex.
    pub sha256: String,
    /// A label for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it was created (RFC 3339, UTC).
    pub created: String,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeysFile {
    version: u32,
    keys: Vec<KeyEntry>,
}

/// A newly created key: the only time its secret exists outside the caller's hands.
#[derive(Clone, Debug)]
pub struct CreatedKey {
    /// The entry written to the keys file.
    pub entry: KeyEntry,
    /// The whole key, `tgk_<id>_<secret>`: give it to the client; it is not stored.
    pub secret: String,
}

/// Why a keys operation failed.
#[derive(Debug)]
pub enum KeyError {
    /// Reading or writing the file failed.
    Io(PathBuf, std::io::Error),
    /// The file is not a keys file.
    Corrupt(PathBuf, String),
    /// A bad argument (workspace name, unknown key id).
    Invalid(String),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            KeyError::Corrupt(p, e) => write!(f, "{} is not a valid keys file: {e}", p.display()),
            KeyError::Invalid(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for KeyError {}

/// Checks a workspace id: 1 to 64 of `a-z 0-9 _ -`, starting with a letter or digit (it is a
/// directory name).
///
/// ```
/// use tollgate_server::keys::valid_workspace;
/// assert!(valid_workspace("acme-prod"));
/// assert!(!valid_workspace("../etc"));
/// assert!(!valid_workspace(""));
/// ```
pub fn valid_workspace(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && id.as_bytes()[0].is_ascii_alphanumeric()
}

fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn random_hex(bytes: usize) -> Result<String, KeyError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| KeyError::Invalid(format!("no random numbers from the system: {e}")))?;
    Ok(hex(&buf))
}

fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    tollgate_sync::format_ms(d.as_millis() as i64)
}

fn read_file(path: &Path) -> Result<KeysFile, KeyError> {
    match fs::read(path) {
        Ok(b) => {
            serde_json::from_slice(&b).map_err(|e| KeyError::Corrupt(path.into(), e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeysFile {
            version: 1,
            keys: vec![],
        }),
        Err(e) => Err(KeyError::Io(path.into(), e)),
    }
}

/// Read-modify-write of the keys file under `keys.lock`, written to a temporary file, fsync'ed
/// and renamed over the old one.
fn edit<T>(
    dir: &Path,
    f: impl FnOnce(&mut KeysFile) -> Result<T, KeyError>,
) -> Result<T, KeyError> {
    fs::create_dir_all(dir).map_err(|e| KeyError::Io(dir.into(), e))?;
    let lock_path = dir.join(KEYS_LOCK);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| KeyError::Io(lock_path.clone(), e))?;
    lock.lock()
        .map_err(|e| KeyError::Io(lock_path.clone(), e))?;
    let path = dir.join(KEYS_FILE);
    let mut file = read_file(&path)?;
    let out = f(&mut file)?;
    file.version = 1;
    let mut bytes = serde_json::to_vec_pretty(&file).expect("keys serialize");
    bytes.push(b'\n');
    let tmp = dir.join(format!("{KEYS_FILE}.tmp"));
    let io = |e| KeyError::Io(tmp.clone(), e);
    let mut t = File::create(&tmp).map_err(io)?;
    t.write_all(&bytes).map_err(io)?;
    t.sync_all().map_err(io)?;
    drop(t);
    fs::rename(&tmp, &path).map_err(|e| KeyError::Io(path.clone(), e))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(out)
}

struct Loaded {
    by_id: HashMap<String, KeyEntry>,
    modified: Option<SystemTime>,
}

/// The keys of a data directory, as a running server sees them.
pub struct KeyStore {
    dir: PathBuf,
    loaded: RwLock<Loaded>,
    opened: Instant,
    /// Milliseconds after `opened` of the last look at the file (one atomic on the request
    /// path, no lock).
    last_check_ms: AtomicU64,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore").field("dir", &self.dir).finish()
    }
}

impl KeyStore {
    /// Creates a key for `workspace` with `scope` and writes its hash to `DIR/keys.json`.
    pub fn create(
        dir: &Path,
        workspace: &str,
        scope: Scope,
        name: Option<&str>,
    ) -> Result<CreatedKey, KeyError> {
        if !valid_workspace(workspace) {
            return Err(KeyError::Invalid(format!(
                "workspace {workspace:?}: 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit"
            )));
        }
        edit(dir, |file| {
            let mut id = random_hex(ID_HEX / 2)?;
            while file.keys.iter().any(|k| k.id == id) {
                id = random_hex(ID_HEX / 2)?;
            }
            let secret = format!("{PREFIX}{id}_{}", random_hex(SECRET_HEX / 2)?);
            let entry = KeyEntry {
                id,
                workspace: workspace.to_string(),
                scope,
                sha256: sha256_hex(&secret),
                name: name.map(str::to_string),
                created: now_rfc3339(),
                revoked: None,
            };
            file.keys.push(entry.clone());
            Ok(CreatedKey { entry, secret })
        })
    }

    /// Every key of the file (revoked ones too), in creation order.
    pub fn list(dir: &Path) -> Result<Vec<KeyEntry>, KeyError> {
        Ok(read_file(&dir.join(KEYS_FILE))?.keys)
    }

    /// Revokes a key by id; `Ok(false)` if it was revoked already.
    pub fn revoke(dir: &Path, id: &str) -> Result<bool, KeyError> {
        edit(dir, |file| {
            let k = file
                .keys
                .iter_mut()
                .find(|k| k.id == id)
                .ok_or_else(|| KeyError::Invalid(format!("no key with id {id:?}")))?;
            if k.revoked.is_some() {
                return Ok(false);
            }
            k.revoked = Some(now_rfc3339());
            Ok(true)
        })
    }

    /// Loads the keys of a data directory (an absent file is no keys).
    pub fn open(dir: &Path) -> Result<KeyStore, KeyError> {
        let loaded = load(dir)?;
        Ok(KeyStore {
            dir: dir.to_path_buf(),
            loaded: RwLock::new(loaded),
            opened: Instant::now(),
            last_check_ms: AtomicU64::new(0),
        })
    }

    /// Re-reads the file if its modification time changed; looks at most once per
    /// [`RELOAD_INTERVAL`]. A file that does not parse keeps the keys loaded before.
    pub fn reload_if_changed(&self) {
        let now = self.opened.elapsed().as_millis() as u64;
        let last = self.last_check_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < RELOAD_INTERVAL.as_millis() as u64 {
            return;
        }
        // One request per interval does the look; the others go on with the keys loaded.
        if self
            .last_check_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.reload();
        }
    }

    /// Re-reads the file now if its modification time changed.
    pub fn reload(&self) {
        let modified = fs::metadata(self.dir.join(KEYS_FILE))
            .and_then(|m| m.modified())
            .ok();
        if modified
            == self
                .loaded
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .modified
        {
            return;
        }
        if let Ok(l) = load(&self.dir) {
            *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = l;
        }
    }

    /// The key's identity if `key` is a live (not revoked) key of this store. Compares the
    /// hash in constant time; an unknown id costs the same hash and comparison.
    pub fn verify(&self, key: &str) -> Option<KeyInfo> {
        let presented = Sha256::digest(key.as_bytes());
        let id = parse_id(key);
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        let entry = id.and_then(|id| loaded.by_id.get(id));
        let stored = entry.and_then(|e| unhex32(&e.sha256)).unwrap_or([0xA5; 32]);
        let equal: bool = presented.as_slice().ct_eq(&stored).into();
        let entry = entry?;
        if !equal || entry.revoked.is_some() {
            return None;
        }
        Some(KeyInfo {
            id: entry.id.clone(),
            workspace: entry.workspace.clone(),
            scope: entry.scope,
        })
    }

    /// The identity of the live (not revoked) key with public id `id`, `None` when there is
    /// none. For holders of a key id rather than its secret: the dashboard re-checks the key
    /// behind a session on every request, so revoking a key ends its sessions.
    pub fn live(&self, id: &str) -> Option<KeyInfo> {
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        let entry = loaded.by_id.get(id).filter(|e| e.revoked.is_none())?;
        Some(KeyInfo {
            id: entry.id.clone(),
            workspace: entry.workspace.clone(),
            scope: entry.scope,
        })
    }

    /// The workspaces that have at least one live key.
    pub fn workspaces(&self) -> Vec<String> {
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        let mut w: Vec<String> = loaded
            .by_id
            .values()
            .filter(|k| k.revoked.is_none())
            .map(|k| k.workspace.clone())
            .collect();
        w.sort();
        w.dedup();
        w
    }
}

fn load(dir: &Path) -> Result<Loaded, KeyError> {
    let path = dir.join(KEYS_FILE);
    let modified = fs::metadata(&path).and_then(|m| m.modified()).ok();
    let file = read_file(&path)?;
    Ok(Loaded {
        by_id: file.keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
        modified,
    })
}

fn parse_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == ID_HEX && secret.len() == SECRET_HEX).then_some(id)
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}
