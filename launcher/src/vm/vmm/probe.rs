//! Does this host's KVM really execute a guest? A few bytes of long-mode code run the
//! instructions Linux needs early (cmpxchg16b, xsave/xrstor, a VEX-encoded AVX instruction),
//! spin a few million times, report on a port and halt. A nested or paravirtual KVM that
//! has to emulate instructions either fails on one of them or is far too slow for the spin.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kvm_bindings::{kvm_cpuid_entry2, kvm_xcr};
use kvm_ioctls::VcpuFd;
use vm_memory::{Bytes, GuestAddress};

use crate::topology::Shape;
use crate::vm::backend::VmExit;
use crate::vm::vmm::devices::bus::{PortBus, PortDevice};
use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::exit::ExitState;
use crate::vm::vmm::kick;
use crate::vm::vmm::layout::CODE_START;
use crate::vm::vmm::machine;
use crate::vm::vmm::memory::{self, GuestMemory};
use crate::vm::vmm::vcpu::{self, Step};
use crate::vm::vmm::x86::cpuid;
use crate::vm::vmm::x86::regs::{
    self, Entry, CR0_EM, CR0_MP, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_OSXSAVE,
};

/// Memory of the probe guest: page tables, code and data all sit below 1 MiB.
const PROBE_MEMORY: u64 = 1 << 20;
/// Where the cmpxchg16b operand and the XSAVE area live.
const CMPXCHG_DATA: u64 = 0x3000;
const XSAVE_AREA: u64 = 0x4000;
/// The port and value that say the code reached its end.
const DONE_PORT: u8 = 0x80;
const DONE_VALUE: u8 = 0x4b;
/// The values cmpxchg16b stores (RBX, RCX).
const CMPXCHG_LOW: u32 = 0x1111_1111;
const CMPXCHG_HIGH: u32 = 0x2222_2222;
/// XCR0 components: x87, SSE, AVX.
const XCR0_X87_SSE: u64 = 0b011;
const XCR0_AVX: u64 = 0b100;
/// CPUID.1:ECX feature bits.
const CPUID_CX16: u32 = 1 << 13;
const CPUID_XSAVE: u32 = 1 << 26;
const CPUID_AVX: u32 = 1 << 28;
/// The probe gives up after this long: natively it ends within a few milliseconds.
const PROBE_LIMIT: Duration = Duration::from_millis(500);

/// Encodings of the probe's instructions (64-bit mode).
const MOV_EAX_IMM32: u8 = 0xb8;
const MOV_ECX_IMM32: u8 = 0xb9;
const MOV_EBX_IMM32: u8 = 0xbb;
const MOV_EDI_IMM32: u8 = 0xbf;
const XOR_EAX_EAX: [u8; 2] = [0x31, 0xc0];
const XOR_EDX_EDX: [u8; 2] = [0x31, 0xd2];
const LOCK_CMPXCHG16B_RDI: [u8; 5] = [0xf0, 0x48, 0x0f, 0xc7, 0x0f];
const XSAVE_RDI: [u8; 3] = [0x0f, 0xae, 0x27];
const XRSTOR_RDI: [u8; 3] = [0x0f, 0xae, 0x2f];
const VPXOR_XMM0: [u8; 4] = [0xc5, 0xf9, 0xef, 0xc0];
/// 1: dec ecx; jnz 1b
const DEC_ECX_JNZ: [u8; 4] = [0xff, 0xc9, 0x75, 0xfc];
/// mov al, DONE_VALUE; out DONE_PORT, al; hlt
const REPORT_AND_HALT: [u8; 5] = [0xb0, DONE_VALUE, 0xe6, DONE_PORT, 0xf4];
/// Spin iterations: about 4 ms natively; an emulator needs seconds.
const SPIN_COUNT: u32 = 0x40_0000;

fn mov_imm32(opcode: u8, value: u32) -> [u8; 5] {
    let b = value.to_le_bytes();
    [opcode, b[0], b[1], b[2], b[3]]
}

/// Which checks the host CPU allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Features {
    cx16: bool,
    xsave: bool,
    avx: bool,
}

impl Features {
    fn of(supported: &[kvm_cpuid_entry2]) -> Self {
        let ecx = supported
            .iter()
            .find(|e| e.function == 1)
            .map_or(0, |e| e.ecx);
        let xsave = ecx & CPUID_XSAVE != 0;
        Features {
            cx16: ecx & CPUID_CX16 != 0,
            xsave,
            avx: xsave && ecx & CPUID_AVX != 0,
        }
    }

