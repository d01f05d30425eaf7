//! Kernel image files: telling a bzImage from a vmlinux ELF, reading the release string,
//! and extracting the configuration the kernel embeds (CONFIG_IKCONFIG).

use std::fmt;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

use crate::guest::elf::ELF_MAGIC;

/// x86 boot protocol: offsets into the setup header of a bzImage.
const SETUP_SECTS: usize = 0x1f1;
const HEADER_MAGIC_AT: usize = 0x202;
const HEADER_MAGIC: &[u8] = b"HdrS";
const PROTOCOL_VERSION: usize = 0x206;
const KERNEL_VERSION_PTR: usize = 0x20e;
const PAYLOAD_OFFSET: usize = 0x248;
const PAYLOAD_LENGTH: usize = 0x24c;
/// payload_offset/payload_length exist from boot protocol 2.08 on.
const MIN_PAYLOAD_PROTOCOL: u16 = 0x0208;
const SECTOR: usize = 512;
/// A setup_sects of 0 means 4, for compatibility with ancient images.
const DEFAULT_SETUP_SECTS: usize = 4;
/// Bytes the kernel build appends to every non-gzip payload (the decompressed size).
const SIZE_APPEND: usize = 4;

const CONFIG_HEADER: &[u8] = b"#\n# Automatically generated file; DO NOT EDIT.";
const IKCONFIG_START: &[u8] = b"IKCFG_ST";
const IKCONFIG_END: &[u8] = b"IKCFG_ED";
const BANNER: &[u8] = b"Linux version ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    BzImage,
    Elf,
    Config,
    Unknown,
}

pub fn identify(bytes: &[u8]) -> ImageKind {
    if bytes.starts_with(ELF_MAGIC) {
        ImageKind::Elf
    } else if bytes.get(HEADER_MAGIC_AT..HEADER_MAGIC_AT + 4) == Some(HEADER_MAGIC) {
        ImageKind::BzImage
    } else if bytes.starts_with(CONFIG_HEADER) {
        ImageKind::Config
    } else {
        ImageKind::Unknown
    }
}

/// Compression formats the kernel build can use for a bzImage payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
    Lzma,
    Bzip2,
    Lz4,
    Lzo,
}

impl Compression {
    pub fn detect(data: &[u8]) -> Option<Compression> {
        const MAGICS: &[(&[u8], Compression)] = &[
            (b"\x1f\x8b", Compression::Gzip),
            (b"\x28\xb5\x2f\xfd", Compression::Zstd),
            (b"\xfd7zXZ\x00", Compression::Xz),
            (b"\x5d\x00\x00", Compression::Lzma),
            (b"BZh", Compression::Bzip2),
            (b"\x02\x21\x4c\x18", Compression::Lz4),
            (b"\x89LZO", Compression::Lzo),
        ];
        MAGICS
            .iter()
            .find(|(magic, _)| data.starts_with(magic))
            .map(|&(_, c)| c)
    }

    /// The host command that decompresses this format to stdout, for all but gzip.
    fn command(self) -> &'static [&'static str] {
        match self {
            Compression::Gzip => &["gzip", "-dc"],
            Compression::Zstd => &["zstd", "-dcq"],
            Compression::Xz => &["xz", "-dc"],
            Compression::Lzma => &["xz", "--format=lzma", "-dc"],
            Compression::Bzip2 => &["bzip2", "-dc"],
            Compression::Lz4 => &["lz4", "-dc"],
            Compression::Lzo => &["lzop", "-dc"],
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Bzip2 => "bzip2",
            Compression::Lz4 => "lz4",
            Compression::Lzo => "lzo",
        };
        f.write_str(name)
    }
}

/// The release (`uname -r`) an image reports: the setup header's kernel_version string
/// for a bzImage, the "Linux version" banner for an ELF.
pub fn release(bytes: &[u8], kind: ImageKind) -> Option<String> {
    match kind {
        ImageKind::BzImage => {
            let ptr = u16::from_le_bytes(field(bytes, KERNEL_VERSION_PTR)?) as usize;
            first_word(bytes.get(SECTOR + ptr..)?)
        }
        ImageKind::Elf => banner_release(bytes),
        _ => None,
    }
}

fn field<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N)?.try_into().ok()
}

fn first_word(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0 || b == b' ')?;
    let word = std::str::from_utf8(&bytes[..end]).ok()?;
    (!word.is_empty()).then(|| word.to_string())
}

