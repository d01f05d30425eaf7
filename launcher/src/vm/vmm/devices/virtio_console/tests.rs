use super::*;
use crate::vm::vmm::memory;

/// A small guest: the rings and the data where a driver might put them.
const MEM_BYTES: u64 = 0x20000;
const DESC: u64 = 0x1000;
const AVAIL: u64 = 0x2000;
const USED: u64 = 0x3000;
const DATA: u64 = 0x4000;
const SIZE: u16 = 8;
const ACKNOWLEDGE_AND_DRIVER: u32 = 1 | 2;

type Console = VirtioConsole<Vec<u8>>;

fn reg(dev: &mut Console, offset: u16) -> u32 {
    let mut data = [0u8; 4];
    dev.read(offset, &mut data);
    u32::from_le_bytes(data)
}

fn set(dev: &mut Console, offset: u16, value: u32) {
    dev.write(offset, &value.to_le_bytes());
}

/// A device set up as Linux's driver does, with the transmit queue ready.
fn ready_console() -> (Console, GuestMemory) {
    let mem = memory::create_bytes(MEM_BYTES).unwrap();
    let mut dev = VirtioConsole::new(mem.clone(), IrqLine::unconnected().unwrap(), Vec::new());
    set(&mut dev, STATUS, ACKNOWLEDGE_AND_DRIVER);
    set(&mut dev, DRIVER_FEATURES_SEL, 1);
    set(&mut dev, DRIVER_FEATURES, 1);
    set(
        &mut dev,
        STATUS,
        ACKNOWLEDGE_AND_DRIVER | STATUS_FEATURES_OK,
    );
    assert_ne!(reg(&mut dev, STATUS) & STATUS_FEATURES_OK, 0);
    set(&mut dev, QUEUE_SEL, TRANSMIT_QUEUE as u32);
    assert_eq!(reg(&mut dev, QUEUE_READY), 0);
    set(&mut dev, QUEUE_NUM, u32::from(SIZE));
    set(&mut dev, QUEUE_DESC_LOW, DESC as u32);
    set(&mut dev, QUEUE_DRIVER_LOW, AVAIL as u32);
    set(&mut dev, QUEUE_DEVICE_LOW, USED as u32);
    set(&mut dev, QUEUE_READY, 1);
    let all = ACKNOWLEDGE_AND_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK;
    set(&mut dev, STATUS, all);
    (dev, mem)
}

fn put_desc(mem: &GuestMemory, index: u16, addr: u64, len: u32, flags: u16, next: u16) {
    let at = DESC + 16 * u64::from(index);
    mem.write_obj(addr, GuestAddress(at)).unwrap();
    mem.write_obj(len, GuestAddress(at + 8)).unwrap();
    mem.write_obj(flags, GuestAddress(at + 12)).unwrap();
    mem.write_obj(next, GuestAddress(at + 14)).unwrap();
}

/// Offers the chain at `head` as available entry `n` and notifies.
fn offer(dev: &mut Console, mem: &GuestMemory, n: u16, head: u16) {
    let slot = u64::from(n % SIZE);
    mem.write_obj(head, GuestAddress(AVAIL + 4 + 2 * slot))
        .unwrap();
    mem.write_obj(n + 1, GuestAddress(AVAIL + 2)).unwrap();
    set(dev, QUEUE_NOTIFY, TRANSMIT_QUEUE as u32);
}

fn used_idx(mem: &GuestMemory) -> u16 {
    mem.read_obj(GuestAddress(USED + 2)).unwrap()
}

#[test]
fn it_says_it_is_a_version_2_console_offering_version_1() {
    let mem = memory::create_bytes(MEM_BYTES).unwrap();
    let mut dev = VirtioConsole::new(mem, IrqLine::unconnected().unwrap(), Vec::new());
    assert_eq!(reg(&mut dev, MAGIC_VALUE), MAGIC);
    assert_eq!(reg(&mut dev, VERSION), 2);
    assert_eq!(reg(&mut dev, DEVICE_ID), 3);
    assert_eq!(reg(&mut dev, DEVICE_FEATURES), 0);
    set(&mut dev, DEVICE_FEATURES_SEL, 1);
    assert_eq!(reg(&mut dev, DEVICE_FEATURES), 1);
    assert_eq!(reg(&mut dev, QUEUE_NUM_MAX), u32::from(QUEUE_SIZE_MAX));
    set(&mut dev, QUEUE_SEL, 2);
    assert_eq!(reg(&mut dev, QUEUE_NUM_MAX), 0, "only two queues");
    let mut byte = [0u8; 1];
    dev.read(MAGIC_VALUE + 1, &mut byte);
    assert_eq!(byte, [b'i']);
}

