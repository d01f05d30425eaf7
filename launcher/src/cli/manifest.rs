//! `schedbox list --schedulers [--json] [--manifest PATH]`: the scheduler manifest's
//! entries instead of scenarios.

use std::path::PathBuf;

use super::args::UsageError;

/// `list`'s options that make it list schedulers.
#[derive(Default)]
pub(super) struct ListSchedulers {
    /// `--schedulers`.
    pub(super) asked: bool,
    /// `--manifest PATH`.
    pub(super) manifest: Option<PathBuf>,
}

impl ListSchedulers {
    /// Some(the manifest given) when `--schedulers` was; `scenario_options`: whether any
    /// of the scenario listing's own options or paths were.
    pub(super) fn finish(
        self,
        scenario_options: bool,
    ) -> Result<Option<Option<PathBuf>>, UsageError> {
        if !self.asked {
            return match self.manifest {
                Some(_) => Err(UsageError(
                    "list --manifest PATH lists that manifest's schedulers: add --schedulers"
                        .into(),
                )),
                None => Ok(None),
            };
        }
        if scenario_options {
            return Err(UsageError(
                "list --schedulers lists the manifest: --filter, --shard and scenario paths \
                 are for listing scenarios"
                    .into(),
            ));
        }
        Ok(Some(self.manifest))
    }
}
