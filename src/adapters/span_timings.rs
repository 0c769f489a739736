//! Where the plugin's time goes: a `tracing` layer that adds up, per span name and per path of span
//! names from the root (`dify.session/dify.tool/app.read/app.retrieve/pg.query`), how many spans
//! closed, how long they were open (wall time, creation to close: count, total, p50/p95/p99, max)
//! and how long they were entered (busy time: polled, for a future). Written as JSON to the file
//! named by [`SPAN_TIMINGS_VARIABLE`] when the process ends, and when it receives SIGUSR1 (the
//! timings so far, after which it starts again from zero: a benchmark leaves its warm-up out).
//!
//! Installed only when the variable is set; without it the plugin's spans (debug and trace level)
//! are disabled at their call sites and cost a cached check each. Span fields are never recorded.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The variable naming the JSON file the span timings are written to (unset: not collected).
pub const SPAN_TIMINGS_VARIABLE: &str = "MEM0_DIFY_SPAN_TIMINGS";

/// Sub-buckets per power of two of the duration histogram (about 6 % resolution).
const SUB_BUCKETS: u64 = 16;
/// Buckets of the histogram: durations in nanoseconds up to 2^64.
const BUCKETS: usize = (64 * SUB_BUCKETS) as usize;

/// The collected timings, shared by the layer and the handle that writes them.
#[derive(Clone, Default)]
pub struct SpanTimings {
    tally: Arc<Mutex<Tally>>,
}

/// The layer that feeds a [`SpanTimings`] (see the module).
pub struct TimingLayer {
    tally: Arc<Mutex<Tally>>,
}

#[derive(Default)]
struct Tally {
    by_name: HashMap<&'static str, Stats>,
    by_path: HashMap<String, Stats>,
    /// Times the timings were written and started again (SIGUSR1).
    generation: u64,
    since: Option<Instant>,
}

/// One open span's bookkeeping (a span extension).
struct Timing {
    path: String,
    opened: Instant,
    busy: Duration,
    entered: u32,
    entered_at: Option<Instant>,
}

/// The durations of the closed spans of one name or path.
#[derive(Clone)]
struct Stats {
    count: u64,
    wall_ns: u128,
    busy_ns: u128,
    max_ns: u64,
    buckets: Vec<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Self { count: 0, wall_ns: 0, busy_ns: 0, max_ns: 0, buckets: vec![0; BUCKETS] }
    }
}

impl Stats {
    fn add(&mut self, wall: Duration, busy: Duration) {
        let ns = u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX);
        self.count += 1;
        self.wall_ns += wall.as_nanos();
        self.busy_ns += busy.as_nanos();
        self.max_ns = self.max_ns.max(ns);
        self.buckets[bucket_of(ns)] += 1;
    }

    /// The duration (ns) below which a share `q` of the spans closed: the middle of its bucket,
    /// never above the longest seen.
    fn quantile_ns(&self, q: f64) -> u64 {
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count.max(1));
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (low, high) = bucket_bounds(i);
                return (low + (high - low) / 2).min(self.max_ns);
            }
        }
        self.max_ns
    }

    fn report(&self) -> StatsReport {
        let ms = |ns: u128| ns as f64 / 1e6;
        StatsReport {
            count: self.count,
            total_ms: ms(self.wall_ns),
            mean_ms: if self.count == 0 { 0.0 } else { ms(self.wall_ns) / self.count as f64 },
            p50_ms: ms(self.quantile_ns(0.5).into()),
            p95_ms: ms(self.quantile_ns(0.95).into()),
            p99_ms: ms(self.quantile_ns(0.99).into()),
            max_ms: ms(self.max_ns.into()),
            busy_total_ms: ms(self.busy_ns),
        }
    }
}

/// The histogram bucket of a duration in nanoseconds: exact below [`SUB_BUCKETS`], then
/// [`SUB_BUCKETS`] buckets per power of two.
fn bucket_of(ns: u64) -> usize {
    if ns < SUB_BUCKETS {
        return ns as usize;
    }
    let exponent = 63 - u64::from(ns.leading_zeros()); // ≥ 4
    let shift = exponent - SUB_BUCKETS.trailing_zeros() as u64;
    let sub = (ns >> shift) & (SUB_BUCKETS - 1);
    ((shift + 1) * SUB_BUCKETS + sub) as usize
}

/// The durations `[low, high)` (ns) of bucket `i`.
fn bucket_bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB_BUCKETS {
        return (i, i + 1);
    }
    let shift = i / SUB_BUCKETS - 1;
    let sub = i % SUB_BUCKETS;
    let low = (SUB_BUCKETS + sub) << shift;
    (low, low.saturating_add(1 << shift))
}

