use super::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A member as read back from the bytes.
#[derive(Debug)]
struct Parsed {
    name: String,
    fields: [u32; 13],
    data: Vec<u8>,
    header_offset: usize,
    data_offset: usize,
}

fn hex_field(bytes: &[u8], index: usize) -> u32 {
    let start = 6 + index * 8;
    let text = std::str::from_utf8(&bytes[start..start + 8]).unwrap();
    assert!(
        text.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
        "field {index} is not upper-case hex: {text:?}"
    );
    u32::from_str_radix(text, 16).unwrap()
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Reads a newc archive strictly, checking magic, NUL-terminated names and padding.
fn parse(bytes: &[u8]) -> Vec<Parsed> {
    let mut members = Vec::new();
    let mut at = 0;
    loop {
        assert_eq!(at % 4, 0, "header at {at} is not 4-byte aligned");
        let header = &bytes[at..at + HEADER_LEN];
        assert_eq!(&header[..6], MAGIC);
        let fields: [u32; 13] = std::array::from_fn(|i| hex_field(header, i));
        let namesize = fields[11] as usize;
        let name_start = at + HEADER_LEN;
        let name_bytes = &bytes[name_start..name_start + namesize];
        assert_eq!(name_bytes.last(), Some(&0), "name is not NUL-terminated");
        let name = String::from_utf8(name_bytes[..namesize - 1].to_vec()).unwrap();
        let data_offset = align4(name_start + namesize);
        assert!(bytes[name_start + namesize..data_offset]
            .iter()
            .all(|&b| b == 0));
        let size = fields[6] as usize;
        let data = bytes[data_offset..data_offset + size].to_vec();
        let next = align4(data_offset + size);
        assert!(bytes[data_offset + size..next].iter().all(|&b| b == 0));
        members.push(Parsed {
            name: name.clone(),
            fields,
            data,
            header_offset: at,
            data_offset,
        });
        at = next;
        if name == TRAILER {
            assert_eq!(at, bytes.len(), "bytes after the trailer");
            return members;
        }
    }
}

fn sample() -> Archive {
    let mut archive = Archive::new();
    archive.dir("dev", 0o755).unwrap();
    archive.char_device("dev/console", 0o600, 5, 1).unwrap();
    archive.file("init", 0o755, b"binary".to_vec()).unwrap();
    archive
        .file("etc/deep/plan", 0o644, b"schedbox-plan 1\n".to_vec())
        .unwrap();
    archive.symlink("sbin/init", "/init").unwrap();
    archive
}

/// `sample`'s members in archive order, with the parent directories the archive adds.
const SAMPLE_NAMES: [&str; 8] = [
    "dev",
    "dev/console",
    "init",
    "etc",
    "etc/deep",
    "etc/deep/plan",
    "sbin",
    "sbin/init",
];

#[test]
fn header_fields_follow_newc() {
    let bytes = sample().to_bytes();
    let members = parse(&bytes);
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names.split_last(), Some((&TRAILER, &SAMPLE_NAMES[..])));
    let init = &members[2];
    assert_eq!(init.fields[1], 0o100755, "mode");
    assert_eq!(init.fields[4], 1, "nlink");
    assert_eq!(init.fields[6], 6, "filesize");
    assert_eq!(init.fields[11], 5, "namesize includes the NUL");
    assert_eq!(init.data, b"binary");
    let console = &members[1];
    assert_eq!(console.fields[1], 0o020600);
    assert_eq!((console.fields[9], console.fields[10]), (5, 1), "rdev");
    let link = &members[7];
    assert_eq!(link.fields[1], 0o120777);
    assert_eq!(link.data, b"/init");
    assert_eq!(members[3].fields[1], 0o040755, "implicit parent dir");
    let inos: BTreeSet<u32> = members[..8].iter().map(|m| m.fields[0]).collect();
    assert_eq!(inos.len(), 8, "inodes are unique");
}

#[test]
fn names_and_data_are_padded_to_four_bytes() {
    let mut archive = Archive::new();
    // Name lengths 1..=4 and data lengths 0..=4 cover every padding remainder.
    for (i, name) in ["a", "bb", "ccc", "dddd"].iter().enumerate() {
        archive.file(name, 0o644, vec![b'x'; i + 1]).unwrap();
    }
    archive.file("e", 0o644, Vec::new()).unwrap();
    let bytes = archive.to_bytes();
    assert_eq!(bytes.len() % 4, 0);
    for member in parse(&bytes) {
        assert_eq!(member.header_offset % 4, 0);
        assert_eq!(member.data_offset % 4, 0);
    }
}

#[test]
fn trailer_ends_every_archive() {
    let bytes = Archive::new().to_bytes();
    let members = parse(&bytes);
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].name, TRAILER);
    assert_eq!(members[0].fields[4], 1, "trailer nlink");
    assert_eq!(bytes.len(), align4(HEADER_LEN + TRAILER.len() + 1));
}

#[test]
fn bad_paths_and_modes_are_rejected() {
    let mut archive = Archive::new();
    for path in ["", "/", "a//b", "a/../b", "./a", "a/", "a\0b"] {
        assert!(
            matches!(
                archive.file(path, 0o644, Vec::new()),
                Err(Error::BadPath(_))
            ),
            "{path:?} accepted"
        );
    }
    assert!(matches!(
        archive.file("m", 0o10644, Vec::new()),
        Err(Error::BadMode(..))
    ));
    archive.file("/init", 0o755, Vec::new()).unwrap();
    assert_eq!(
        archive.file("init", 0o755, Vec::new()).unwrap_err(),
        Error::Duplicate("init".into())
    );
    assert_eq!(
        archive.file("init/x", 0o755, Vec::new()).unwrap_err(),
        Error::ParentNotDir("init/x".into())
    );
    assert!(Error::BadPath("a/../b".into())
        .to_string()
        .contains("a/../b"));
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("initramfs-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the system cpio with the archive on stdin.
fn cpio(args: &[&str], dir: &Path, archive: &[u8]) -> String {
    let mut child = Command::new("cpio")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "the system `cpio` is needed for this test: run `make deps` (apt-get install cpio)",
        );
    child.stdin.take().unwrap().write_all(archive).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "cpio {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn system_cpio_lists_the_archive() {
    let dir = TempDir::new("list");
    let listing = cpio(&["-t", "--quiet"], &dir.0, &sample().to_bytes());
    let names: Vec<&str> = listing.lines().collect();
    assert_eq!(names, SAMPLE_NAMES);
}

#[test]
fn system_cpio_extracts_contents_modes_and_links() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("extract");
    let mut archive = Archive::new();
    archive
        .file("bin/tool", 0o750, b"#!/bin/true\n".to_vec())
        .unwrap();
    archive.file("plan", 0o644, b"a\nb\n".to_vec()).unwrap();
    archive.symlink("bin/alias", "tool").unwrap();
    cpio(&["-i", "--quiet", "-d", "-m"], &dir.0, &archive.to_bytes());
    let tool = dir.0.join("bin/tool");
    assert_eq!(std::fs::read(&tool).unwrap(), b"#!/bin/true\n");
    let mode = std::fs::metadata(&tool).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o750);
    assert_eq!(std::fs::read(dir.0.join("plan")).unwrap(), b"a\nb\n");
    let target = std::fs::read_link(dir.0.join("bin/alias")).unwrap();
    assert_eq!(target, Path::new("tool"));
}
