fn main() -> std::process::ExitCode {
    edas_rollback::cli::run()
}
