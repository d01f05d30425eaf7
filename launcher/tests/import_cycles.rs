//! No file of the guest, the launcher, the protocol or the initramfs crate imports one
//! that imports it back (tools/import-cycles.py, which `make lint` runs too), and the
//! checker does find a cycle where there is one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check(args: &[&str]) -> Output {
    Command::new("python3")
        .arg(repo().join("tools/import-cycles.py"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("cannot run python3")
}

fn says(output: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn no_crate_has_an_import_cycle() {
    let guest = check(&[
        "init/src/lib.rs",
        "--lib-name",
        "schedbox_init",
        "init/src/main.rs",
    ]);
    assert_eq!(guest.status.code(), Some(0), "{}", says(&guest));
    let host = check(&[
        "launcher/src/lib.rs",
        "--lib-name",
        "schedbox",
        "launcher/src/main.rs",
        "protocol/src/lib.rs",
        "initramfs/src/lib.rs",
    ]);
    assert_eq!(host.status.code(), Some(0), "{}", says(&host));
}

#[test]
fn a_cycle_is_found_and_named() {
    let dir = std::env::temp_dir().join(format!("schedbox-cycles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(dir.join("a.rs"), "use crate::b::B;\npub struct A(B);\n").unwrap();
    std::fs::write(
        dir.join("b.rs"),
        "pub struct B;\npub fn f(_: crate::a::A) {}\n",
    )
    .unwrap();
    let found = check(&[dir.join("lib.rs").to_str().unwrap()]);
    let text = says(&found);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found.status.code(), Some(1), "{text}");
    assert!(text.contains("a.rs") && text.contains("b.rs"), "{text}");
}