/// What the file holds for one name or path.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct StatsReport {
    /// Spans closed.
    pub count: u64,
    /// Their wall time added up (ms).
    pub total_ms: f64,
    /// `total_ms / count`.
    pub mean_ms: f64,
    /// Median wall time (ms; histogram bucket, ~6 %).
    pub p50_ms: f64,
    /// 95th percentile (ms).
    pub p95_ms: f64,
    /// 99th percentile (ms).
    pub p99_ms: f64,
    /// Longest (ms).
    pub max_ms: f64,
    /// Time entered (polled), added up (ms).
    pub busy_total_ms: f64,
}

/// The JSON document written to the file.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TimingsReport {
    /// 0 for the first document, one more after each SIGUSR1.
    pub generation: u64,
    /// True when written as the process ends.
    pub last: bool,
    /// Seconds the timings cover.
    pub collected_s: f64,
    /// Per span name.
    pub spans: BTreeMap<String, StatsReport>,
    /// Per path of span names from the root, `/`-separated.
    pub paths: BTreeMap<String, StatsReport>,
}

impl SpanTimings {
    /// Empty timings and the layer that fills them.
    pub fn new() -> (Self, TimingLayer) {
        let timings = Self::default();
        lock(&timings.tally).since = Some(Instant::now());
        let layer = TimingLayer { tally: timings.tally.clone() };
        (timings, layer)
    }

    /// The timings collected so far.
    pub fn report(&self, last: bool) -> TimingsReport {
        let tally = lock(&self.tally);
        TimingsReport {
            generation: tally.generation,
            last,
            collected_s: tally.since.map_or(0.0, |s| s.elapsed().as_secs_f64()),
            spans: tally.by_name.iter().map(|(k, v)| ((*k).to_owned(), v.report())).collect(),
            paths: tally.by_path.iter().map(|(k, v)| (k.clone(), v.report())).collect(),
        }
    }

    /// Writes [`Self::report`] to `path` whole (through a file beside it, renamed).
    pub fn write(&self, path: &Path, last: bool) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(&self.report(last)).map_err(io::Error::other)?;
        let partial = PathBuf::from(format!("{}.partial", path.display()));
        std::fs::write(&partial, json)?;
        std::fs::rename(&partial, path)
    }

    /// Writes the timings so far to `path`, then starts again from zero (next generation).
    pub fn write_and_restart(&self, path: &Path) -> io::Result<()> {
        let written = self.write(path, false);
        let mut tally = lock(&self.tally);
        tally.by_name.clear();
        tally.by_path.clear();
        tally.generation += 1;
        tally.since = Some(Instant::now());
        written
    }

    /// Until the process ends: on each SIGUSR1, [`Self::write_and_restart`] (call inside a tokio
    /// runtime; the handler is installed before this returns).
    pub fn restart_on_signal(&self, path: PathBuf) -> io::Result<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut usr1 = signal(SignalKind::user_defined1())?;
        let timings = self.clone();
        Ok(tokio::spawn(async move {
            while usr1.recv().await.is_some() {
                if let Err(e) = timings.write_and_restart(&path) {
                    tracing::warn!(error = %e, file = %path.display(), "cannot write the span timings");
                }
            }
        }))
    }
}

/// Timings collected for a file: written there on SIGUSR1 and when the process ends.
pub struct TimingsFile {
    timings: SpanTimings,
    path: PathBuf,
}

