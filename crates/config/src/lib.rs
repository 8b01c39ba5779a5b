//! CineFlix configuration (TOML).
