//! FEEL through dsntk (being written).
