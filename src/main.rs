fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`bilens compare A B | head -c 200`) would
    // panic; end quietly instead, as other command-line tools do. Results are written
    // atomically, so nothing half-written is left behind.
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    bilens::cli::main()
}