/// The first "Linux version X " string whose X is a release, not a format specifier.
fn banner_release(bytes: &[u8]) -> Option<String> {
    let mut from = 0;
    while let Some(at) = find(&bytes[from..], BANNER) {
        let start = from + at + BANNER.len();
        if let Some(word) = first_word(&bytes[start..]) {
            if !word.starts_with('%') {
                return Some(word);
            }
        }
        from = start;
    }
    None
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while from + needle.len() <= haystack.len() {
        let at = from + haystack[from..].iter().position(|&b| b == first)?;
        if haystack.get(at..at + needle.len()) == Some(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Why an image's embedded config could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IkconfigError {
    BadSetupHeader(String),
    UnknownCompression,
    ToolMissing {
        format: Compression,
        tool: &'static str,
    },
    Decompress {
        format: Compression,
        detail: String,
    },
    NotEmbedded,
}

impl fmt::Display for IkconfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IkconfigError::BadSetupHeader(why) => write!(f, "bad bzImage setup header: {why}"),
            IkconfigError::UnknownCompression => {
                f.write_str("the bzImage payload uses an unknown compression")
            }
            IkconfigError::ToolMissing { format, tool } => write!(
                f,
                "the payload is {format}-compressed and `{tool}` is not installed (install it)"
            ),
            IkconfigError::Decompress { format, detail } => {
                write!(f, "cannot decompress the {format} payload: {detail}")
            }
            IkconfigError::NotEmbedded => {
                f.write_str("the image embeds no config (built without CONFIG_IKCONFIG)")
            }
        }
    }
}

/// The `.config` text embedded in an image (bzImage or vmlinux ELF).
pub fn ikconfig(bytes: &[u8], kind: ImageKind) -> Result<String, IkconfigError> {
    match kind {
        ImageKind::BzImage => {
            let vmlinux = decompress(payload(bytes)?)?;
            embedded_config(&vmlinux)
        }
        _ => embedded_config(bytes),
    }
}

/// The compressed vmlinux inside a bzImage, located by the setup header.
pub fn payload(bytes: &[u8]) -> Result<&[u8], IkconfigError> {
    let bad = |why: &str| IkconfigError::BadSetupHeader(why.to_string());
    let version = u16::from_le_bytes(field(bytes, PROTOCOL_VERSION).ok_or_else(|| bad("short"))?);
    if version < MIN_PAYLOAD_PROTOCOL {
        return Err(bad(&format!("boot protocol {version:#x} predates 2.08")));
    }
    let sects = match bytes
        .get(SETUP_SECTS)
        .copied()
        .ok_or_else(|| bad("short"))?
    {
        0 => DEFAULT_SETUP_SECTS,
        n => n as usize,
    };
    let offset = u32::from_le_bytes(field(bytes, PAYLOAD_OFFSET).ok_or_else(|| bad("short"))?);
    let length = u32::from_le_bytes(field(bytes, PAYLOAD_LENGTH).ok_or_else(|| bad("short"))?);
    let start = (sects + 1) * SECTOR + offset as usize;
    bytes
        .get(start..start.saturating_add(length as usize))
        .ok_or_else(|| bad("payload lies outside the file"))
}

/// Decompresses a bzImage payload: gzip in process, other formats with the host's tool.
pub fn decompress(payload: &[u8]) -> Result<Vec<u8>, IkconfigError> {
    let format = Compression::detect(payload).ok_or(IkconfigError::UnknownCompression)?;
    if format == Compression::Gzip {
        return gunzip(payload).map_err(|e| IkconfigError::Decompress {
            format,
            detail: e.to_string(),
        });
    }
    let body = &payload[..payload.len().saturating_sub(SIZE_APPEND)];
    run_filter(format, body)
}

fn gunzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}

/// Pipes `input` through the format's decompression command.
fn run_filter(format: Compression, input: &[u8]) -> Result<Vec<u8>, IkconfigError> {
    let argv = format.command();
    let spawned = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(IkconfigError::ToolMissing {
                format,
                tool: argv[0],
            })
        }
        Err(e) => return Err(decompress_error(format, e.to_string())),
    };
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let output = std::thread::scope(|scope| {
        // The writer runs beside the reader so that neither pipe fills up and blocks.
        scope.spawn(move || stdin.write_all(input));
        child.wait_with_output()
    })
    .map_err(|e| decompress_error(format, e.to_string()))?;
    if !output.status.success() || output.stdout.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(decompress_error(
            format,
            format!("{}: {stderr}", output.status),
        ));
    }
    Ok(output.stdout)
}

