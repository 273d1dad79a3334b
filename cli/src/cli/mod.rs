//! One module per subcommand; each parses its flags with clap and calls the library.

pub mod breaches;
pub mod ledger;
pub mod price;
pub mod ratecard;
pub mod report;
pub mod serve;
pub mod usage;
