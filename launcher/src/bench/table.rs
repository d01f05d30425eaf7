//! The benchmark's table: one section per question, ratios beside the values they
//! compare, and the reasons for rows not measured as numbered notes.

use std::fmt::Write;
use std::time::Duration;

use super::catalog::CatalogRow;
use super::nested::NestedRow;
use super::phases;
use super::plans;
use super::sizes::Size;
use super::stats::{millis, percent, ratio, seconds, Samples};
use super::{FloorRow, Measure, Row, TinyRow};
use crate::kernel::Kernel;
use crate::outcome::timeline::Timeline;

const LABEL: usize = 46;
const VALUE: usize = 24;
const RATIO: usize = 9;
/// ktstr's published figure for a 2 s test: 11 to 14 s of wall time.
const KTSTR_LOW_S: f64 = 11.0;
const KTSTR_HIGH_S: f64 = 14.0;
const KTSTR_HOLD_S: f64 = 2.0;

pub struct Header<'a> {
    pub runs: u32,
    pub kernel: &'a Kernel,
    pub cpus: u32,
    pub memory_mib: u32,
    pub load_before: String,
    pub load_after: String,
    pub took: Duration,
}

/// `/proc/loadavg`'s three averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// A label as a directory name: lower-case letters and digits joined by '-'.
pub fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Reasons for rows not measured, each written once and referred to as `[n]`.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    fn cite(&mut self, why: &str) -> String {
        let n = match self.0.iter().position(|w| w == why) {
            Some(i) => i + 1,
            None => {
                self.0.push(why.to_string());
                self.0.len()
            }
        };
        let short = if why.starts_with("failed") {
            "failed"
        } else {
            "not measured"
        };
        format!("{short} [{n}]")
    }
}

fn cells(out: &mut String, label: &str, values: &[(&str, usize)]) {
    let mut line = format!("  {label:<LABEL$}");
    for (text, width) in values {
        let _ = write!(line, " {text:<width$}");
    }
    let _ = writeln!(out, "{}", line.trim_end());
}

/// A section's title on its own line, then its column heads.
fn title(out: &mut String, text: &str, columns: &[(&str, usize)]) {
    let _ = writeln!(out, "\n{text}");
    if !columns.is_empty() {
        cells(out, "", columns);
    }
}

pub fn render(
    header: &Header,
    rows: &[Row],
    tiny: &[TinyRow],
    floor: &FloorRow,
    nested: &NestedRow,
    catalog: &CatalogRow,
    sizes: &[Size],
) -> String {
    let mut out = String::new();
    let mut notes = Notes::default();
    let k = header.kernel;
    let _ = writeln!(
        out,
        "schedbox bench: every value measured in this run; median (min–max) of {} runs, \
         rows interleaved",
        header.runs
    );
    let _ = writeln!(
        out,
        "host: {} CPUs, load average {} before and {} after; took {:.0} s",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        header.load_before,
        header.load_after,
        header.took.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "guest: kernel {} ({}), {} vCPUs, {} MiB",
        k.release.as_deref().unwrap_or("of unknown release"),
        k.path.display(),
        header.cpus,
        header.memory_mib
    );
    boot_section(&mut out, rows, &mut notes);
    floor_section(&mut out, floor, &mut notes);
    nested_section(&mut out, nested, &mut notes);
    catalog_section(&mut out, catalog, &mut notes);
    tiny_section(&mut out, tiny, &mut notes);
    monitor_section(&mut out, rows, &mut notes);
    stall_section(&mut out, rows, &mut notes);
    size_section(&mut out, sizes);
    if !notes.0.is_empty() {
        let _ = writeln!(out);
        for (i, why) in notes.0.iter().enumerate() {
            let _ = writeln!(out, "[{}] {why}", i + 1);
        }
    }
    out
}

