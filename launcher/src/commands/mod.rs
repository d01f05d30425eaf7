//! The subcommands: run, soak, bisect, plan and initramfs, and kernel have a module here;
//! bench and `scheduler build` live with their subsystems ([`crate::bench`],
//! [`crate::scheduler::build`]). [`main`] dispatches the parsed command line.

pub mod ab;
pub mod bisect;
pub mod check;
pub mod compare;
pub mod kernel;
pub mod list;
pub mod plan;
pub mod repeat;
pub mod run;
pub mod schedulers;
pub mod show;
pub mod soak;

use std::ffi::OsString;

use crate::cli::{self, Command};
use crate::exit::{Exit, Stop};
use crate::kernel::build;
use crate::kernel::fetch;
use crate::output;

/// Runs the command line; returns how the process ends.
pub fn main(args: Vec<OsString>) -> Exit {
    crate::outcome::timeline::process_start();
    let command = match cli::parse(args) {
        Ok(command) => command,
        Err(e) => return Stop::Usage(e.to_string()).report(),
    };
    let result = match command {
        Command::Help => {
            output::print(cli::USAGE);
            Ok(Exit::Pass)
        }
        Command::HelpFor(command) => {
            output::print(&cli::command_help(command));
            Ok(Exit::Pass)
        }
        Command::Version => {
            output::print(&format!("schedbox {}\n", env!("CARGO_PKG_VERSION")));
            Ok(Exit::Pass)
        }
        Command::Plan(vm) => plan::print_plan(&vm),
        Command::Initramfs { vm, output } => {
            plan::write_initramfs(&vm, &output).map(|()| Exit::Pass)
        }
        Command::KernelFetch => fetch::fetch()
            .map_err(|e| Stop::Host(format!("kernel fetch failed: {e}")))
            .map(kernel::print_path),
        Command::KernelFetchSource { dest } => build::fetch_source(dest.as_deref())
            .map_err(|e| kernel::kbuild_stop("kernel fetch-source", e))
            .map(kernel::print_path),
        Command::KernelBuild(options) => kernel::kernel_build(&options),
        Command::KernelCheck { image } => kernel::kernel_check(&image),
        Command::SchedulerBuild { spec, jobs } => schedulers::build_spec(&spec)
            .and_then(|spec| crate::scheduler::build::command(&spec, jobs)),
        Command::TopologyList => {
            output::print(&crate::topology::preset_table());
            Ok(Exit::Pass)
        }
        Command::List {
            json,
            filter,
            shard,
            paths,
        } => list::list(json, filter.as_deref(), shard, &paths),
        Command::Show { target, vm } => show::show(&target, &vm),
        Command::Check(vm) => check::check(&vm),
        Command::ListSchedulers { json, manifest } => schedulers::list(json, manifest.as_deref()),
        Command::Run(options) => schedulers::apply(options).map(|o| run::run(&o)),
        Command::Soak { options, runs } => schedulers::apply(options).map(|o| soak::run(&o, runs)),
        Command::Compare(args) => {
            compare::command(&args.a, &args.b, args.threshold, args.json.as_deref())
        }
        Command::Ab {
            options,
            a,
            b,
            repeats,
            threshold,
            manifest,
        } => Ok(ab::run(&ab::Ab {
            options: &options,
            sides: [&a, &b],
            repeats,
            threshold,
            manifest: manifest.as_deref(),
        })),
        Command::Bisect { options, over } => {
            schedulers::apply(options).map(|o| bisect::run(&o, &over))
        }
        Command::Bench {
            options,
            runs,
            doc,
            catalog,
        } => Ok(crate::bench::main(&options, runs, doc.as_deref(), &catalog)),
    };
    result.unwrap_or_else(|stop| stop.report())
}
