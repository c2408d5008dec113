//! Timer definitions (being written).
