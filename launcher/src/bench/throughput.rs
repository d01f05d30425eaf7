//! How fast a payload's output reaches the host: a `yes`-style payload that prints
//! 70-byte lines as fast as it can for a fixed hold, through the whole run pipeline on
//! QEMU/TCG, once with the records on the virtio console and once on the serial port,
//! in the same bench run.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::bench::stats::Samples;
use crate::cli::RunOptions;
use crate::pipeline::{boot, prepare, shapes};
use crate::vm::backend::RecordsChannel;
use crate::vm::select::{AccelChoice, BackendChoice};

/// How long the payload prints.
pub const HOLD_MS: u64 = 5_000;
/// Bytes of each line it prints, the newline included.
pub const LINE_BYTES: usize = 70;
/// What the virtio console should reach, as a multiple of the serial port.
pub const GOAL_FACTOR: f64 = 20.0;

/// A static x86-64 executable that writes the same 70-byte line to stdout forever
/// (`write(1, line, 70)` in a loop, whatever it returns): the payload is killed at the
/// end of its scenario.
pub fn yes_payload() -> Vec<u8> {
    #[rustfmt::skip]
    const CODE: [u8; 26] = [
        0xbf, 0x01, 0x00, 0x00, 0x00,             // mov edi, 1 (stdout)
        0x48, 0x8d, 0x35, 0x0e, 0x00, 0x00, 0x00, // lea rsi, [rip + 14] (the line)
        0xba, LINE_BYTES as u8, 0x00, 0x00, 0x00, // mov edx, 70
        0xb8, 0x01, 0x00, 0x00, 0x00,             // mov eax, 1 (write)
        0x0f, 0x05,                               // syscall
        0xeb, 0xf7,                               // jmp to the mov eax
    ];
    let mut body = CODE.to_vec();
    body.extend_from_slice(&[b'y'; LINE_BYTES - 1]);
    body.push(b'\n');
    super::floor::one_page_elf(&body)
}

/// Lines per second on each channel, one sample per bench run.
#[derive(Debug, Default)]
pub struct ThroughputRow {
    pub virtio: Samples,
    pub serial: Samples,
    pub not_measured: Option<String>,
}

/// The scenario: the payload alone, killed at the end of the hold.
fn scenario_text(payload: &Path) -> String {
    format!(
        "name = \"throughput\"\nduration_ms = {HOLD_MS}\n\n[[payload]]\nname = \"yes\"\n\
         path = \"{}\"\nexpect_status = \"killed\"\n",
        payload.display()
    )
}

/// One run of the payload with the records on `channel`: lines per second of hold.
fn lines_per_second(
    options: &RunOptions,
    base: &Path,
    channel: RecordsChannel,
    n: u32,
) -> Result<f64, String> {
    let payload = base.join("yes");
    let scenario = base.join("throughput.toml");
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(&payload, &yes_payload())?;
    std::fs::set_permissions(
        &payload,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(|e| format!("{}: {e}", payload.display()))?;
    // Named from the scenario's own folder, where paths in a scenario start.
    write(&scenario, scenario_text(Path::new("yes")).as_bytes())?;
    let mut one = options.clone();
    one.vm.scenarios = vec![scenario];
    one.backend = BackendChoice::Qemu;
    one.accel = AccelChoice::Tcg;
    let out = base.join(format!("{}-{n}", channel_word(channel)));
    let inputs = prepare::inputs(&one).map_err(|s| s.to_string())?;
    let run = shapes::single(&one.vm)?;
    let mut prepared =
        prepare::prepare(&one, &inputs, run, Some(&out)).map_err(|s| s.to_string())?;
    prepared.virtio_records = channel == RecordsChannel::Virtio;
    let (report, _) = boot::run_prepared(&one, prepared).map_err(|s| s.to_string())?;
    if report.records_channels != [channel] {
        return Err(format!(
            "the records came on {:?}, not on the {}",
            report.records_channels,
            channel.describe()
        ));
    }
    let payload = report
        .scenarios
        .iter()
        .flat_map(|s| s.payloads.iter())
        .next()
        .ok_or("the payload did not report")?;
    let lines = payload
        .record
        .lines
        .ok_or("the payload's lines were not counted")?;
    Ok(lines as f64 / Duration::from_millis(HOLD_MS).as_secs_f64())
}

fn channel_word(channel: RecordsChannel) -> &'static str {
    match channel {
        RecordsChannel::Serial => "serial",
        RecordsChannel::Virtio => "virtio",
        RecordsChannel::Pipe => "pipe",
    }
}

