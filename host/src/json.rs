//! The CLI's and the service's JSON: the contract's one writer
//! ([`llm_metrics_contract::json_writer!`]) over the host's bindings. Other
//! tools read these shapes; field names are fixed in `contract/` and nowhere
//! else.
//!
//! Non-finite numbers are the strings `"NaN"`, `"+Inf"` and `"-Inf"` (JSON has
//! no such numbers); absent values are `null`, never 0.

use crate::wit::{mapper, types};

llm_metrics_contract::json_writer!();
