//! Transport tests against small real servers on loopback.
