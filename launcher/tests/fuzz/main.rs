//! Fuzz targets for every parser and device a guest or an input file can reach. Each
//! test replays its target's seeds, `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`,
//! then feeds mutated inputs for `SCHEDBOX_FUZZ_SECONDS` (default a fraction of a second),
//! or a share of `SCHEDBOX_FUZZ_TOTAL_SECONDS`: `make fuzz` (README.md, "Fuzzing").

mod alloc;
mod devices;
mod driver;
mod images;
mod plan;
mod stream;
mod tap;
mod text;
mod virtio;

#[global_allocator]
static COUNTING: alloc::Counting = alloc::Counting;

macro_rules! targets {
    ($($test:ident => $target:expr),* $(,)?) => {
        /// How many targets share `make fuzz`'s time.
        const TARGETS: usize = [$(stringify!($test)),*].len();
        $(
            #[test]
            fn $test() {
                driver::fuzz(&$target, TARGETS);
            }
        )*
    };
}

targets! {
    percent_encoding => text::PERCENT,
    line_syntax => text::LINE_SYNTAX,
    record_line => text::RECORD_LINE,
    record_stream => stream::RECORD_STREAM,
    plan_validator => plan::PLAN,
    scenario_toml => plan::SCENARIO,
    plan_args => plan::PLAN_ARGS,
    port_devices => devices::DEVICES,
    virtio_console => virtio::VIRTIO,
    kernel_image => images::KERNEL_IMAGE,
    kernel_load => images::KERNEL_LOAD,
    elf_reader => images::ELF_READER,
    elf_walk => images::ELF_WALK,
    tap_output => tap::TAP,
}
