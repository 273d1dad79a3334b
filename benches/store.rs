//! Durable store benchmarks: ingest in `sync` mode with 8 writers (group commit, batches of
//! 256 records), in `interval` mode on one thread, recovery replay, and the ingest stall of a
//! checkpoint of 1,000,000 keys. The disk's own fsync latency is measured first and printed.
//!
//! `cargo bench --bench store -- --warm-up-time 1 --measurement-time 3`
//! (set `TOLLGATE_BENCH_DIR` to put the data directories on a given disk; default: `target/`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tollgate_engine::store::{Durability, Store, StoreOptions};

/// 2026-11-02T00:00:00Z.
const T0: i64 = 1_793_577_600_000;
static NEXT: AtomicU64 = AtomicU64::new(0);

fn line(i: u64) -> String {
    format!(
        r#"{{"customerId":"cust-{}","runId":"run-{}","provider":"openai","model":"gpt-4o","tokensIn":{},"tokensOut":{},"idempotencyKey":"req-{i:010}","ts":{}}}"#,
        i % 100,
        i % 5000,
        1000 + i % 3000,
        100 + i % 900,
        T0 + (i % 1_000_000) as i64 * 10
    )
}

fn base() -> PathBuf {
    std::env::var_os("TOLLGATE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn tempdir() -> tempfile::TempDir {
    std::fs::create_dir_all(base()).unwrap();
    tempfile::tempdir_in(base()).unwrap()
}

fn opts(durability: Durability) -> StoreOptions {
    StoreOptions {
        durability,
        // Keys forever: every record is new, none expires.
        dedupe_window_ms: 0,
        checkpoint_bytes: 0,
        ..StoreOptions::default()
    }
}

fn fsync_latency() {
    let dir = tempdir();
    let mut f = std::fs::File::create(dir.path().join("probe")).unwrap();
    let mut t = Vec::new();
    for _ in 0..100 {
        f.write_all(&[7u8; 4096]).unwrap();
        let s = Instant::now();
        f.sync_data().unwrap();
        t.push(s.elapsed());
    }
    t.sort();
    println!(
        "disk fsync (4 KiB append + fdatasync) on {}: median {:?}, p90 {:?}, max {:?}",
        base().display(),
        t[50],
        t[90],
        t[99]
    );
}

fn ingest(c: &mut Criterion) {
    fsync_latency();
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    const WRITERS: u64 = 8;
    const BATCH: u64 = 256;
    {
        let dir = tempdir();
        let store = Store::open(dir.path(), opts(Durability::Sync)).unwrap();
        g.throughput(Throughput::Elements(WRITERS * BATCH));
        g.bench_function("sync_8_writers_batch_256", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..WRITERS {
                        let store = &store;
                        s.spawn(move || {
                            for _ in 0..iters {
                                let first = NEXT.fetch_add(BATCH, Ordering::Relaxed);
                                let lines: Vec<String> = (first..first + BATCH).map(line).collect();
                                store
                                    .ingest_batch(lines.iter().map(|l| l.as_bytes()))
                                    .unwrap();
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
        g.throughput(Throughput::Elements(WRITERS));
        g.bench_function("sync_8_writers_one_record", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..WRITERS {
                        let store = &store;
                        s.spawn(move || {
                            for _ in 0..iters {
                                let i = NEXT.fetch_add(1, Ordering::Relaxed);
                                store.ingest_json(line(i).as_bytes()).unwrap();
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    {
        let dir = tempdir();
        let store =
            Store::open(dir.path(), opts(Durability::Interval { interval_ms: 10 })).unwrap();
        let lines: Vec<String> = (0..100_000)
            .map(|i| line(NEXT.load(Ordering::Relaxed) + i))
            .collect();
        NEXT.fetch_add(100_000, Ordering::Relaxed);
        let mut k = 0;
        g.throughput(Throughput::Elements(1));
        g.bench_function("interval_1_thread", |b| {
            b.iter(|| {
                // Past the prepared lines the keys repeat: duplicates, journaled all the same.
                store
                    .ingest_json(lines[k % lines.len()].as_bytes())
                    .unwrap();
                k += 1;
            })
        });
    }
    g.finish();
}

fn replay(c: &mut Criterion) {
    const N: u64 = 200_000;
    let dir = tempdir();
    {
        let store = Store::open(dir.path(), opts(Durability::None)).unwrap();
        let lines: Vec<String> = (0..N).map(line).collect();
        for chunk in lines.chunks(1024) {
            store
                .ingest_batch(chunk.iter().map(|l| l.as_bytes()))
                .unwrap();
        }
    }
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    g.bench_function("recovery_replay_200k", |b| {
        b.iter(|| {
            let s = Store::open(dir.path(), opts(Durability::None)).unwrap();
            assert_eq!(s.recovery().records, N);
        })
    });
    g.finish();
}

/// The calling thread's time spent waiting on a run queue (preempted, or woken and not yet
/// scheduled), in ns: the second field of `/proc/thread-self/schedstat`.
struct SchedStat(std::fs::File);

impl SchedStat {
    fn open() -> Option<SchedStat> {
        std::fs::File::open("/proc/thread-self/schedstat")
            .ok()
            .map(SchedStat)
    }

    fn read(&self) -> u64 {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 96];
        let n = self.0.read_at(&mut buf, 0).unwrap_or(0);
        let text = std::str::from_utf8(&buf[..n]).unwrap_or("");
        let mut it = text
            .split_ascii_whitespace()
            .map(|v| v.parse().unwrap_or(0));
        it.nth(1).unwrap_or(0)
    }
}

/// One ingest call: when it started (ns since the run began), how long it took, and with
/// `TOLLGATE_BENCH_SCHEDSTAT=1` how long the thread waited on a run queue during it.
#[derive(Clone, Copy)]
struct Call {
    at_ns: u64,
    took_ns: u64,
    wait_ns: u64,
}

fn us(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1e3)
}

/// Not a criterion benchmark: the latency of single ingest calls (percentiles and the longest)
/// while a checkpoint of 1,000,000 keys runs, against the same without one. The longest calls
/// are listed with the checkpoint step they fell in (`CheckpointInfo::timings`); with
/// `TOLLGATE_BENCH_SCHEDSTAT=1` each call also reads the thread's run-queue wait, so a long
/// call tells the scheduler (waiting for a CPU) from the store (running, or blocked on a lock,
/// I/O or the memory map); the reads add ~2 µs per call.
fn checkpoint_stall(_: &mut Criterion) {
    const KEYS: u64 = 1_000_000;
    // Criterion filters only its own benchmarks: honour a name filter here too (a filter is an
    // argument that is neither a flag nor a flag's number), so `-- sync_8` skips this.
    let filtered_out = std::env::args().skip(1).any(|a| {
        !a.starts_with('-')
            && a.parse::<f64>().is_err()
            && !"store/checkpoint_stall".contains(a.as_str())
    });
    if filtered_out {
        return;
    }
    let schedstat = std::env::var_os("TOLLGATE_BENCH_SCHEDSTAT").is_some_and(|v| v == "1");
    let dir = tempdir();
    let store = Store::open(dir.path(), opts(Durability::Interval { interval_ms: 10 })).unwrap();
    let lines: Vec<String> = (0..KEYS).map(|i| line(10_000_000 + i)).collect();
    for chunk in lines.chunks(4096) {
        store
            .ingest_batch(chunk.iter().map(|l| l.as_bytes()))
            .unwrap();
    }
    drop(lines);
    let extra: Vec<String> = (0..2_000_000u64).map(|i| line(20_000_000 + i)).collect();
    let measure = |during: bool| {
        let mut calls: Vec<Call> = Vec::with_capacity(4_000_000);
        let mut n = 0;
        let done = std::sync::atomic::AtomicBool::new(false);
        let mut cp = None;
        let start = Instant::now();
        let stat = if schedstat { SchedStat::open() } else { None };
        std::thread::scope(|s| {
            let h = during.then(|| {
                s.spawn(|| {
                    let t = start.elapsed();
                    let r = store.checkpoint().unwrap();
                    done.store(true, Ordering::Release);
                    (r, t)
                })
            });
            while if during {
                !done.load(Ordering::Acquire)
            } else {
                start.elapsed() < Duration::from_secs(2)
            } {
                let off = if during { 0 } else { 1_000_000 };
                let before = stat.as_ref().map(SchedStat::read);
                let t = Instant::now();
                store
                    .ingest_json(extra[(off + n) % extra.len()].as_bytes())
                    .unwrap();
                let took = t.elapsed();
                let wait_ns = match (before, stat.as_ref().map(SchedStat::read)) {
                    (Some(w0), Some(w1)) => w1 - w0,
                    _ => 0,
                };
                calls.push(Call {
                    at_ns: (t - start).as_nanos() as u64,
                    took_ns: took.as_nanos() as u64,
                    wait_ns,
                });
                n += 1;
            }
            cp = h.map(|h| h.join().unwrap());
        });
        (calls, n, cp)
    };
    let spread = |calls: &mut Vec<Call>| {
        calls.sort_unstable_by_key(|c| std::cmp::Reverse(c.took_ns));
        let at = |q: f64| calls[((calls.len() - 1) as f64 * (1.0 - q)) as usize].took_ns;
        let over = calls.iter().filter(|c| c.took_ns >= 1_000_000).count();
        format!(
            "p50 {}, p99 {}, p99.9 {}, p99.99 {}, max {}; {over} calls ≥ 1 ms",
            us(at(0.5)),
            us(at(0.99)),
            us(at(0.999)),
            us(at(0.9999)),
            us(at(1.0))
        )
    };
    let describe = |c: &Call| {
        let mut d = us(c.took_ns);
        if schedstat {
            // The kernel updates the on-CPU counter of a running thread only at ticks and
            // switches, so only the run-queue wait is exact; the rest was on a CPU or blocked.
            d += &format!(
                " (waiting for a CPU {}, running or blocked {})",
                us(c.wait_ns),
                us(c.took_ns.saturating_sub(c.wait_ns))
            );
        }
        d
    };
    let (mut quiet, n0, _) = measure(false);
    let (mut busy, n1, cp) = measure(true);
    let (info, began) = cp.unwrap();
    let t = info.timings;
    let steps = [
        ("prepare", t.prepare),
        ("switch", t.switch),
        ("rebuild", t.rebuild),
        ("encode", t.encode),
        ("write", t.write),
        ("cleanup", t.cleanup),
    ];
    let step_of = |at_ns: u64| {
        let mut end = began.as_nanos() as u64;
        if at_ns < end {
            return "before";
        }
        for (name, d) in steps {
            end += d.as_nanos() as u64;
            if at_ns < end {
                return name;
            }
        }
        "after"
    };
    let took: Duration = steps.iter().map(|(_, d)| *d).sum();
    println!(
        "checkpoint of {KEYS} keys: {} bytes in {took:?} ({})",
        info.bytes,
        steps
            .iter()
            .map(|(n, d)| format!("{n} {d:.2?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("ingest calls during it ({n1} calls): {}", spread(&mut busy));
    for c in busy.iter().take(5) {
        println!(
            "  {} at +{:.1} ms, in step {}",
            describe(c),
            (c.at_ns as f64 - began.as_nanos() as f64) / 1e6,
            step_of(c.at_ns)
        );
    }
    let mut by_step: Vec<(&str, usize)> = Vec::new();
    for c in busy.iter().take_while(|c| c.took_ns >= 1_000_000) {
        let s = step_of(c.at_ns);
        match by_step.iter_mut().find(|(n, _)| *n == s) {
            Some((_, k)) => *k += 1,
            None => by_step.push((s, 1)),
        }
    }
    if !by_step.is_empty() {
        println!("  calls ≥ 1 ms by step: {by_step:?}");
    }
    let scheduler = |calls: &[Call]| {
        let long: Vec<&Call> = calls
            .iter()
            .take_while(|c| c.took_ns >= 1_000_000)
            .collect();
        let queued = long
            .iter()
            .filter(|c| c.wait_ns * 10 >= c.took_ns * 9)
            .count();
        let worst = long
            .iter()
            .map(|c| c.took_ns.saturating_sub(c.wait_ns))
            .max()
            .unwrap_or(0);
        format!(
            "  calls ≥ 1 ms that waited for a CPU ≥ 90 % of their time: {queued} of {}; \
             the longest time not waiting for a CPU in one of them: {}",
            long.len(),
            us(worst)
        )
    };
    if schedstat {
        println!("{}", scheduler(&busy));
    }
    println!(
        "without a checkpoint ({n0} calls in 2 s): {}",
        spread(&mut quiet)
    );
    for c in quiet.iter().take(3) {
        println!("  {} at +{:.1} ms", describe(c), c.at_ns as f64 / 1e6);
    }
    if schedstat {
        println!("{}", scheduler(&quiet));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = ingest, replay, checkpoint_stall
}
criterion_main!(benches);
