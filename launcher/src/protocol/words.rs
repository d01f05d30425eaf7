//! The protocol crate's words in reports: serialized as the word on the wire.

use schedbox_protocol::vocab::Word;
use serde::Serializer;

pub fn word<S: Serializer, W: Word>(value: &W, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value.word())
}

pub fn word_opt<S: Serializer, W: Word>(value: &Option<W>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(w) => s.serialize_str(w.word()),
        None => s.serialize_none(),
    }
}
