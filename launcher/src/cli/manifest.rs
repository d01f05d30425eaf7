//! `schedbox list --schedulers [--json] [--manifest PATH]`: the scheduler manifest's
//! entries instead of scenarios.

use std::path::PathBuf;

use super::args::UsageError;
use super::Command;

/// `list`'s options that make it list schedulers.
#[derive(Default)]
pub(super) struct ListSchedulers {
    asked: bool,
    manifest: Option<PathBuf>,
}

impl ListSchedulers {
    pub(super) fn take(
        &mut self,
        name: &str,
        parser: &mut lexopt::Parser,
    ) -> Result<(), UsageError> {
        if name == "schedulers" {
            self.asked = true;
        } else {
            self.manifest = Some(super::path("--manifest", parser.value()?)?);
        }
        Ok(())
    }

    /// The command, when `--schedulers` was given; `scenario_options`: whether any of
    /// the scenario listing's own options or paths were.
    pub(super) fn command(
        self,
        json: bool,
        scenario_options: bool,
    ) -> Result<Option<Command>, UsageError> {
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
        Ok(Some(Command::ListSchedulers {
            json,
            manifest: self.manifest,
        }))
    }
}
