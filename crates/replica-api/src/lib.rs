//! Replica control messages (skeleton).
