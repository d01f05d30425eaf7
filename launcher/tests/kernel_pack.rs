//! Packing host programs into initramfs entries.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use schedbox::guest::pack::{self, Entry, PackError};

fn by_path(entries: Vec<Entry>) -> BTreeMap<String, Entry> {
    entries.into_iter().map(|e| (e.path.clone(), e)).collect()
}

/// Follows symlinks inside the packed tree, as the guest's kernel would.
fn resolve<'a>(tree: &'a BTreeMap<String, Entry>, path: &str) -> &'a Entry {
    let mut entry = &tree[path];
    for _ in 0..8 {
        if !entry.is_symlink() {
            return entry;
        }
        let target = String::from_utf8(entry.data.clone()).unwrap();
        assert!(
            target.starts_with('/'),
            "link targets are absolute: {target}"
        );
        entry = tree
            .get(&target)
            .unwrap_or_else(|| panic!("{path} → {target}: not packed"));
    }
    panic!("{path}: symlink loop");
}

#[test]
fn packing_ls_brings_the_loader_and_libc() {
    let guest = pack::payload_path("ls", Path::new("/bin/ls")).unwrap();
    let tree = by_path(pack::pack_binary(Path::new("/bin/ls"), &guest).unwrap());

    let program = &tree["/payload/ls/ls"];
    assert!(
        program.is_file() && program.mode & 0o111 != 0,
        "{program:?}"
    );
    assert_eq!(program.data, std::fs::read("/bin/ls").unwrap());

    let loader = resolve(&tree, "/lib64/ld-linux-x86-64.so.2");
    assert!(loader.is_file());
    assert_eq!(
        loader.data,
        std::fs::read("/lib64/ld-linux-x86-64.so.2").unwrap()
    );

    // The guest loader has no ld.so.cache: libc must sit in a default directory.
    let in_default_dir = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
    ]
    .iter()
    .find(|p| tree.contains_key(**p))
    .expect("libc.so.6 in a default directory");
    let libc = resolve(&tree, in_default_dir);
    assert!(libc.is_file() && libc.data.starts_with(b"\x7fELF"));

    // Every parent is a directory entry that comes before its children.
    let paths: Vec<&String> = tree.keys().collect();
    for (path, entry) in &tree {
        let parent = Path::new(path).parent().unwrap().to_str().unwrap();
        if parent != "/" {
            assert!(tree[parent].is_dir(), "{parent} is a directory");
            let (p, c) = (
                paths.iter().position(|x| *x == parent),
                paths.iter().position(|x| *x == path),
            );
            assert!(p < c, "{parent} before {path}");
        }
        assert!(!entry.is_dir() || entry.data.is_empty());
    }
}

#[test]
fn a_static_program_packs_alone() {
    let scx = common::tree_scheduler("scx_simple");
    let entries = pack::pack_binary(&scx, "/payload/scx_simple/scx_simple").unwrap();
    let files: Vec<&str> = entries
        .iter()
        .filter(|e| !e.is_dir())
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(files, ["/payload/scx_simple/scx_simple"]);
}

#[test]
fn bad_inputs_are_named() {
    let err = pack::pack_binary(Path::new("/bin/ls"), "payload/ls").unwrap_err();
    assert!(matches!(err, PackError::BadGuestPath { .. }), "{err}");
    let err = pack::pack_binary(Path::new("/nonexistent/prog"), "/payload/x/x").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/prog"), "{err}");
}
