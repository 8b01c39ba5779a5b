//! Kaashoek's sequencer protocol as a pure state machine: submitter, sequencer, member.
