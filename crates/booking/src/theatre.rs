//! One theatre's slots and bookings (stub).
#[derive(Debug)]
pub struct Theatre {}
