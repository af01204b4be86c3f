fn main() -> std::process::ExitCode {
    bilens::cli::main()
}
