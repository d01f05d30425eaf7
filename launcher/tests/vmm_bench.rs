//! The launch-to-first-record measurement: on a tiny guest it measures, and on this host's
//! KVM it says why Linux cannot be measured.

use std::sync::mpsc::Sender;
use std::time::Duration;

use schedbox::backend::{Backend, BackendError, VmEvent, VmHandle, VmSpec};
use schedbox::vmm::bench::{kvm_launch_to_first_record, launch_to_first_record};
use schedbox::vmm::{start, Boot, CodeMode, MachineConfig};

const LIMIT: Duration = Duration::from_secs(10);

/// A backend whose "kernel" is real-mode code printing a console line, then a record, then
/// halting (only the bench's kill ends it).
struct TinyGuest;

/// mov dx, 0x3f8; "hi\n" via mov al/out; mov dx, 0x2f8; "SBX1 boot\n"; cli; hlt
fn tiny_guest_code() -> Vec<u8> {
    let mut code = Vec::new();
    for (port, text) in [(0x3f8u16, "hi\n"), (0x2f8, "SBX1 boot\n")] {
        code.push(0xba);
        code.extend_from_slice(&port.to_le_bytes());
        for b in text.bytes() {
            code.extend_from_slice(&[0xb0, b, 0xee]);
        }
    }
    code.extend_from_slice(&[0xfa, 0xf4]);
    code
}

impl Backend for TinyGuest {
    fn name(&self) -> String {
        "tiny".into()
    }

    fn launch(
        &self,
        spec: &VmSpec,
        events: Sender<VmEvent>,
    ) -> Result<Box<dyn VmHandle>, BackendError> {
        let config = MachineConfig {
            cpus: spec.cpus,
            memory_mib: spec.memory_mib,
            boot: Boot::Code {
                bytes: tiny_guest_code(),
                mode: CodeMode::Real,
            },
        };
        Ok(Box::new(start(&config, events)?))
    }
}

fn spec(kernel: &str) -> VmSpec {
    VmSpec {
        kernel: kernel.into(),
        initramfs: Vec::new(),
        cmdline: String::new(),
        cpus: 1,
        memory_mib: 128,
    }
}

#[test]
fn measures_launch_to_first_record() {
    let took = launch_to_first_record(&TinyGuest, &spec("unused"), LIMIT).expect("no record");
    eprintln!("tiny guest: first record after {took:?}");
    assert!(took < LIMIT);
}

#[test]
fn kvm_bench_says_why_it_cannot_measure_here() {
    let kernel = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/kernels/scx/vmlinux"
    );
    match kvm_launch_to_first_record(&spec(kernel), LIMIT) {
        Err(why) => {
            eprintln!("{why}");
            assert!(why.starts_with("kvm: "), "{why}");
            // With no init in the initramfs, a working KVM reaches no record either, but says so.
            assert!(
                why.contains("not usable") || why.contains("before its first record"),
                "{why}"
            );
        }
        Ok(took) => panic!("an empty initramfs cannot send a record, yet one came after {took:?}"),
    }
}
