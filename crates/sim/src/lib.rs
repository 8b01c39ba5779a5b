//! Deterministic simulations of the ordering protocol and the whole cluster.
