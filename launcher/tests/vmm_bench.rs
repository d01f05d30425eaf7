//! The launch-to-first-record measurement: on a tiny guest it measures, and on this host's
//! KVM it says why Linux cannot be measured.

mod common;

use std::time::Duration;

use schedbox::bench::tiny::TinyVmm;
use schedbox::topology::Shape;
use schedbox::vm::backend::VmSpec;
use schedbox::vm::vmm::bench::{kvm_launch_to_first_record, launch_to_first_record};

const LIMIT: Duration = Duration::from_secs(10);

fn spec(kernel: &str) -> VmSpec {
    VmSpec {
        kernel: kernel.into(),
        initramfs: Vec::new(),
        cmdline: String::new(),
        topology: Shape::flat(1),
        memory_mib: 128,
        virtio_records: true,
    }
}

#[test]
fn measures_launch_to_first_record() {
    let took = launch_to_first_record(&TinyVmm, &spec("unused"), LIMIT).expect("no record");
    eprintln!("tiny guest: first record after {took:?}");
    assert!(took < LIMIT);
}

#[test]
fn kvm_bench_says_why_it_cannot_measure_here() {
    let kernel = common::sched_ext_kernel().with_file_name("vmlinux");
    match kvm_launch_to_first_record(&spec(kernel.to_str().unwrap()), LIMIT) {
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
