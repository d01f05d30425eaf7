//! The run directory: console.log (COM1), records.log (COM2), plan, report.json, and the
//! output of the scheduler (scheduler.log) and of each payload (payload-<scenario>-<name>.log).

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::exit::Stop;
use crate::protocol::record::{OutputPart, OutputSource, Record};
use schedbox_protocol::limits::PAYLOAD_OUTPUT_BYTES;

pub const DEFAULT_PARENT: &str = "schedbox-runs";
pub const CONSOLE_LOG: &str = "console.log";
pub const RECORDS_LOG: &str = "records.log";
pub const PLAN: &str = "plan";
pub const REPORT: &str = "report.json";
pub const SCHEDULER_LOG: &str = "scheduler.log";
/// Held locked (flock) for the whole run, so that two runs never share a directory.
pub const LOCK: &str = ".lock";

/// The file a payload's output goes to. The names are plain words in a plan the host
/// wrote; anything else is replaced so that a record can never name another path.
pub fn payload_log(scenario: &str, name: &str) -> String {
    let plain = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("payload-{}-{}.log", plain(scenario), plain(name))
}

/// Writes the scheduler's and the payloads' output lines to their logs; scheduler.log is
/// written whenever a scheduler was asked for, even when it printed nothing.
pub fn write_outputs(dir: &Path, records: &[Record], scheduler: bool) -> std::io::Result<()> {
    let mut logs: BTreeMap<String, String> = BTreeMap::new();
    if scheduler {
        logs.insert(SCHEDULER_LOG.to_string(), String::new());
    }
    let mut gaps_marked: Vec<String> = Vec::new();
    for record in records {
        let Record::Output(o) = record else { continue };
        let file = match &o.scenario {
            Some(scenario) if o.source == OutputSource::Payload => payload_log(scenario, &o.name),
            _ => SCHEDULER_LOG.to_string(),
        };
        let log = logs.entry(file.clone()).or_default();
        if o.part == Some(OutputPart::Tail) && !gaps_marked.contains(&file) {
            log.push_str(&gap_line(records, o.scenario.as_deref(), &o.name));
            gaps_marked.push(file);
        }
        log.push_str(&o.text);
        log.push('\n');
    }
    for (file, text) in logs {
        std::fs::write(dir.join(file), text)?;
    }
    Ok(())
}

/// The line a payload log has where the guest left lines out: beyond its output cap
/// only the last lines are kept.
fn gap_line(records: &[Record], scenario: Option<&str>, name: &str) -> String {
    let not_kept = records.iter().find_map(|r| match r {
        Record::Payload(p) if Some(p.scenario.as_str()) == scenario && p.name == name => p.dropped,
        _ => None,
    });
    let count = not_kept.map_or_else(|| "some".to_string(), |n| n.to_string());
    format!(
        "[schedbox: {count} line(s) not kept here: the payload printed more than {} MiB; \
         above are its first {} MiB, below its last lines]\n",
        PAYLOAD_OUTPUT_BYTES >> 20,
        PAYLOAD_OUTPUT_BYTES >> 20
    )
}

/// A run directory this process holds: no other schedbox run can use it meanwhile.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    _lock: File,
}

impl RunDir {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Creates and locks `dir`, or `./schedbox-runs/<UTC time>-<pid>` when none is given.
/// Creating the lock file also proves the directory can be written.
pub fn create(dir: Option<&Path>) -> Result<RunDir, Stop> {
    let path = match dir {
        Some(d) => d.to_path_buf(),
        None => Path::new(DEFAULT_PARENT).join(format!(
            "{}-{}",
            utc_stamp(SystemTime::now()),
            std::process::id()
        )),
    };
    let shown = path.display();
    let fix = "choose another with --out DIR";
    std::fs::create_dir_all(&path).map_err(|e| {
        Stop::io(
            format!("cannot create the run directory {shown} ({fix})"),
            &e,
        )
    })?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.join(LOCK))
        .map_err(|e| {
            Stop::io(
                format!("cannot write in the run directory {shown} ({fix})"),
                &e,
            )
        })?;
    // SAFETY: flock on a descriptor this function owns; LOCK_NB keeps it from waiting.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(Stop::Usage(format!(
            "the run directory {shown} is in use by another schedbox run: give each run \
             its own --out DIR"
        )));
    }
    Ok(RunDir { path, _lock: lock })
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn utc_stamp(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Gregorian date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn payload_logs_stay_in_the_directory() {
        assert_eq!(payload_log("spin", "ls"), "payload-spin-ls.log");
        assert_eq!(payload_log("../x", "a/b"), "payload-___x-a_b.log");
    }

    #[test]
    fn a_locked_run_directory_is_refused() {
        let scratch = crate::tempdir::TempDir::new("rundir").unwrap();
        let dir = scratch.path().join("run");
        let first = create(Some(&dir)).unwrap();
        let Err(Stop::Usage(why)) = create(Some(&dir)) else {
            panic!("a second run got the same directory")
        };
        assert!(why.contains("in use by another schedbox run"), "{why}");
        drop(first);
        assert!(create(Some(&dir)).is_ok(), "the lock outlived its run");
        let Err(Stop::Usage(why)) = create(Some(Path::new("/etc/passwd/run"))) else {
            panic!("a run directory under a file")
        };
        assert!(why.contains("--out DIR"), "{why}");
    }

    #[test]
    fn stamps_are_utc_dates() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101-000000");
        // 2024-02-29 12:34:56 UTC
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(utc_stamp(leap), "20240229-123456");
    }
}
