//! The stripped guest init stays within its size limit (`make lint` runs this).

mod common;

use schedbox::bench::sizes::has_symbols;
use schedbox::guest::init::{INIT_NAME, INIT_SIZE_LIMIT};

#[test]
fn the_built_init_is_stripped_and_within_its_limit() {
    let path = common::repo().join("init/target/release").join(INIT_NAME);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; build it first with `make init`",
            path.display()
        )
    });
    assert_eq!(
        has_symbols(&bytes),
        Some(false),
        "{} is not a stripped ELF file",
        path.display()
    );
    let size = bytes.len() as u64;
    assert!(
        size <= INIT_SIZE_LIMIT,
        "{} is {size} bytes, above its limit of {INIT_SIZE_LIMIT} bytes: make the init smaller",
        path.display()
    );
}
