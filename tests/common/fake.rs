//! fake Responses server (filled later)