fn boot_section(out: &mut String, rows: &[Row], notes: &mut Notes) {
    let spin: Vec<&Row> = rows.iter().filter(|r| r.measure == Measure::Spin).collect();
    let hold_ms = spin.first().map_or(0, |r| r.hold_ms());
    title(
        out,
        &format!("Boot and run the scenarios ({hold_ms} ms of holds)"),
        &[
            ("launch → boot record", VALUE),
            ("÷ row 1", RATIO),
            ("launch → VM ended", VALUE),
            ("÷ row 1", RATIO),
            ("total ÷ hold", RATIO),
        ],
    );
    let base = spin.first();
    for row in &spin {
        if row.first.is_empty() {
            let why = row.not_measured.as_deref().unwrap_or("no samples");
            cells(out, &row.label, &[(&notes.cite(why), VALUE)]);
            continue;
        }
        let first_ratio = base.map_or("-".into(), |b| ratio(&row.first, &b.first));
        let total_ratio = base.map_or("-".into(), |b| ratio(&row.total, &b.total));
        let per_hold = ratio(&row.total, &Samples(vec![hold_ms as f64]));
        cells(
            out,
            &row.label,
            &[
                (&row.first.summary(seconds, "s"), VALUE),
                (&first_ratio, RATIO),
                (&row.total.summary(seconds, "s"), VALUE),
                (&total_ratio, RATIO),
                (&per_hold, RATIO),
            ],
        );
    }
    let ktstr = format!("{KTSTR_LOW_S:.0}–{KTSTR_HIGH_S:.0} s");
    let ktstr_ratio = format!(
        "{:.1}–{:.1}×",
        KTSTR_LOW_S / KTSTR_HOLD_S,
        KTSTR_HIGH_S / KTSTR_HOLD_S
    );
    cells(
        out,
        "ktstr, 2 s test (reference, NOT measured)",
        &[
            ("-", VALUE),
            ("", RATIO),
            (&ktstr, VALUE),
            ("", RATIO),
            (&ktstr_ratio, RATIO),
        ],
    );
}

fn tiny_section(out: &mut String, tiny: &[TinyRow], notes: &mut Notes) {
    title(
        out,
        "Tiny guest: real-mode code writes one line to COM2",
        &[("start → line", VALUE), ("÷ VMM", RATIO)],
    );
    let base = tiny.first().map(|r| &r.ms);
    for row in tiny {
        if row.ms.is_empty() {
            let why = row.not_measured.as_deref().unwrap_or("no samples");
            cells(out, &row.label, &[(&notes.cite(why), VALUE)]);
            continue;
        }
        let r = base.map_or("-".into(), |b| ratio(&row.ms, b));
        cells(
            out,
            &row.label,
            &[(&row.ms.summary(millis, "ms"), VALUE), (&r, RATIO)],
        );
    }
}

/// The monitor's goal: PID 1's share of the CPUs while it samples the spinners of the
/// fast row (a policy, reported against, never asserted).
const MONITOR_GOAL: f64 = 0.03;

/// A monitor row's share and CPU time samples over one span (the hold, the scenario).
type SpanOf = fn(&Row) -> (&Samples, &Samples);

