//! The SOAP front end (hyper).
