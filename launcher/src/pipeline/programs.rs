//! The host programs a run carries into the guest (the scheduler under test and the
//! payloads), each packed with its loader and libraries, merged into one set of
//! initramfs entries. Programs share libraries; a path packed twice must be the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::guest::elf::is_elf;
use crate::guest::pack::{self, Entry};
use crate::scenario::Scenario;
use crate::scheduler::labelled::Labelled;
use crate::scheduler::SchedulerInfo;

/// One program (or a payload's data file) to pack: where it goes, where it comes from,
/// and who asked for it.
struct Wanted {
    guest_path: String,
    host_path: PathBuf,
    what: String,
    /// A payload's file: packed as it is, unless it is a dynamically linked program.
    data: bool,
}

/// Every entry the scheduler and the scenarios' payloads need, parents first.
pub fn collect(
    scheduler: Option<&SchedulerInfo>,
    labelled: &[Labelled],
    scenarios: &[Scenario],
) -> Result<Vec<Entry>, String> {
    let mut wanted: Vec<Wanted> = Vec::new();
    if let Some(s) = scheduler {
        wanted.push(Wanted {
            guest_path: s.guest_path.clone(),
            host_path: s.path.clone(),
            what: format!("--scheduler {}", s.path.display()),
            data: false,
        });
    }
    for l in labelled {
        wanted.push(Wanted {
            guest_path: l.info.guest_path.clone(),
            host_path: l.info.path.clone(),
            what: format!("scheduler {:?} ({})", l.label, l.info.path.display()),
            data: false,
        });
    }
    for scenario in scenarios {
        for p in scenario.payloads() {
            let what = format!("payload {:?} of {}", p.name, scenario.source);
            let program = Wanted {
                guest_path: p.guest_path.clone(),
                host_path: p.host_path.clone(),
                what: what.clone(),
                data: false,
            };
            let files = p.files.iter().map(|f| Wanted {
                guest_path: f.guest_path.clone(),
                host_path: f.host_path.clone(),
                what: format!("{what} (file {})", f.host_path.display()),
                data: true,
            });
            for want in std::iter::once(program).chain(files) {
                if !already_wanted(&wanted, &want)? {
                    wanted.push(want);
                }
            }
        }
    }
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    for want in &wanted {
        // A payload's file that is an ELF program or library comes with what its loader
        // needs; any other is packed as it is.
        let packed = if want.data && !is_elf(&want.host_path) {
            pack::pack_file(&want.host_path, &want.guest_path)
        } else {
            pack::pack_binary(&want.host_path, &want.guest_path)
        };
        let packed = packed.map_err(|e| format!("cannot pack {} for the guest: {e}", want.what))?;
        for entry in packed {
            merge(&mut entries, entry, &want.what)?;
        }
    }
    Ok(entries.into_values().collect())
}

/// Whether the same program is already packed at this guest path; an error when another
/// program would take it.
fn already_wanted(wanted: &[Wanted], want: &Wanted) -> Result<bool, String> {
    let Some(other) = wanted.iter().find(|w| w.guest_path == want.guest_path) else {
        return Ok(false);
    };
    if same_file(&other.host_path, &want.host_path) {
        return Ok(true);
    }
    Err(format!(
        "{} and {} would both be {} in the guest but are different programs ({} and {}): \
         give the payloads different names",
        other.what,
        want.what,
        want.guest_path,
        other.host_path.display(),
        want.host_path.display()
    ))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn merge(entries: &mut BTreeMap<String, Entry>, entry: Entry, what: &str) -> Result<(), String> {
    match entries.get(&entry.path) {
        None => {
            entries.insert(entry.path.clone(), entry);
            Ok(())
        }
        Some(old) if *old == entry || (old.is_dir() && entry.is_dir()) => Ok(()),
        Some(old) => Err(format!(
            "cannot pack {what}: {} is already packed as a different {} by another program",
            entry.path,
            if old.is_dir() { "directory" } else { "file" }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::elf::ELF_MAGIC;
    use crate::scenario::{parse, VmShape};

    const VM: VmShape = VmShape::flat(2, 256);

    fn scenario(name: &str, payloads: &str) -> Scenario {
        let toml = format!("name = \"{name}\"\nduration_ms = 100\n{payloads}");
        parse(&toml, &format!("{name}.toml"), &VM).unwrap()
    }

    #[test]
    fn programs_share_their_libraries() {
        let a = scenario(
            "a",
            "[[payload]]\npath = \"/bin/ls\"\n[[payload]]\npath = \"/bin/cat\"\n",
        );
        let b = scenario("b", "[[payload]]\npath = \"/bin/ls\"\n");
        let entries = collect(None, &[], &[a, b]).unwrap();
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"/payload/ls/ls"), "{paths:?}");
        assert!(paths.contains(&"/payload/cat/cat"), "{paths:?}");
        let libc = paths.iter().filter(|p| p.ends_with("/libc.so.6")).count();
        assert!(libc >= 1, "{paths:?}");
        let mut sorted = paths.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, paths, "entries must be unique and parents first");
    }

    #[test]
    fn data_files_sit_beside_their_program_as_they_are() {
        let dir = crate::tempdir::TempDir::new("programs").unwrap();
        std::fs::write(dir.path().join("input.txt"), "42\n").unwrap();
        let toml = format!(
            "[[payload]]\nname = \"reader\"\npath = \"/bin/cat\"\nfiles = [\"{}\"]\n",
            dir.path().join("input.txt").display()
        );
        let entries = collect(None, &[], &[scenario("a", &toml)]).unwrap();
        let file = entries
            .iter()
            .find(|e| e.path == "/payload/reader/input.txt")
            .expect("the data file is packed beside the program");
        assert_eq!(file.data, b"42\n");
        assert!(file.is_file());
        assert!(entries.iter().any(|e| e.path == "/payload/reader/cat"));
    }

    #[test]
    fn a_placed_program_comes_with_its_libraries() {
        let toml = "[[payload]]\nname = \"runner\"\npath = \"/bin/true\"\n\
                    files = [{ path = \"/bin/ls\", to = \"/usr/bin/ls\" }]\n";
        let entries = collect(None, &[], &[scenario("a", toml)]).unwrap();
        let ls = entries.iter().find(|e| e.path == "/usr/bin/ls").unwrap();
        assert!(ls.data.starts_with(ELF_MAGIC));
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert!(
            paths.iter().any(|p| p.contains("/libc.so")),
            "ls needs libc: {paths:?}"
        );
    }

    #[test]
    fn one_name_for_two_programs_is_an_error() {
        let dir = crate::tempdir::TempDir::new("programs").unwrap();
        for (sub, program) in [("a", "/bin/true"), ("b", "/bin/false")] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
            std::fs::copy(program, dir.path().join(sub).join("prog")).unwrap();
        }
        let payload = |sub: &str| {
            let path = dir.path().join(sub).join("prog");
            format!("[[payload]]\nname = \"x\"\npath = \"{}\"\n", path.display())
        };
        let err = collect(
            None,
            &[],
            &[scenario("a", &payload("a")), scenario("b", &payload("b"))],
        )
        .unwrap_err();
        assert!(err.contains("give the payloads different names"), "{err}");
        assert!(collect(
            None,
            &[],
            &[scenario("a", &payload("a")), scenario("b", &payload("a"))]
        )
        .is_ok());
    }
}
