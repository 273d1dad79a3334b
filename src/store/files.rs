//! The data directory's files other than journal segments: the lock, the meta file, rate-card
//! files (content-addressed) and checkpoints.
//!
//! ```text
//! DIR/LOCK                               held (advisory lock) by the process that owns DIR
//! DIR/store.json                         {"format":1,"clock":"system"}: written once
//! DIR/wal-NNNNNNNNNNNNNNNNNNNN.tgj       journal segments (see `journal`)
//! DIR/checkpoint-NNNNNNNNNNNNNNNNNNNN.tgc  state before segment N (below)
//! DIR/cards/<sha256 hex>.json            every published registry file, byte for byte
//! ```
//! A checkpoint:
//! ```text
//! magic "TGCHECKP" | version u32 | segment u64
//! state_len u64 | ledger state (the `Ledger::snapshot` format)
//! cards u32     | (effective_from_ms i64 | sha256 32 bytes)*
//! overrides u32 | (model_len u16 | model | entry_len u32 | entry)*
//! sha256 of everything before (32 bytes)
//! ```

use super::StoreError;
use crate::ledger::Clock;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the checkpoint format written by this build.
pub const CHECKPOINT_VERSION: u32 = 1;
const CP_MAGIC: &[u8; 8] = b"TGCHECKP";

pub(crate) fn checkpoint_name(n: u64) -> String {
    format!("checkpoint-{n:020}.tgc")
}

pub(crate) fn parse_checkpoint_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("checkpoint-")?.strip_suffix(".tgc")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub(crate) fn io_err(op: &'static str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io {
        op,
        path: path.to_path_buf(),
        source: e,
    }
}

/// Bytes moved per `read` / `write` system call of a checkpoint's files and the journal
/// segments a rebuild reads. One call that copies tens of MB runs in the kernel for
/// milliseconds, and a kernel built without full preemption (`preempt=none`, a common
/// server and VM default) hands the CPU to a woken writer only between such calls (or at the
/// copy loop's rare `cond_resched`): the checkpoint thread's low priority would not help the
/// writer for those milliseconds. 128 KiB is ~15-40 µs of copying and still large enough
/// that the extra calls cost nothing measurable.
pub(crate) const IO_CHUNK: usize = 128 << 10;

/// Reads the whole file at `path`, at most [`IO_CHUNK`] bytes per system call, into a buffer
/// sized once from the file's length.
pub(crate) fn read_chunked(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = File::open(path)?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    while (&mut f).take(IO_CHUNK as u64).read_to_end(&mut buf)? > 0 {}
    Ok(buf)
}

/// Writes all of `bytes` to `f`, at most [`IO_CHUNK`] bytes per system call.
pub(crate) fn write_chunked(mut f: impl Write, bytes: &[u8]) -> std::io::Result<()> {
    bytes.chunks(IO_CHUNK).try_for_each(|c| f.write_all(c))
}

/// Removes the file at `path` (best effort, as `fs::remove_file`), first dropping its page
/// cache [`IO_CHUNK`] bytes per system call (Linux: `posix_fadvise(DONTNEED)`). Unlinking a
/// file of tens of MB still cached frees all its pages inside the one `unlink`, milliseconds
/// in the kernel that a woken writer would wait for (see [`IO_CHUNK`]). The file's content is
/// not changed, so a reader that opened it before still reads it whole.
pub(crate) fn remove_file_bounded(path: &Path) {
    #[cfg(target_os = "linux")]
    if let Ok(f) = File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let mut at = 0;
        while at < len {
            let n = (IO_CHUNK as u64).min(len - at);
            let _ = rustix::fs::fadvise(
                &f,
                at,
                std::num::NonZeroU64::new(n),
                rustix::fs::Advice::DontNeed,
            );
            at += n;
        }
    }
    let _ = fs::remove_file(path);
}

/// fsync of a directory, so a rename or a new file in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("fsync directory", dir, e))
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename, fsync of the
/// directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| io_err("create temporary file", dir, e))?;
    write_chunked(&mut tmp, bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| io_err("write", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| io_err("rename", path, e.error))?;
    sync_dir(dir)
}

/// The path of the registry file with content hash `sha`.
pub(crate) fn card_path(dir: &Path, sha: &[u8; 32]) -> PathBuf {
    dir.join("cards").join(format!("{}.json", hex(sha)))
}

