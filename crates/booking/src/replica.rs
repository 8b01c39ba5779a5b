//! The three theatres in one value (stub).
#[derive(Debug, Default)]
pub struct Replica {}
