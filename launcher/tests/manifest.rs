//! The scheduler manifest through the `schedbox` binary, booting nothing: the
//! repository's schedulers.toml lists, a bad manifest stops a run with
//! file:line:column and exit 2 before any VM, and a NAME it lacks is refused when the
//! manifest was named.

mod common;

use common::{schedbox, Scratch};

#[test]
fn the_repositorys_manifest_lists_its_schedulers_as_json() {
    let manifest = common::repo().join("schedulers.toml");
    let output = schedbox(&[
        "list",
        "--schedulers",
        "--json",
        "--manifest",
        manifest.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["scx_bpfland", "scx_flash", "scx_qmap", "scx_simple"]
    );
    for entry in listed.as_array().unwrap() {
        let kind = entry["source"]["kind"].as_str().unwrap();
        assert!(["crate", "tree"].contains(&kind), "{entry}");
        // Each is either found here or says how to get it.
        assert!(
            entry["program"].is_string() || entry["missing"].is_string(),
            "{entry}"
        );
    }
}

#[test]
fn a_bad_manifest_is_placed_and_stops_the_run_before_a_vm() {
    let scratch = Scratch::new("manifest-bad");
    let bad = scratch.file(
        "m.toml",
        "[mine]\ncrate = \"scx_mine\"\nversion = \"1.0\"\nignores = [\"cpu.maxx\"]\n",
    );
    let spin = common::repo().join("scenarios/spin.toml");
    let output = schedbox(&[
        "run",
        "--out",
        scratch.0.join("run").to_str().unwrap(),
        "--manifest",
        bad.to_str().unwrap(),
        "--scheduler",
        "mine",
        spin.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:4:12:", bad.display())) && stderr.contains("cpu.maxx"),
        "{stderr}"
    );
    assert!(
        !scratch.0.join("run").exists(),
        "a run directory was made: {stderr}"
    );

    let good = scratch.file("good.toml", "[mine]\npath = \"no-such-program\"\n");
    for (name, want) in [
        ("theirs", "has no such scheduler; it has mine"),
        ("mine", "no-such-program is not a file"),
    ] {
        let output = schedbox(&[
            "run",
            "--manifest",
            good.to_str().unwrap(),
            "--scheduler",
            name,
            spin.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(want), "{name}: {stderr}");
    }
}
