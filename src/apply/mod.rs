//! Carries out a [`crate::plan::Plan`]: parallel, rate-limited, journaled, crash-safe and
//! interruptible (DESIGN 3). Decides nothing the plan did not.
