//! The parts of `gridloopctl` other tools print with: the exit codes and error reports of a
//! failed command ([`error`]), aligned tables that count wide characters ([`output`]), times
//! in China Standard Time ([`timefmt`]) and the report table ([`report_table`]). The demo tool
//! (`tools/demo`) prints its summary and the town's report with them, so its output reads
//! like the CLI's.

// Printing to stdout is what these are for; the workspace lint guards services.
#![allow(clippy::print_stdout)]

pub mod error;
pub mod output;
pub mod report_table;
pub mod timefmt;
