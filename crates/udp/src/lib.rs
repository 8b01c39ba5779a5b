//! UDP shells: socket setup, chunking, fault-injecting transport.