fn monitor_section(out: &mut String, rows: &[Row], notes: &mut Notes) {
    title(
        out,
        &format!(
            "Monitor cost: PID 1's CPU time ÷ (wall time × vCPUs), during the {} ms hold \
             (the monitor sampling; goal ≤ {} % at {} ms) and over the whole scenario (with \
             forking, readying and stopping the workers)",
            plans::MONITOR_HOLD_MS,
            percent(MONITOR_GOAL),
            plans::FAST_SAMPLE_MS
        ),
        &[
            ("PID 1 share", VALUE),
            ("÷ row 1", RATIO),
            ("PID 1 CPU time", VALUE),
        ],
    );
    let monitor: Vec<&Row> = rows
        .iter()
        .filter(|r| r.measure == Measure::Monitor)
        .collect();
    let base = monitor.first();
    for row in &monitor {
        if row.first.is_empty() {
            let why = row.not_measured.as_deref().unwrap_or("no samples");
            cells(out, &row.label, &[(&notes.cite(why), VALUE)]);
            continue;
        }
        let _ = writeln!(out, "  {}", row.label);
        let parts: [(&str, SpanOf); 2] = [
            ("  monitor, during the hold", |r| (&r.hold, &r.hold_cpu)),
            ("  PID 1, whole scenario", |r| (&r.first, &r.total)),
        ];
        for (label, pick) in parts {
            let (share, cpu) = pick(row);
            let r = base.map_or("-".into(), |b| ratio(share, pick(b).0));
            cells(
                out,
                label,
                &[
                    (&share.summary(percent, "%"), VALUE),
                    (&r, RATIO),
                    (&cpu.summary(millis, "ms"), VALUE),
                ],
            );
        }
    }
    if monitor.iter().any(|r| r.emulated) {
        let _ = writeln!(
            out,
            "  (TCG emulates every guest instruction while guest clocks run in real time: \
             guest CPU times are many times what they are on KVM)"
        );
    }
    if let [fast, slow] = monitor[..] {
        let workers = plans::MONITOR_WORKERS;
        if let Some(us) = per_sample_us(fast, slow) {
            let label = format!("  one sample of {workers} workers (from the difference)");
            cells(out, &label, &[(&format!("{us:.0} µs"), VALUE)]);
        }
        if let (Some(all), Some(held)) = (fast.total.median(), fast.hold_cpu.median()) {
            let label = format!("  set-up and tear-down of {workers} workers (outside the hold)");
            cells(out, &label, &[(&format!("{:.0} ms", all - held), VALUE)]);
        }
    }
}

/// PID 1's extra CPU time in the hold per extra sample between the fast and the slow
/// sampling runs, µs: the cost of one look at every worker.
fn per_sample_us(fast: &Row, slow: &Row) -> Option<f64> {
    let hold = plans::MONITOR_HOLD_MS as f64;
    let extra = hold / plans::FAST_SAMPLE_MS as f64 - hold / plans::SLOW_SAMPLE_MS as f64;
    let cpu_ms = fast.hold_cpu.median()? - slow.hold_cpu.median()?;
    Some(cpu_ms * 1000.0 / extra)
}

fn stall_section(out: &mut String, rows: &[Row], notes: &mut Notes) {
    title(
        out,
        &format!(
            "Stall detection: a worker's last progress → the monitor sees it over the \
             {} ms limit (sampling every {} ms)",
            plans::STALL_LIMIT_MS,
            plans::STALL_SAMPLE_MS
        ),
        &[("latency", VALUE), ("beyond the limit", VALUE)],
    );
    for row in rows.iter().filter(|r| r.measure == Measure::Stall) {
        if row.first.is_empty() {
            let why = row.not_measured.as_deref().unwrap_or("no samples");
            cells(out, &row.label, &[(&notes.cite(why), VALUE)]);
            continue;
        }
        let limit = plans::STALL_LIMIT_MS as f64;
        let beyond = Samples(row.first.0.iter().map(|ms| ms - limit).collect());
        cells(
            out,
            &row.label,
            &[
                (&row.first.summary(millis, "ms"), VALUE),
                (&beyond.summary(millis, "ms"), VALUE),
            ],
        );
    }
}

/// The own VMM's goals against QEMU on the same KVM (launch → first record, → verdict).
const NESTED_FIRST_RECORD_GOAL: f64 = 0.5;
const NESTED_VERDICT_GOAL: f64 = 0.8;