    fn xcr0(&self) -> u64 {
        XCR0_X87_SSE | if self.avx { XCR0_AVX } else { 0 }
    }
}

/// The probe's machine code for what the CPU has.
fn probe_code(f: Features) -> Vec<u8> {
    let mut code = Vec::new();
    if f.cx16 {
        code.extend(mov_imm32(MOV_EDI_IMM32, CMPXCHG_DATA as u32));
        code.extend(XOR_EAX_EAX);
        code.extend(XOR_EDX_EDX);
        code.extend(mov_imm32(MOV_EBX_IMM32, CMPXCHG_LOW));
        code.extend(mov_imm32(MOV_ECX_IMM32, CMPXCHG_HIGH));
        code.extend(LOCK_CMPXCHG16B_RDI);
    }
    if f.xsave {
        code.extend(mov_imm32(MOV_EDI_IMM32, XSAVE_AREA as u32));
        code.extend(mov_imm32(MOV_EAX_IMM32, f.xcr0() as u32));
        code.extend(XOR_EDX_EDX);
        code.extend(XSAVE_RDI);
        code.extend(XRSTOR_RDI);
    }
    if f.avx {
        code.extend(VPXOR_XMM0);
    }
    code.extend(mov_imm32(MOV_ECX_IMM32, SPIN_COUNT));
    code.extend(DEC_ECX_JNZ);
    code.extend(REPORT_AND_HALT);
    code
}

/// Remembers the last byte written to the done port.
struct DonePort(Arc<AtomicU8>);

impl PortDevice for DonePort {
    fn read(&mut self, _offset: u16, data: &mut [u8]) {
        data.fill(0xff);
    }
    fn write(&mut self, _offset: u16, data: &[u8]) {
        if let Some(&b) = data.first() {
            self.0.store(b, Ordering::SeqCst);
        }
    }
}

/// Why this host's KVM cannot run schedbox's guests; callers decide by the kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// No usable /dev/kvm (missing, or not ours to open).
    NoKvm(String),
    /// KVM runs guests, but not as Linux needs (it emulates guest code and misses an
    /// instruction, or the guest went wrong); the message says to use QEMU.
    CannotRunGuests(String),
    /// Setting the probe guest up failed on this host.
    Setup(String),
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (ProbeError::NoKvm(why) | ProbeError::CannotRunGuests(why) | ProbeError::Setup(why)) =
            self;
        write!(f, "KVM is not usable on this host: {why}")
    }
}

/// Ok when a probe guest ran natively on KVM; Err says why not.
pub fn kvm_usable() -> Result<(), ProbeError> {
    probe(false)
}

/// Runs the probe guest; with `spin_only`, without the instruction checks.
fn probe(spin_only: bool) -> Result<(), ProbeError> {
    let kvm = machine::open_kvm().map_err(|e| ProbeError::NoKvm(e.to_string()))?;
    set_up_and_run(kvm, spin_only)
}

fn set_up_and_run(kvm: kvm_ioctls::Kvm, spin_only: bool) -> Result<(), ProbeError> {
    let setup = |e: String| ProbeError::Setup(e);
    kick::install().map_err(|e| setup(e.to_string()))?;
    let vm = kvm
        .create_vm()
        .map_err(|e| setup(format!("KVM_CREATE_VM failed: {e}")))?;
    let mem = memory::create_bytes(PROBE_MEMORY).map_err(|e| setup(e.to_string()))?;
    memory::register(&vm, &mem).map_err(|e| setup(e.to_string()))?;
    let supported = cpuid::supported(&kvm).map_err(|e| setup(e.to_string()))?;
    let features = if spin_only {
        Features {
            cx16: false,
            xsave: false,
            avx: false,
        }
    } else {
        Features::of(&supported)
    };
    let code = probe_code(features);
    mem.write_slice(&code, GuestAddress(CODE_START))
        .map_err(|e| setup(format!("cannot load the probe code: {e}")))?;
    let fd = vcpu::create(&vm, &supported, &Shape::flat(1), 0, false)
        .map_err(|e| setup(e.to_string()))?;
    setup_cpu(&fd, &mem, features).map_err(|e| setup(e.to_string()))?;
    let done = Arc::new(AtomicU8::new(0));
    let mut bus = PortBus::new();
    bus.insert(
        u16::from(DONE_PORT),
        1,
        Arc::new(Mutex::new(DonePort(done.clone()))),
    )
    .map_err(|e| setup(e.to_string()))?;
    let ran = run_bounded(fd, bus, &mem).and_then(|end| {
        check_results(
            &mem,
            &end,
            features,
            done.load(Ordering::SeqCst),
            code.len(),
        )
    });
    ran.map_err(ProbeError::CannotRunGuests)?;
    drop((vm, kvm));
    Ok(())
}

