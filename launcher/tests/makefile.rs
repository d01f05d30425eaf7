//! `make` with no target builds the init and the launcher (README, Quick start).

mod common;

use std::process::Command;

#[test]
fn make_alone_builds_the_init_and_the_launcher() {
    // -n prints the recipes without running them.
    let output = Command::new("make")
        // CARGO names the build tool in the recipes; cargo test sets it to a full path.
        .args(["-n", "CARGO=cargo"])
        .current_dir(common::repo())
        .env_remove("MAKEFLAGS")
        .output()
        .expect("cannot run make");
    let recipes = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{recipes}");
    let lines: Vec<&str> = recipes.lines().map(str::trim).collect();
    assert!(
        lines.contains(&"cd init && cargo build --release"),
        "the init is not built: {recipes}"
    );
    assert!(
        lines.contains(&"cargo build --release"),
        "the launcher is not built: {recipes}"
    );
}

/// Every target the Makefiles declare phony has a rule, so `make fuzz` (say) never
/// answers "Nothing to be done" for a folder of the same name.
#[test]
fn every_phony_target_has_a_rule() {
    let mut text = String::new();
    for file in ["Makefile", "kernel/kernel.mk"] {
        let path = common::repo().join(file);
        text += &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        text.push('\n');
    }
    let phony: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(".PHONY:"))
        .flat_map(str::split_whitespace)
        .collect();
    assert!(
        phony.contains(&"fuzz") && phony.contains(&"test"),
        "{phony:?}"
    );
    for target in phony {
        let rule = format!("{target}:");
        assert!(
            text.lines().any(|l| l.starts_with(&rule)),
            "the Makefiles declare {target} phony but have no rule for it"
        );
    }
}
