//! The plan (protocol version 1): the line syntax and the validator are the protocol
//! crate's, shared with the host, which runs the same validator before it boots.

pub use schedbox_protocol::limits::{MAX_FIELDS, MAX_LINE, MAX_NAME, MAX_PATH};
pub use schedbox_protocol::line::{lines, parse_line, Field, Line, Values};
pub use schedbox_protocol::msg::{Lossy, Msg as ErrMsg};
pub use schedbox_protocol::plan::{validate, PlanError, Validator};