/// Long mode with SSE, XSAVE and AVX enabled as Linux enables them.
fn setup_cpu(fd: &VcpuFd, mem: &GuestMemory, f: Features) -> Result<(), VmmError> {
    regs::setup(
        fd,
        mem,
        Entry::Long {
            rip: CODE_START,
            rsi: 0,
        },
    )?;
    let mut sregs = fd
        .get_sregs()
        .map_err(|e| VmmError::kvm("KVM_GET_SREGS", e))?;
    sregs.cr0 = (sregs.cr0 | CR0_MP) & !CR0_EM;
    sregs.cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT | if f.xsave { CR4_OSXSAVE } else { 0 };
    fd.set_sregs(&sregs)
        .map_err(|e| VmmError::kvm("KVM_SET_SREGS", e))?;
    if f.xsave {
        let mut xcrs = fd
            .get_xcrs()
            .map_err(|e| VmmError::kvm("KVM_GET_XCRS", e))?;
        xcrs.nr_xcrs = 1;
        xcrs.xcrs[0] = kvm_xcr {
            xcr: 0,
            value: f.xcr0(),
            ..Default::default()
        };
        fd.set_xcrs(&xcrs)
            .map_err(|e| VmmError::kvm("KVM_SET_XCRS", e))?;
    }
    Ok(())
}

/// What the vCPU ended with, and its RIP then.
struct ProbeEnd {
    step: Step,
    rip: Option<u64>,
}

/// Runs the vCPU on its own thread; kicks it out if it takes longer than [`PROBE_LIMIT`].
fn run_bounded(mut fd: VcpuFd, bus: PortBus, mem: &GuestMemory) -> Result<ProbeEnd, String> {
    let exit = Arc::new(ExitState::new());
    let thread_exit = exit.clone();
    let (tx, rx) = channel();
    let thread = std::thread::Builder::new()
        .name("kvm-probe".into())
        .spawn(move || {
            let step = loop {
                match vcpu::step(&mut fd, 0, &bus) {
                    Step::Continue if !thread_exit.should_stop() => {}
                    other => break other,
                }
            };
            let rip = fd.get_regs().map(|r| r.rip).ok();
            let _ = tx.send(ProbeEnd { step, rip });
        })
        .map_err(|e| format!("cannot start the probe thread: {e}"))?;
    let end = rx.recv_timeout(PROBE_LIMIT);
    if end.is_err() {
        exit.finish(VmExit::Killed);
        if !kick::stop_all(std::slice::from_ref(&thread), PROBE_LIMIT) {
            // Leave the thread and keep its memory mapped rather than hang or unmap it.
            std::mem::forget(mem.clone());
            return Err(format!(
                "the probe guest's vCPU did not stop within {PROBE_LIMIT:?}"
            ));
        }
    }
    let _ = thread.join();
    end.map_err(|_| {
        format!(
            "a probe guest that natively runs in milliseconds did not finish within \
             {PROBE_LIMIT:?}: KVM here emulates guest code instead of running it"
        )
    })
}