impl TimingsFile {
    /// Timings for the file at `path` (nothing is written yet) and the layer that fills them.
    pub fn new(path: PathBuf) -> (Self, TimingLayer) {
        let (timings, layer) = SpanTimings::new();
        (Self { timings, path }, layer)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// See [`SpanTimings::restart_on_signal`].
    pub fn restart_on_signal(&self) -> io::Result<tokio::task::JoinHandle<()>> {
        self.timings.restart_on_signal(self.path.clone())
    }

    /// Writes the timings as the process ends.
    pub fn write_last(&self) -> io::Result<()> {
        self.timings.write(&self.path, true)
    }
}

fn lock(tally: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S> Layer<S> for TimingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let name = span.name();
        let path = span
            .parent()
            .and_then(|parent| parent.extensions().get::<Timing>().map(|t| format!("{}/{name}", t.path)))
            .unwrap_or_else(|| name.to_owned());
        span.extensions_mut().insert(Timing {
            path,
            opened: Instant::now(),
            busy: Duration::ZERO,
            entered: 0,
            entered_at: None,
        });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(timing) = extensions.get_mut::<Timing>() {
            if timing.entered == 0 {
                timing.entered_at = Some(Instant::now());
            }
            timing.entered += 1;
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(timing) = extensions.get_mut::<Timing>() {
            timing.entered = timing.entered.saturating_sub(1);
            if timing.entered == 0 {
                if let Some(at) = timing.entered_at.take() {
                    timing.busy += at.elapsed();
                }
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(timing) = span.extensions_mut().remove::<Timing>() else { return };
        let wall = timing.opened.elapsed();
        let mut tally = lock(&self.tally);
        tally.by_name.entry(span.name()).or_default().add(wall, timing.busy);
        match tally.by_path.get_mut(&timing.path) {
            Some(stats) => stats.add(wall, timing.busy),
            None => {
                let mut stats = Stats::default();
                stats.add(wall, timing.busy);
                tally.by_path.insert(timing.path, stats);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn buckets_cover_every_duration_in_order_within_their_bounds() {
        let mut last = 0;
        for ns in [0u64, 1, 15, 16, 17, 31, 32, 1_000, 1_000_000, 123_456_789, u64::MAX / 3, u64::MAX] {
            let i = bucket_of(ns);
            let (low, high) = bucket_bounds(i);
            assert!(low <= ns && (ns < high || high == u64::MAX), "{ns} in bucket {i} [{low}, {high})");
            assert!(i >= last && i < BUCKETS, "{ns}: bucket {i}");
            last = i;
        }
    }

    #[test]
    fn quantiles_come_from_the_histogram_within_its_resolution() {
        let mut stats = Stats::default();
        for ms in 1..=100u64 {
            stats.add(Duration::from_millis(ms), Duration::ZERO);
        }
        let near = |got: u64, want_ms: f64| ((got as f64 / 1e6) - want_ms).abs() <= want_ms * 0.07;
        assert!(near(stats.quantile_ns(0.5), 50.0), "{}", stats.quantile_ns(0.5));
        assert!(near(stats.quantile_ns(0.95), 95.0), "{}", stats.quantile_ns(0.95));
        let top = stats.quantile_ns(1.0);
        assert!(near(top, 100.0) && top <= 100_000_000, "never above the longest: {top}");
        stats.add(Duration::from_nanos(17), Duration::ZERO);
        assert_eq!(stats.quantile_ns(0.0), 17, "below 16 ns per nanosecond, above in buckets of 1/16");
    }

    #[test]
    fn spans_in_give_counts_totals_and_paths_out() {
        let (timings, layer) = SpanTimings::new();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..3 {
                let outer = tracing::trace_span!("outer", secret = "not recorded");
                let _in_outer = outer.enter();
                let inner = tracing::trace_span!("inner");
                let entered = inner.enter();
                std::thread::sleep(Duration::from_millis(5));
                drop(entered);
                // open, not entered: wall time only
                std::thread::sleep(Duration::from_millis(5));
            }
            let _alone = tracing::trace_span!("inner");
        });
        let report = timings.report(true);
        let inner = &report.spans["inner"];
        assert_eq!((report.spans["outer"].count, inner.count), (3, 4));
        assert!(inner.total_ms >= 30.0, "wall from creation to close: {inner:?}");
        assert!(inner.busy_total_ms >= 15.0 && inner.busy_total_ms < inner.total_ms, "{inner:?}");
        assert!(report.spans["outer"].total_ms >= inner.total_ms - 1.0);
        assert_eq!(report.paths["outer/inner"].count, 3);
        assert_eq!(report.paths["inner"].count, 1, "a span without a parent is a root");
        assert!(inner.p50_ms >= 9.0 && inner.p50_ms <= inner.max_ms, "{inner:?}");
        let text = serde_json::to_string(&report).unwrap();
        assert!(!text.contains("not recorded"), "fields are never recorded: {text}");
    }

    #[test]
    fn the_file_holds_the_report_and_a_restart_starts_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.json");
        let (timings, layer) = SpanTimings::new();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            drop(tracing::debug_span!("warm_up"));
            timings.write_and_restart(&path).unwrap();
            drop(tracing::debug_span!("measured"));
        });
        let first: TimingsReport = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!((first.generation, first.last), (0, false));
        assert_eq!(first.spans.keys().collect::<Vec<_>>(), ["warm_up"]);
        timings.write(&path, true).unwrap();
        let last: TimingsReport = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!((last.generation, last.last), (1, true));
        assert_eq!(last.spans.keys().collect::<Vec<_>>(), ["measured"]);
        assert!(!dir.path().join("spans.json.partial").exists());
    }
}
