fn main() -> std::process::ExitCode {
    skillreg::cli::main()
}