/// One bench run of the row: both channels, one after the other.
pub fn measure(row: &mut ThroughputRow, options: &RunOptions, n: u32) {
    if row.not_measured.is_some() {
        return;
    }
    let base = options.out.clone().unwrap_or_default().join("throughput");
    if let Err(e) = std::fs::create_dir_all(&base) {
        row.not_measured = Some(format!("{}: {e}", base.display()));
        return;
    }
    let mut rates = [0.0; 2];
    for (i, channel) in [RecordsChannel::Virtio, RecordsChannel::Serial]
        .into_iter()
        .enumerate()
    {
        match lines_per_second(options, &base, channel, n) {
            Ok(rate) => {
                eprintln!(
                    "bench: run {}: payload output over the {}: {rate:.0} lines/s",
                    n + 1,
                    channel.describe()
                );
                rates[i] = rate;
            }
            Err(why) => {
                eprintln!("bench: run {}: payload output: failed: {why}", n + 1);
                row.not_measured = Some(format!("failed: {why}"));
                return;
            }
        }
    }
    row.virtio.push(rates[0]);
    row.serial.push(rates[1]);
}

/// The section of the bench's table.
pub fn render(row: &ThroughputRow) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nPayload output, QEMU TCG: a `yes` payload's {LINE_BYTES}-byte lines per second \
         of a {} s hold (output records the guest sent; the channels lose nothing)",
        HOLD_MS / 1000
    );
    if let Some(why) = &row.not_measured {
        let _ = writeln!(out, "  not measured: {why}");
        return out;
    }
    let show = |v: f64| format!("{v:.0}");
    let _ = writeln!(
        out,
        "  records over the virtio console  {}",
        row.virtio.summary(show, "lines/s")
    );
    let _ = writeln!(
        out,
        "  records over the serial port     {}",
        row.serial.summary(show, "lines/s")
    );
    if let (Some(v), Some(s)) = (row.virtio.median(), row.serial.median()) {
        let factor = if s > 0.0 { v / s } else { f64::INFINITY };
        let verdict = if factor >= GOAL_FACTOR {
            "goal met".to_string()
        } else {
            format!("goal {GOAL_FACTOR:.0}× not met")
        };
        let _ = writeln!(out, "  virtio / serial: {factor:.1}× ({verdict})");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_yes_payload_is_a_static_program_whose_line_follows_its_code() {
        let elf = yes_payload();
        let code_end = 120 + 26;
        assert_eq!(elf.len(), code_end + LINE_BYTES);
        assert_eq!(&elf[code_end..code_end + 3], b"yyy");
        assert_eq!(elf.last(), Some(&b'\n'));
        // The lea's displacement reaches the line from the end of the lea.
        let lea_end = 120 + 12;
        assert_eq!(lea_end + usize::from(elf[120 + 8]), code_end);
        let dir = crate::tempdir::TempDir::new("yes").unwrap();
        let path = dir.path().join("yes");
        std::fs::write(&path, &elf).unwrap();
        let info = crate::guest::elfdeps::read_elf(&path).unwrap();
        assert!(
            info.interpreter.is_none() && info.needed.is_empty(),
            "{info:?}"
        );
    }

    #[test]
    fn the_section_names_the_factor_and_the_goal() {
        let row = ThroughputRow {
            virtio: Samples(vec![30_000.0, 32_000.0, 31_000.0]),
            serial: Samples(vec![1_500.0]),
            not_measured: None,
        };
        let text = render(&row);
        assert!(text.contains("31000 lines/s (30000–32000)"), "{text}");
        assert!(text.contains("20.7× (goal met)"), "{text}");
        let slow = ThroughputRow {
            virtio: Samples(vec![3_000.0]),
            ..row
        };
        assert!(render(&slow).contains("2.0× (goal 20× not met)"));
    }
}
