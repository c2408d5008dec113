//! The durable embedded store (being written).