/// Stores a registry file under its content hash (once; a file already there with the right
/// content is kept).
pub(crate) fn store_card(dir: &Path, bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    let sha: [u8; 32] = Sha256::digest(bytes).into();
    let path = card_path(dir, &sha);
    if let Ok(existing) = fs::read(&path)
        && Sha256::digest(&existing).as_slice() == sha
    {
        return Ok(sha);
    }
    let cards = dir.join("cards");
    fs::create_dir_all(&cards).map_err(|e| io_err("create directory", &cards, e))?;
    write_atomic(&path, bytes)?;
    Ok(sha)
}

/// Reads a stored registry file and checks its content hash.
pub(crate) fn load_card(dir: &Path, sha: &[u8; 32]) -> Result<Vec<u8>, StoreError> {
    let path = card_path(dir, sha);
    let bytes = fs::read(&path).map_err(|e| io_err("read rate card", &path, e))?;
    if Sha256::digest(&bytes).as_slice() != sha {
        return Err(StoreError::Corrupt {
            path,
            offset: 0,
            reason: "the rate-card file does not match its content hash".into(),
        });
    }
    Ok(bytes)
}

/// What a checkpoint holds besides the ledger state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// Published registries by `effectiveFrom` (a later publish at the same instant replaces).
    pub cards: BTreeMap<i64, [u8; 32]>,
    /// Overrides by lower-cased model name: (model as given, entry JSON).
    pub overrides: BTreeMap<String, (String, Vec<u8>)>,
}

pub(crate) struct Checkpoint {
    pub segment: u64,
    pub state: Vec<u8>,
    pub manifest: Manifest,
}

pub(crate) fn encode_checkpoint(cp: &Checkpoint) -> Vec<u8> {
    let mut v = Vec::with_capacity(cp.state.len() + 1024);
    v.extend_from_slice(CP_MAGIC);
    v.extend_from_slice(&CHECKPOINT_VERSION.to_le_bytes());
    v.extend_from_slice(&cp.segment.to_le_bytes());
    v.extend_from_slice(&(cp.state.len() as u64).to_le_bytes());
    v.extend_from_slice(&cp.state);
    v.extend_from_slice(&(cp.manifest.cards.len() as u32).to_le_bytes());
    for (eff, sha) in &cp.manifest.cards {
        v.extend_from_slice(&eff.to_le_bytes());
        v.extend_from_slice(sha);
    }
    v.extend_from_slice(&(cp.manifest.overrides.len() as u32).to_le_bytes());
    for (model, entry) in cp.manifest.overrides.values() {
        v.extend_from_slice(&(model.len() as u16).to_le_bytes());
        v.extend_from_slice(model.as_bytes());
        v.extend_from_slice(&(entry.len() as u32).to_le_bytes());
        v.extend_from_slice(entry);
    }
    let sum = Sha256::digest(&v);
    v.extend_from_slice(&sum);
    v
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let s = self
            .b
            .get(self.pos..self.pos.checked_add(n).ok_or("length overflow")?)
            .ok_or_else(|| format!("cut short at byte {}", self.pos))?;
        self.pos += n;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().unwrap_or([0; 2]),
        ))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or([0; 4]),
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or([0; 8]),
        ))
    }
}