fn check_results(
    mem: &GuestMemory,
    end: &ProbeEnd,
    f: Features,
    done: u8,
    len: usize,
) -> Result<(), String> {
    match &end.step {
        Step::Halted => {}
        Step::End(VmExit::Crashed(why)) => return Err(format!("the probe guest failed: {why}")),
        other => return Err(format!("the probe guest ended unexpectedly: {other:?}")),
    }
    if done != DONE_VALUE || end.rip != Some(CODE_START + len as u64) {
        return Err(format!(
            "the probe guest halted early (port {DONE_PORT:#x} saw {done:#x}, RIP {:x?})",
            end.rip
        ));
    }
    if f.cx16 {
        let low: u64 = mem.read_obj(GuestAddress(CMPXCHG_DATA)).unwrap_or(0);
        let high: u64 = mem.read_obj(GuestAddress(CMPXCHG_DATA + 8)).unwrap_or(0);
        if (low, high) != (u64::from(CMPXCHG_LOW), u64::from(CMPXCHG_HIGH)) {
            return Err(format!(
                "cmpxchg16b computed a wrong result ({high:#x}:{low:#x})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same program assembled by GNU as from:
    /// mov $0x3000,%edi; xor %eax,%eax; xor %edx,%edx; mov $0x11111111,%ebx;
    /// mov $0x22222222,%ecx; lock cmpxchg16b (%rdi); mov $0x4000,%edi; mov $7,%eax;
    /// xor %edx,%edx; xsave (%rdi); xrstor (%rdi); vpxor %xmm0,%xmm0,%xmm0;
    /// mov $0x400000,%ecx; 1: dec %ecx; jne 1b; mov $0x4b,%al; out %al,$0x80; hlt
    const ASSEMBLED: [u8; 60] = [
        0xbf, 0x00, 0x30, 0x00, 0x00, 0x31, 0xc0, 0x31, 0xd2, 0xbb, 0x11, 0x11, 0x11, 0x11, 0xb9,
        0x22, 0x22, 0x22, 0x22, 0xf0, 0x48, 0x0f, 0xc7, 0x0f, 0xbf, 0x00, 0x40, 0x00, 0x00, 0xb8,
        0x07, 0x00, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0xae, 0x27, 0x0f, 0xae, 0x2f, 0xc5, 0xf9, 0xef,
        0xc0, 0xb9, 0x00, 0x00, 0x40, 0x00, 0xff, 0xc9, 0x75, 0xfc, 0xb0, 0x4b, 0xe6, 0x80, 0xf4,
    ];

    const ALL: Features = Features {
        cx16: true,
        xsave: true,
        avx: true,
    };

    #[test]
    fn code_matches_the_assembler() {
        assert_eq!(probe_code(ALL), ASSEMBLED.to_vec());
    }

    #[test]
    fn code_leaves_out_what_the_cpu_lacks() {
        let bare = probe_code(Features {
            cx16: false,
            xsave: false,
            avx: false,
        });
        assert_eq!(bare, ASSEMBLED[46..].to_vec(), "spin, report, halt");
        let no_avx = probe_code(Features {
            cx16: true,
            xsave: true,
            avx: false,
        });
        assert_eq!(no_avx.len(), ASSEMBLED.len() - VPXOR_XMM0.len());
        assert_eq!(no_avx[30], 0b011, "XSAVE mask without AVX");
    }

    /// Set on hosts whose KVM runs guests natively (the default expects one that does not,
    /// or none at all).
    pub const NATIVE_KVM_ENV: &str = "SCHEDBOX_TEST_KVM_NATIVE";

    #[test]
    fn spin_alone_tells_emulation_from_native() {
        let started = std::time::Instant::now();
        let verdict = probe(true);
        let took = started.elapsed();
        if std::env::var_os(NATIVE_KVM_ENV).is_some() {
            assert_eq!(verdict, Ok(()));
            return;
        }
        let why = verdict.expect_err("KVM ran the spin natively: set SCHEDBOX_TEST_KVM_NATIVE=1");
        if let ProbeError::NoKvm(_) = why {
            // No KVM at all: then the probe must say so, and there must be none.
            assert!(
                std::fs::File::open("/dev/kvm").is_err(),
                "/dev/kvm opens here, yet the probe said {why}"
            );
            return;
        }
        assert!(matches!(why, ProbeError::CannotRunGuests(_)), "{why:?}");
        assert!(why.to_string().contains("emulates guest code"), "{why}");
        assert!(took < PROBE_LIMIT * 3, "took {took:?}");
    }

    #[test]
    fn features_come_from_leaf_1() {
        let leaf1 = kvm_cpuid_entry2 {
            function: 1,
            ecx: CPUID_CX16 | CPUID_AVX,
            ..Default::default()
        };
        // AVX without XSAVE cannot be enabled.
        assert_eq!(
            Features::of(&[leaf1]),
            Features {
                cx16: true,
                xsave: false,
                avx: false
            }
        );
    }
}
