//! The local state store: the only code that writes state, journal, lock and backup files.
