//! Canonical binary encodings (stub: the booking helper fills this in).
use crate::api::{Request, Response};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("input ended early")]
    Truncated,
    #[error("invalid encoding: {0}")]
    Invalid(&'static str),
}

pub(crate) fn encode_response(_response: &Response, _out: &mut Vec<u8>) { todo!() }
pub(crate) fn decode_response(_bytes: &[u8]) -> Result<Response, DecodeError> { todo!() }
pub(crate) fn encode_request(_request: &Request, _out: &mut Vec<u8>) { todo!() }
pub(crate) fn decode_request(_bytes: &[u8]) -> Result<Request, DecodeError> { todo!() }
