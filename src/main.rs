use clap::Parser;

/// Every request allocates (the answer, its headers, the query's words) on
/// whichever runtime thread serves it, and frees on another: mimalloc's
/// per-thread free lists handle that far more cheaply than glibc's arenas,
/// which spent a tenth of a storm's web node CPU consolidating chunks. The
/// library (and its tests) keep the system allocator: only the binary runs in
/// production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "herald=info,tower_http=warn".into()),
        )
        .init();
    match herald::cli::run(herald::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
