//! The catalog of scenario files under `scenarios/`: the shape its topology batch is
//! written for, and reading a catalog file as the catalog's own checks do. The tables of
//! work types and checks are [`super::vocabulary`]'s, re-exported here.

pub use super::vocabulary::*;

use std::path::Path;

use super::VmShape;
use crate::topology::shape::{Shape, DEFAULT_REMOTE_DISTANCE};

/// The catalog folder (under `scenarios/`) whose scenarios are written for
/// [`TOPOLOGY_BATCH_SHAPE`]: `launcher/tests/catalog.rs` boots them on it, and the tests
/// that load the whole catalog check them against it.
pub const TOPOLOGY_BATCH_DIR: &str = "topology";

/// `--topology 2n2l1c2t --memory 512`: two nodes of one LLC each, one core an LLC, two
/// threads a core (4 vCPUs), so one VM has SMT siblings, LLC and node boundaries. 256 MiB
/// a node holds the kernel's share and a working set bound to it.
pub const TOPOLOGY_BATCH_SHAPE: VmShape = VmShape {
    topology: Shape {
        nodes: 2,
        llcs: 2,
        cores_per_llc: 1,
        threads_per_core: 2,
        remote_distance: DEFAULT_REMOTE_DISTANCE,
    },
    memory_mib: 512,
    host: None,
};

/// Where `make scx-selftests` leaves the runner, as scenarios/selftests names it.
pub const SELFTESTS_RUNNER: &str = "../../target/scx-selftests/runner";
/// What stands in for it, when checking the catalog, if it is not built.
const STAND_IN: &str = "/bin/true";

/// A catalog file as the catalog's own checks read it: on the VM it is written for, with
/// the selftests runner (built on demand) stood in for by `/bin/true` when missing.
pub fn load_for_check(path: &Path, flat: VmShape) -> Result<super::Scenario, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let runner = path
        .parent()
        .unwrap_or(Path::new(""))
        .join(SELFTESTS_RUNNER);
    let text = if text.contains(SELFTESTS_RUNNER) && !runner.exists() {
        text.replace(SELFTESTS_RUNNER, STAND_IN)
    } else {
        text
    };
    super::parse(&text, &path.display().to_string(), &catalog_vm(path, flat))
        .map_err(|e| e.to_string())
}

/// The VM a catalog file is written for: [`TOPOLOGY_BATCH_SHAPE`] for those in
/// [`TOPOLOGY_BATCH_DIR`], `flat` for the rest.
pub fn catalog_vm(path: &Path, flat: VmShape) -> VmShape {
    let folder = path.parent().and_then(Path::file_name);
    if folder.is_some_and(|f| f == TOPOLOGY_BATCH_DIR) {
        TOPOLOGY_BATCH_SHAPE
    } else {
        flat
    }
}
