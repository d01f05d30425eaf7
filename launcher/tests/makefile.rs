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