pub(crate) fn decode_checkpoint(bytes: &[u8]) -> Result<Checkpoint, String> {
    if bytes.len() < 8 + 4 + 8 + 8 + 32 || &bytes[..8] != CP_MAGIC {
        return Err("not a checkpoint file".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != sum {
        return Err("checksum mismatch".into());
    }
    let mut c = Cursor { b: body, pos: 8 };
    let version = c.u32()?;
    if version != CHECKPOINT_VERSION {
        return Err(format!(
            "checkpoint format version {version}; this build reads {CHECKPOINT_VERSION}"
        ));
    }
    let segment = c.u64()?;
    let n = usize::try_from(c.u64()?).map_err(|_| "state too large")?;
    let state = c.take(n)?.to_vec();
    let mut manifest = Manifest::default();
    for _ in 0..c.u32()? {
        let eff = c.u64()? as i64;
        let sha: [u8; 32] = c.take(32)?.try_into().unwrap_or([0; 32]);
        manifest.cards.insert(eff, sha);
    }
    for _ in 0..c.u32()? {
        let n = usize::from(c.u16()?);
        let model = std::str::from_utf8(c.take(n)?)
            .map_err(|_| "override model name is not UTF-8")?
            .to_string();
        let n = c.u32()? as usize;
        let entry = c.take(n)?.to_vec();
        manifest
            .overrides
            .insert(model.to_ascii_lowercase(), (model, entry));
    }
    if c.pos != body.len() {
        return Err("trailing bytes after the overrides".into());
    }
    Ok(Checkpoint {
        segment,
        state,
        manifest,
    })
}

/// The meta file: the format, the clock the directory's ledger runs on and its dedupe window
/// (replay must use the ones the journal was written with).
pub(crate) struct Meta {
    pub clock: Clock,
    pub window_ms: u64,
}

pub(crate) fn meta_json(meta: &Meta) -> String {
    let clock = meta.clock;
    let clock = match clock {
        Clock::System => "\"system\"".to_string(),
        Clock::Log => "\"log\"".to_string(),
        Clock::Fixed(ms) => format!("{{\"fixed\":{ms}}}"),
    };
    format!(
        "{{\"format\":1,\"clock\":{clock},\"dedupeWindowMs\":{}}}\n",
        meta.window_ms
    )
}

pub(crate) fn parse_meta(bytes: &[u8]) -> Result<Meta, String> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("store.json: {e}"))?;
    if v.get("format").and_then(|f| f.as_u64()) != Some(1) {
        return Err("store.json: unknown format (this build reads format 1)".into());
    }
    let clock = match v.get("clock") {
        Some(serde_json::Value::String(s)) if s == "system" => Clock::System,
        Some(serde_json::Value::String(s)) if s == "log" => Clock::Log,
        Some(serde_json::Value::Object(o)) => o
            .get("fixed")
            .and_then(|f| f.as_i64())
            .map(Clock::Fixed)
            .ok_or("store.json: bad clock")?,
        _ => return Err("store.json: bad clock".into()),
    };
    let window_ms = v
        .get("dedupeWindowMs")
        .and_then(|w| w.as_u64())
        .ok_or("store.json: bad dedupeWindowMs")?;
    Ok(Meta { clock, window_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_and_detects_damage() {
        let mut manifest = Manifest::default();
        manifest.cards.insert(0, [1; 32]);
        manifest.cards.insert(1_767_225_600_000, [2; 32]);
        manifest.overrides.insert(
            "gpt-4o".into(),
            (
                "GPT-4o".into(),
                br#"{"input_cost_per_token":1e-6}"#.to_vec(),
            ),
        );
        let cp = Checkpoint {
            segment: 9,
            state: b"state bytes".to_vec(),
            manifest: manifest.clone(),
        };
        let bytes = encode_checkpoint(&cp);
        let back = decode_checkpoint(&bytes).unwrap();
        assert_eq!(
            (back.segment, back.state.as_slice()),
            (9, &b"state bytes"[..])
        );
        assert_eq!(back.manifest, manifest);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode_checkpoint(&b).is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn meta_round_trips() {
        for (clock, window_ms) in [
            (Clock::System, 0),
            (Clock::Log, 86_400_000),
            (Clock::Fixed(-5), 7),
        ] {
            let m = parse_meta(meta_json(&Meta { clock, window_ms }).as_bytes()).unwrap();
            assert_eq!((m.clock, m.window_ms), (clock, window_ms));
        }
    }

    /// A file of several chunks and a partial one, and an empty file, read back byte for byte
    /// through the bounded system calls; the buffer is sized once (no regrowth past the length).
    #[test]
    fn chunked_write_and_read_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, IO_CHUNK - 1, IO_CHUNK, 3 * IO_CHUNK + 17] {
            // A pattern that differs between chunks: byte i is i mod 251 (a prime, so no
            // chunk boundary lines up with its period).
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            write_chunked(File::create(&path).unwrap(), &bytes).unwrap();
            assert_eq!(fs::metadata(&path).unwrap().len(), len as u64);
            let back = read_chunked(&path).unwrap();
            assert_eq!(back, bytes, "length {len}");
            assert_eq!(back.capacity(), len, "sized once from the length");
        }
    }
}