fn nested_section(out: &mut String, nested: &NestedRow, notes: &mut Notes) {
    let columns = [
        ("launch → first record", VALUE),
        ("÷ row 1", RATIO),
        ("launch → verdict", VALUE),
        ("÷ row 1", RATIO),
    ];
    title(
        out,
        "Inside one QEMU/TCG guest with nested SVM (-cpu EPYC,+svm), the built-in spin scenario",
        &columns,
    );
    if let Some(why) = &nested.not_measured {
        let cited = notes.cite(why);
        cells(out, "schedbox VMM on the guest's KVM", &[(&cited, 0)]);
        return;
    }
    let base = &nested.vmm;
    let rows = [
        ("schedbox VMM on the guest's KVM", base),
        ("QEMU KVM, the same /dev/kvm", &nested.qemu_kvm),
        ("QEMU TCG in the same guest", &nested.qemu_tcg),
    ];
    for (label, times) in rows {
        cells(
            out,
            label,
            &[
                (&times.first_record.summary(millis, "ms"), VALUE),
                (&ratio(&times.first_record, &base.first_record), RATIO),
                (&times.verdict.summary(millis, "ms"), VALUE),
                (&ratio(&times.verdict, &base.verdict), RATIO),
            ],
        );
    }
    let goal = |name: &str, vmm: &Samples, qemu: &Samples, limit: f64| {
        let met = match (vmm.median(), qemu.median()) {
            (Some(v), Some(q)) if q > 0.0 => {
                let r = v / q;
                format!(
                    "{r:.2}× QEMU KVM's, goal ≤ {limit}×: {}",
                    if r <= limit { "met" } else { "NOT met" }
                )
            }
            _ => "not measured".to_string(),
        };
        format!("  (own VMM {name}: {met})\n")
    };
    let q = &nested.qemu_kvm;
    out.push_str(&goal(
        "launch → first record",
        &base.first_record,
        &q.first_record,
        NESTED_FIRST_RECORD_GOAL,
    ));
    out.push_str(&goal(
        "launch → verdict",
        &base.verdict,
        &q.verdict,
        NESTED_VERDICT_GOAL,
    ));
}

fn catalog_section(out: &mut String, catalog: &CatalogRow, notes: &mut Notes) {
    let columns = [
        ("launch → verdict", VALUE),
        ("ratio", RATIO),
        ("passed", RATIO),
    ];
    title(
        out,
        &format!(
            "The passing catalog ({} scenarios, {} s of holds), one run each way",
            catalog.scenarios,
            seconds(catalog.hold_ms as f64)
        ),
        &columns,
    );
    let (Some(batched), Some(each)) = (catalog.batched, catalog.one_each) else {
        let why = catalog.not_measured.as_deref().unwrap_or("not run");
        cells(out, "every scenario in one boot", &[(&notes.cite(why), 0)]);
        return;
    };
    let passed = |n: usize| format!("{n}/{}", catalog.scenarios);
    cells(
        out,
        "every scenario in one boot",
        &[
            (&format!("{} s", seconds(batched.wall_ms as f64)), VALUE),
            ("1.00×", RATIO),
            (&passed(batched.passed), RATIO),
        ],
    );
    let ratio = each.wall_ms as f64 / batched.wall_ms.max(1) as f64;
    cells(
        out,
        "one boot per scenario",
        &[
            (&format!("{} s", seconds(each.wall_ms as f64)), VALUE),
            (&format!("{ratio:.2}×"), RATIO),
            (&passed(each.passed), RATIO),
        ],
    );
}

fn floor_section(out: &mut String, floor: &FloorRow, notes: &mut Notes) {
    let columns = [("median (min–max)", VALUE), ("ratio", RATIO)];
    title(
        out,
        "The floor: the same kernel on QEMU TCG, without schedbox",
        &columns,
    );
    if let Some(why) = &floor.not_measured {
        cells(
            out,
            "bare QEMU, init that powers off: → power-off",
            &[(&notes.cite(why), 0)],
        );
        return;
    }
    cells(
        out,
        "bare QEMU, init that powers off: → power-off",
        &[
            (&floor.bare_ms.summary(millis, "ms"), VALUE),
            ("1.00×", RATIO),
        ],
    );
    let r = ratio(&floor.schedbox_ms, &floor.bare_ms);
    cells(
        out,
        "schedbox, empty scenario, launch → verdict",
        &[
            (&floor.schedbox_ms.summary(millis, "ms"), VALUE),
            (&r, RATIO),
        ],
    );
    timeline_rows(out, &floor.timelines);
}

/// The empty scenario's median timeline (docs/report.md, "The timeline"), a row a phase.
fn timeline_rows(out: &mut String, timelines: &[Timeline]) {
    if timelines.is_empty() {
        return;
    }
    let _ = writeln!(out, "  its timeline (report.json), phase by phase:");
    for phase in phases::medians(timelines) {
        cells(
            out,
            &format!("  {}", phase.label),
            &[(&phase.ms.summary(millis, "ms"), VALUE)],
        );
    }
}