#[test]
fn a_feature_not_offered_keeps_features_ok_off() {
    let mem = memory::create_bytes(MEM_BYTES).unwrap();
    let mut dev = VirtioConsole::new(mem, IrqLine::unconnected().unwrap(), Vec::new());
    set(&mut dev, DRIVER_FEATURES_SEL, 0);
    set(&mut dev, DRIVER_FEATURES, 1 << 1);
    set(
        &mut dev,
        STATUS,
        ACKNOWLEDGE_AND_DRIVER | STATUS_FEATURES_OK,
    );
    assert_eq!(reg(&mut dev, STATUS), ACKNOWLEDGE_AND_DRIVER);
}

#[test]
fn output_is_taken_at_the_notify_and_given_back_used() {
    let (mut dev, mem) = ready_console();
    mem.write_slice(b"SBX1 boot\nSBX1 ", GuestAddress(DATA))
        .unwrap();
    put_desc(&mem, 3, DATA, 15, 0, 0);
    offer(&mut dev, &mem, 0, 3);
    assert_eq!(used_idx(&mem), 1);
    let id: u32 = mem.read_obj(GuestAddress(USED + 4)).unwrap();
    assert_eq!(id, 3);
    assert_eq!(reg(&mut dev, INTERRUPT_STATUS), INTERRUPT_USED_RING);
    assert_eq!(dev.irq.take_count(), 1);
    set(&mut dev, INTERRUPT_ACK, INTERRUPT_USED_RING);
    assert_eq!(reg(&mut dev, INTERRUPT_STATUS), 0);
    // A chain of two readable parts and a writable one, which is not output.
    mem.write_slice(b"done\n", GuestAddress(DATA + 0x100))
        .unwrap();
    put_desc(&mem, 0, DATA + 0x100, 2, DESC_F_NEXT, 5);
    put_desc(&mem, 5, DATA + 0x102, 3, DESC_F_NEXT, 6);
    put_desc(&mem, 6, DATA, 4, DESC_F_WRITE, 0);
    offer(&mut dev, &mem, 1, 0);
    assert_eq!(used_idx(&mem), 2);
    assert_eq!(dev.output_mut().as_slice(), b"SBX1 boot\nSBX1 done\n");
    let c = dev.counters().clone();
    assert_eq!((c.notifies, c.chains, c.bytes, c.errors), (2, 2, 20, 0));
}

#[test]
fn a_looping_or_stray_chain_needs_a_reset_and_writes_nothing() {
    for (desc, why) in [
        ((DATA, 1, DESC_F_NEXT, 0), "a chain that loops"),
        ((MEM_BYTES - 2, 8, 0, 0), "data past the end of memory"),
        ((0, MAX_CHAIN_BYTES as u32 + 1, 0, 0), "a chain too long"),
        ((DATA, 1, DESC_F_INDIRECT, 0), "an indirect descriptor"),
        (
            (DATA, 1, DESC_F_NEXT, SIZE),
            "a next index beyond the queue",
        ),
    ] {
        let (mut dev, mem) = ready_console();
        put_desc(&mem, 0, desc.0, desc.1, desc.2, desc.3);
        offer(&mut dev, &mem, 0, 0);
        assert_eq!(used_idx(&mem), 0, "{why}");
        assert!(dev.output_mut().is_empty(), "{why}");
        assert_ne!(reg(&mut dev, STATUS) & STATUS_NEEDS_RESET, 0, "{why}");
        assert_eq!(dev.counters().errors, 1, "{why}");
        set(&mut dev, STATUS, 0);
        assert_eq!(reg(&mut dev, STATUS), 0, "a reset clears it");
        assert_eq!(reg(&mut dev, QUEUE_READY), 0);
    }
}

#[test]
fn an_available_index_too_far_ahead_is_refused() {
    let (mut dev, mem) = ready_console();
    mem.write_obj(SIZE + 1, GuestAddress(AVAIL + 2)).unwrap();
    set(&mut dev, QUEUE_NOTIFY, TRANSMIT_QUEUE as u32);
    assert_ne!(reg(&mut dev, STATUS) & STATUS_NEEDS_RESET, 0);
    assert!(dev.output_mut().is_empty());
}

#[test]
fn a_queue_size_that_is_not_a_power_of_two_disables_the_queue() {
    let (mut dev, mem) = ready_console();
    set(&mut dev, QUEUE_NUM, 6);
    put_desc(&mem, 0, DATA, 1, 0, 0);
    offer(&mut dev, &mem, 0, 0);
    assert_eq!(used_idx(&mem), 0);
    assert!(dev.used_rings().is_empty());
}
