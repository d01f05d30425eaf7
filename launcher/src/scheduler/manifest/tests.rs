use super::*;

const GOOD: &str = r#"# schedulers
[scx_simple]
description = "the kernel tree's example"
tree = "scx_simple"
ignores = ["cpu.max", "cpu.weight"]

[bpfland]
crate = "scx_bpfland"
version = "1.1.4"
args = ["-s", "5000"]
ops_name = "bpfland_1.1.4_x86_64_unknown_linux_gnu"

[local]
path = "bin/mine"
"#;

fn parse(text: &str) -> Result<Manifest, String> {
    Manifest::parse(Path::new("/m/schedulers.toml"), text)
}

#[test]
fn entries_are_read_with_their_sources() {
    let m = parse(GOOD).unwrap();
    assert_eq!(m.names(), ["bpfland", "local", "scx_simple"]);
    let b = m.get("bpfland").unwrap();
    assert_eq!(
        b.source,
        Source::Crate {
            name: "scx_bpfland".into(),
            version: Some("1.1.4".into())
        }
    );
    assert_eq!(b.args, ["-s", "5000"]);
    assert_eq!(b.at, "/m/schedulers.toml:7");
    let s = m.get("scx_simple").unwrap();
    assert_eq!(s.ignores, ["cpu.max", "cpu.weight"]);
    assert_eq!(s.at, "/m/schedulers.toml:2");
    assert_eq!(
        m.get("local").unwrap().source,
        Source::Path {
            path: "/m/bin/mine".into()
        }
    );
}

#[test]
fn mistakes_are_placed_at_file_line_column() {
    for (text, place, what) in [
        ("[a]\ntree = \"x\"\nargz = []\n", ":3:1:", "unknown field"),
        (
            "[a]\ncrate = \"scx_a\"\npath = \"p\"\n",
            ":3:8:",
            "exactly one of",
        ),
        ("[a]\ndescription = \"d\"\n", ":1:1:", "exactly one of"),
        ("[a]\ncrate = \"bpfland\"\n", ":2:9:", "bpfland"),
        (
            "[a]\ncrate = \"scx_a\"\nversion = \"1 2\"\n",
            ":3:11:",
            "1 2",
        ),
        (
            "[a]\ntree = \"x\"\nversion = \"1\"\n",
            ":3:11:",
            "only a `crate`",
        ),
        (
            "[a]\ntree = \"x\"\nignores = [\"cpu.maxx\"]\n",
            ":3:12:",
            "not a cgroup control",
        ),
        ("[eevdf]\ntree = \"x\"\n", ":1:1:", "kernel's own"),
        ("[a]\ntree = \"x\"\nargs = [1]\n", ":3:9:", "string"),
        ("[a]\ntree = \"../x\"\n", ":2:8:", "file name"),
        ("[a\n", ":1:3:", ""),
    ] {
        let err = parse(text).unwrap_err();
        assert!(
            err.starts_with("/m/schedulers.toml") && err.contains(place) && err.contains(what),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn a_path_or_a_versioned_spec_is_never_a_name() {
    assert!(is_name(Path::new("scx_simple_not_here")));
    assert!(!is_name(Path::new("./scx_simple")));
    assert!(!is_name(Path::new("scx_bpfland@1.1.4")));
    assert!(!is_name(Path::new("/bin/true")));
}

#[test]
fn the_entry_brings_arguments_unless_the_command_line_gives_its_own() {
    let dir = crate::tempdir::TempDir::new("manifest-resolve").unwrap();
    let program = dir.path().join("mine");
    std::fs::write(&program, "x").unwrap();
    let file = dir.path().join("m.toml");
    std::fs::write(
        &file,
        "[mine]\npath = \"mine\"\nargs = [\"-v\"]\nops_name = \"mine\"\n",
    )
    .unwrap();
    let given = SchedulerOptions {
        path: "mine".into(),
        args: Vec::new(),
        name: None,
        attach_ms: None,
        manifest: Some(file.clone()),
        extra: Vec::new(),
    };
    let resolved = resolve(&given, None).unwrap();
    assert_eq!(resolved.path, program);
    assert_eq!(resolved.args, ["-v"]);
    assert_eq!(resolved.name.as_deref(), Some("mine"));
    let own = SchedulerOptions {
        args: vec!["-x".into()],
        name: Some("other".into()),
        ..given.clone()
    };
    let resolved = resolve(&own, None).unwrap();
    assert_eq!(
        (resolved.args, resolved.name),
        (vec!["-x".to_string()], Some("other".into()))
    );
    let missing = SchedulerOptions {
        path: "theirs".into(),
        ..given
    };
    let err = resolve(&missing, None).unwrap_err();
    assert!(err.contains("has no such scheduler; it has mine"), "{err}");
}
