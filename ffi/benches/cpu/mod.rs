//! CPU-time measurement shared by the ABI benches: the figures they print beside criterion's
//! wall-clock times, stable on a loaded machine where wall time is not.

/// CPU time this thread has run, in ns (`/proc/thread-self/schedstat`, first field).
pub fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The best of 5 rounds of `n` calls of `f`, in CPU ns per call (`None` without procfs).
#[allow(dead_code)] // not every bench that includes this module times single calls
pub fn cpu_ns_per_call(n: u32, mut f: impl FnMut()) -> Option<f64> {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = thread_cpu_ns()?;
        for _ in 0..n {
            f();
        }
        best = best.min((thread_cpu_ns()? - start) as f64 / f64::from(n));
    }
    Some(best)
}
