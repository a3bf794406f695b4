// mimalloc instead of glibc's malloc: allocation was the largest cost of `apply` outside
// the HTTP client (docs/DECISIONS.md, "global allocator"; docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    edas_rollback::cli::run()
}