fn decompress_error(format: Compression, detail: String) -> IkconfigError {
    IkconfigError::Decompress { format, detail }
}

/// The gzip-compressed config between the IKCFG_ST and IKCFG_ED markers.
fn embedded_config(vmlinux: &[u8]) -> Result<String, IkconfigError> {
    let start = find(vmlinux, IKCONFIG_START).ok_or(IkconfigError::NotEmbedded)? + 8;
    let len = find(&vmlinux[start..], IKCONFIG_END).ok_or(IkconfigError::NotEmbedded)?;
    let text = gunzip(&vmlinux[start..start + len]).map_err(|e| IkconfigError::Decompress {
        format: Compression::Gzip,
        detail: format!("embedded config: {e}"),
    })?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// A minimal bzImage: setup header with protocol 2.15 and a gzip payload.
    fn fake_bzimage(vmlinux: &[u8]) -> Vec<u8> {
        let payload = gzip(vmlinux);
        let sects = 1usize;
        let mut image = vec![0u8; (sects + 1) * SECTOR];
        image[SETUP_SECTS] = sects as u8;
        image[HEADER_MAGIC_AT..HEADER_MAGIC_AT + 4].copy_from_slice(HEADER_MAGIC);
        image[PROTOCOL_VERSION..PROTOCOL_VERSION + 2].copy_from_slice(&0x020fu16.to_le_bytes());
        let version_at = 0x100u16;
        image[KERNEL_VERSION_PTR..KERNEL_VERSION_PTR + 2]
            .copy_from_slice(&version_at.to_le_bytes());
        let text = b"6.99.1-test (me@here) #1\0";
        let at = SECTOR + version_at as usize;
        image[at..at + text.len()].copy_from_slice(text);
        let offset = 16u32;
        image[PAYLOAD_OFFSET..PAYLOAD_OFFSET + 4].copy_from_slice(&offset.to_le_bytes());
        image[PAYLOAD_LENGTH..PAYLOAD_LENGTH + 4]
            .copy_from_slice(&(payload.len() as u32).to_le_bytes());
        image.extend_from_slice(&[0u8; 16]);
        image.extend_from_slice(&payload);
        image.extend_from_slice(&[0u8; 64]);
        image
    }

    #[test]
    fn reads_release_and_config_from_a_synthetic_bzimage() {
        let config = b"CONFIG_SCHED_CLASS_EXT=y\n";
        let mut vmlinux = b"junk IKCFG_ST".to_vec();
        vmlinux.extend_from_slice(&gzip(config));
        vmlinux.extend_from_slice(b"IKCFG_ED more junk");
        let image = fake_bzimage(&vmlinux);
        assert_eq!(identify(&image), ImageKind::BzImage);
        assert_eq!(
            release(&image, ImageKind::BzImage).as_deref(),
            Some("6.99.1-test")
        );
        assert_eq!(
            ikconfig(&image, ImageKind::BzImage).unwrap(),
            "CONFIG_SCHED_CLASS_EXT=y\n"
        );
    }

    #[test]
    fn missing_markers_mean_not_embedded() {
        let image = fake_bzimage(b"a kernel without its config");
        assert_eq!(
            ikconfig(&image, ImageKind::BzImage),
            Err(IkconfigError::NotEmbedded)
        );
    }

    #[test]
    fn truncated_header_is_an_error_not_a_panic() {
        let mut image = fake_bzimage(b"x");
        image.truncate(SECTOR + 0x60);
        assert!(matches!(
            payload(&image),
            Err(IkconfigError::BadSetupHeader(_))
        ));
    }

    #[test]
    fn banner_skips_format_strings() {
        let elf = b"\x7fELF...Linux version %s (%s)\0...Linux version 6.12.117 (root@vm)";
        assert_eq!(release(elf, ImageKind::Elf).as_deref(), Some("6.12.117"));
    }

    #[test]
    fn detects_compressions() {
        assert_eq!(
            Compression::detect(b"\x28\xb5\x2f\xfdxx"),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::detect(b"\xfd7zXZ\x00"), Some(Compression::Xz));
        assert_eq!(
            Compression::detect(b"\x1f\x8b\x08"),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::detect(b"plain"), None);
    }
}
