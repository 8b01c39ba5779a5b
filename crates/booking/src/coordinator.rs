//! Operations run at the caller's home theatre (stub).
use crate::api::{Request, Response};
pub(crate) fn message_for(_request: &Request, _response: &Response) -> String { todo!() }
