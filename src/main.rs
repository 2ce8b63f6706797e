fn main() -> std::process::ExitCode {
    // First, while this is the only thread (see its safety note).
    skillreg::store::configure_sqlite();
    skillreg::cli::main()
}
