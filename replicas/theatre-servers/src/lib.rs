//! A CineFlix replica (skeleton).
