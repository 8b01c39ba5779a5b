//! From the sequencer's timestamp to the theatres' "today" (stub).
