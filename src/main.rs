// The system allocator, on purpose: mimalloc took `apply` from 38 to 31 us CPU per change
// order but `plan` of 100,000 from 139 to 174-190 MiB, past its 150 MB budget
// (docs/DECISIONS.md, "global allocator").
fn main() -> std::process::ExitCode {
    edas_rollback::cli::run()
}