/// Writes `table` to `path` as a Markdown page, with the machine it ran on.
pub fn write_doc(path: &std::path::Path, table: &str) -> Result<(), String> {
    let mut doc = String::from(
        "# Benchmarks\n\nWritten by `make bench` (`schedbox bench --doc docs/benchmarks.md`): \
         every value was measured in the one run below, on this machine.\n\n",
    );
    let _ = writeln!(doc, "Machine: {}\n", machine());
    let _ = writeln!(doc, "```\n{}```", table);
    std::fs::write(path, doc).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// CPU model, cores, memory and kernel of this host.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {} CPUs, {:.0} GiB memory, Linux {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        mem_kb as f64 / 1024.0 / 1024.0,
        release.trim()
    )
}

fn size_section(out: &mut String, sizes: &[Size]) {
    title(out, "Sizes", &[]);
    for size in sizes {
        cells(out, &size.label, &[(&size.value, 0)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_directory_names() {
        assert_eq!(slug("QEMU TCG, vmlinux (PVH)"), "qemu-tcg-vmlinux-pvh");
        assert_eq!(
            slug("64 spinners, sample every 10 ms"),
            "64-spinners-sample-every-10-ms"
        );
    }

    #[test]
    fn notes_are_numbered_once() {
        let mut notes = Notes::default();
        assert_eq!(notes.cite("KVM is not usable"), "not measured [1]");
        assert_eq!(notes.cite("failed: boom"), "failed [2]");
        assert_eq!(notes.cite("KVM is not usable"), "not measured [1]");
        assert_eq!(notes.0.len(), 2);
    }

    #[test]
    fn the_floor_shows_the_empty_runs_median_timeline() {
        use crate::outcome::timeline::{Phase, Span};
        let run = |kernel_ms: u64| Timeline {
            wall_ms: 10 + kernel_ms,
            phases: vec![
                Span {
                    phase: Phase::Preparation,
                    scenario: None,
                    start_ms: 0,
                    ms: 10,
                },
                Span {
                    phase: Phase::Kernel,
                    scenario: None,
                    start_ms: 10,
                    ms: kernel_ms,
                },
            ],
        };
        let floor = FloorRow {
            bare_ms: Samples(vec![1000.0]),
            schedbox_ms: Samples(vec![1200.0]),
            timelines: vec![run(700), run(900), run(800)],
            not_measured: None,
        };
        let mut out = String::new();
        floor_section(&mut out, &floor, &mut Notes::default());
        let kernel = out.lines().find(|l| l.trim_start().starts_with("kernel"));
        assert!(
            kernel.is_some_and(|l| l.contains("800 ms (700–900)")),
            "{out}"
        );
        assert!(out.contains("all (wall)"), "{out}");
    }

    #[test]
    fn the_monitor_is_shown_during_the_hold_and_over_the_scenario() {
        let row = |sample_ms: u64, hold: f64, hold_cpu: f64| {
            let mut r = Row::new(
                &format!("64 spinners, sample every {sample_ms} ms"),
                Measure::Monitor,
                Err("no backend".into()),
            );
            r.not_measured = None;
            r.first = Samples(vec![0.10]);
            r.total = Samples(vec![600.0]);
            r.hold = Samples(vec![hold]);
            r.hold_cpu = Samples(vec![hold_cpu]);
            r
        };
        let rows = [row(10, 0.025, 100.0), row(100, 0.005, 20.0)];
        let mut out = String::new();
        monitor_section(&mut out, &rows, &mut Notes::default());
        let line = |start: &str| {
            out.lines()
                .filter(|l| l.trim_start().starts_with(start))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let hold = line("monitor, during the hold");
        assert!(
            hold[0].contains("2.50 %") && hold[0].contains("100 ms"),
            "{out}"
        );
        assert!(hold[1].contains("0.20×"), "{out}");
        assert!(line("PID 1, whole scenario")[0].contains("600 ms"), "{out}");
        // 80 ms more in the hold for 180 more samples.
        assert!(line("one sample of 64")[0].contains("444 µs"), "{out}");
        assert!(line("set-up and tear-down")[0].contains("500 ms"), "{out}");
    }
}
