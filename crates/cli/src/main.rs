//! The `svdiag` binary: the command line of [`svdiag_cli::run`].

fn main() -> std::process::ExitCode {
    svdiag_cli::return_large_buffers_to_the_os();
    std::process::ExitCode::from(svdiag_cli::run(std::env::args_os()))
}
