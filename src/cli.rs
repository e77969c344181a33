//! The `herald` command line: parse arguments, load configuration, run a command.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::app::{shutdown_signal, AppState, Server};
use crate::auth::Role;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, EmailTransport, SmsProvider};
use crate::domain::audit::{Action, Actor, Entry};
use crate::domain::operator::Username;
use crate::import::{self, ImportReport, Mode};
use crate::operators;
use crate::store::NewToken;

#[derive(Parser, Debug)]
#[command(
    name = "herald",
    version,
    about = "Outage notifications: declare an outage, reach every affected resident."
)]
pub struct Cli {
    /// Configuration file (default: ./herald.toml when present).
    #[arg(long, short, global = true, env = "HERALD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server and the delivery workers in one process.
    Serve,
    /// Run only the delivery workers.
    Worker,
    /// Create or upgrade the database schema.
    Migrate,
    /// Import the address register or contacts.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Manage operator API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Manage operator accounts (who signs in to the dispatcher console).
    Operator {
        #[command(subcommand)]
        action: OperatorAction,
    },
    /// Fresh demo database from fixtures/, then serve it with local outboxes.
    Demo {
        /// Directory holding addresses.csv, contacts.csv and outages/.
        #[arg(long, default_value = "fixtures")]
        fixtures: PathBuf,
    },
    /// Write a large synthetic address register (CSV) for benchmarks.
    Synth {
        #[arg(long, default_value_t = 2_000_000)]
        count: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportWhat {
    /// CSV `external_id,street,house_number,postcode,settlement,lon,lat[,utilities]` or GeoJSON points;
    /// `street` and `postcode` may be empty.
    Addresses {
        file: PathBuf,
        /// Import nothing if any row is bad (default: skip bad rows and report them).
        #[arg(long)]
        strict: bool,
    },
    /// CSV `address_external_id,channel,destination,language`.
    Contacts {
        file: PathBuf,
        #[arg(long)]
        strict: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Create a token; it is printed once and only its hash is stored.
    Create {
        name: String,
        /// `operator`: the operator API; `ivr`: the phone platform (answers by
        /// a caller's number and "press 2"), nothing else.
        #[arg(long, default_value = "operator")]
        role: Role,
        /// The operator the token belongs to: it acts with that operator's role
        /// (instead of `--role`) and stops working when the operator is disabled.
        #[arg(long, value_name = "USERNAME", conflicts_with = "role")]
        operator: Option<String>,
        /// Stop working after this long: e.g. `90d`, `12h`, `30m`, `3600s`.
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<chrono::Duration>,
    },
    /// Every token: name, role, created, last used, expiry (never the secret).
    List,
    /// Revoke the token(s) with this name; every node refuses them within a second.
    Revoke { name: String },
}

#[derive(Subcommand, Debug)]
pub enum OperatorAction {
    /// Create an account. The password is read from standard input when that
    /// is not a terminal (or with `--password-stdin`), else prompted for twice.
    Create {
        name: String,
        /// viewer (reads), dispatcher (also declares, updates, restores,
        /// cancels), supervisor (also operators, tokens, imports, audit log).
        #[arg(long)]
        role: Role,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Every account: name, role, created, state, open sessions.
    List,
    /// Disable an account: its sessions end and its tokens stop working.
    Disable { name: String },
    /// Set a new password (read as for `create`); ends the account's sessions
    /// and lifts its lock-out.
    ResetPassword {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `90d`, `12h`, `30m`, `45s`, `2w`: a whole number and one unit.
fn parse_duration(s: &str) -> Result<chrono::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0 && *n <= 100_000)
        .ok_or_else(|| format!("'{s}': expected a positive whole number and a unit, e.g. 90d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("'{s}': the unit must be s, m, h, d or w")),
    };
    Ok(chrono::Duration::seconds(n * seconds))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Worker => worker(config).await,
        Command::Migrate => {
            let state = AppState::new(config, Arc::new(SystemClock)).await?;
            println!("database is up to date ({})", state.store.backend_name());
            Ok(())
        }
        Command::Import { what } => {
            let state = AppState::new(config, Arc::new(SystemClock)).await?;
            let report = match what {
                ImportWhat::Addresses { file, strict } => {
                    import::import_addresses(
                        &state.store,
                        import::Input::File(&file),
                        mode(strict),
                        SystemClock.now(),
                    )
                    .await?
                }
                ImportWhat::Contacts { file, strict } => {
                    let region =
                        crate::domain::contact::parse_region(&state.config.default_region)?;
                    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
                    let source = import::ListSource {
                        name: name.as_deref().unwrap_or("contacts"),
                        key: &state.server_key,
                    };
                    import::import_contacts(
                        &state.store,
                        import::Input::File(&file),
                        source,
                        region,
                        mode(strict),
                        SystemClock.now(),
                    )
                    .await?
                }
            };
            print_report(&report);
            Ok(())
        }
        Command::Token { action } => {
            let state = AppState::new(config, Arc::new(SystemClock)).await?;
            tokens(&state, action).await
        }
        Command::Operator { action } => {
            let state = AppState::new(config, Arc::new(SystemClock)).await?;
            operators(&state, action).await
        }
        Command::Demo { fixtures } => {
            config.data_dir = config.data_dir.join("demo");
            config.database_url = None;
            config.email.transport = EmailTransport::File;
            config.sms.provider = SmsProvider::File;
            demo(config, &fixtures).await
        }
        Command::Synth { count, seed, out } => {
            let file = std::io::BufWriter::new(std::fs::File::create(&out)?);
            crate::synthetic::write_csv(file, count, seed)?;
            println!("wrote {count} addresses to {}", out.display());
            Ok(())
        }
    }
}

fn mode(strict: bool) -> Mode {
    if strict {
        Mode::Strict
    } else {
        Mode::Skip
    }
}

fn print_report(r: &ImportReport) {
    println!(
        "{} rows: {} inserted, {} updated, {} unchanged, {} rejected",
        r.rows, r.inserted, r.updated, r.unchanged, r.rejected
    );
    for e in &r.errors {
        println!("  line {}: {}: {}", e.line, e.field, e.reason);
    }
}

/// Creates a token, for an operator (acting with the operator's role) or of
/// its own `role`.
async fn create_token(
    state: &AppState,
    name: &str,
    role: Role,
    operator: Option<&str>,
    expires_in: Option<chrono::Duration>,
) -> anyhow::Result<String> {
    if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 100 {
        anyhow::bail!("a token name is 1 to 100 printable characters");
    }
    if role.for_operators() {
        anyhow::bail!(
            "--role {role} is an operator's role: create the token with --operator USERNAME"
        );
    }
    let operator_id = match operator {
        None => None,
        Some(username) => {
            let username = Username::parse(username).map_err(anyhow::Error::msg)?;
            match state.store.operator_login(&username).await? {
                Some(login) if !login.disabled => Some(login.id),
                Some(_) => anyhow::bail!("operator '{username}' is disabled"),
                None => anyhow::bail!("no operator named '{username}'"),
            }
        }
    };
    let token = crate::auth::new_api_token();
    let now = SystemClock.now();
    state
        .store
        .create_token(&NewToken {
            name,
            token_hash: &crate::auth::hash_token(&token),
            role,
            operator_id,
            expires_at: expires_in.map(|d| now + d),
            now,
        })
        .await?;
    let details = match operator {
        Some(o) => serde_json::json!({ "operator": o }),
        None => serde_json::json!({ "role": role }),
    };
    audit_cli(state, Action::TokenCreated, name, details).await?;
    Ok(token)
}

/// Appends the audit entry of a command run at the machine.
async fn audit_cli(
    state: &AppState,
    action: Action,
    subject: &str,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    let entry = Entry {
        at: SystemClock.now(),
        actor: &Actor::cli(),
        action,
        subject: Some(subject.to_string()),
        details,
    };
    Ok(state.store.append_audit(&entry).await?)
}

/// A new password: from standard input when asked to or when it is not a
/// terminal (its first line), else typed twice at a prompt without echo.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password("password: ")?;
    let again = rpassword::prompt_password("again: ")?;
    if first != again {
        anyhow::bail!("the two passwords differ");
    }
    Ok(first)
}

async fn operators(state: &AppState, action: OperatorAction) -> anyhow::Result<()> {
    let (store, cli, now) = (&state.store, Actor::cli(), SystemClock.now());
    match action {
        OperatorAction::Create {
            name,
            role,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            operators::create(store, &name, role, password, &cli, now).await?;
            println!("{role} '{}' created", name.trim().to_lowercase());
        }
        OperatorAction::List => {
            println!(
                "{:<24} {:<11} {:<16} {:<9} SESSIONS",
                "NAME", "ROLE", "CREATED (UTC)", "STATE"
            );
            for o in store.operators().await? {
                let state = if o.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!(
                    "{:<24} {:<11} {:<16} {:<9} {}",
                    o.username,
                    o.role.as_str(),
                    o.created_at.format("%Y-%m-%d %H:%M"),
                    state,
                    o.sessions
                );
            }
        }
        OperatorAction::Disable { name } => {
            operators::disable(store, &name, &cli, now).await?;
            println!("operator '{name}' disabled; its sessions ended and its tokens stopped");
        }
        OperatorAction::ResetPassword {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            operators::reset_password(store, &name, password, &cli, now).await?;
            println!("password of '{name}' set; its sessions ended");
        }
    }
    Ok(())
}

async fn tokens(state: &AppState, action: TokenAction) -> anyhow::Result<()> {
    match action {
        TokenAction::Create {
            name,
            role,
            operator,
            expires_in,
        } => {
            let token = create_token(state, &name, role, operator.as_deref(), expires_in).await?;
            match &operator {
                Some(o) => {
                    eprintln!("token '{name}' of operator '{o}' created; it is shown only once:")
                }
                None => eprintln!("{role} token '{name}' created; it is shown only once:"),
            }
            println!("{token}");
        }
        TokenAction::List => {
            let now = SystemClock.now();
            let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "-".into())
            };
            println!(
                "{:<24} {:<11} {:<16} {:<16} {:<16} {:<8} OPERATOR",
                "NAME", "ROLE", "CREATED (UTC)", "LAST USED", "EXPIRES", "STATE"
            );
            for t in state.store.tokens().await? {
                let status = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{:<24} {:<11} {:<16} {:<16} {:<16} {status:<8} {}",
                    t.name,
                    t.role.as_str(),
                    when(Some(t.created_at)),
                    when(t.last_used_at),
                    when(t.expires_at),
                    t.operator.as_deref().unwrap_or("-"),
                );
            }
        }
        TokenAction::Revoke { name } => {
            let n = state.store.revoke_token(&name, SystemClock.now()).await?;
            if n == 0 {
                anyhow::bail!("no token named '{name}' is in use");
            }
            audit_cli(
                state,
                Action::TokenRevoked,
                &name,
                serde_json::json!({ "revoked": n }),
            )
            .await?;
            println!("revoked {n} token(s) named '{name}'");
        }
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let server = Server::start(config).await?;
    tracing::info!(addr = %server.addr, "herald listening");
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.stop().await;
    Ok(())
}

async fn worker(config: Config) -> anyhow::Result<()> {
    let state = AppState::new(config, Arc::new(SystemClock)).await?;
    state.follow_other_processes().await?;
    let handle = state.dispatcher().await?.start();
    tracing::info!("worker running");
    shutdown_signal().await;
    tracing::info!("finishing the batch in hand, then stopping");
    handle.stop().await;
    Ok(())
}

async fn demo(config: Config, fixtures: &Path) -> anyhow::Result<()> {
    let dir = config.data_dir.clone();
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let state = AppState::new(config.clone(), Arc::new(SystemClock)).await?;
    let now = SystemClock.now();
    let addresses = import::import_addresses(
        &state.store,
        import::Input::File(&fixtures.join("addresses.csv")),
        Mode::Skip,
        now,
    )
    .await?;
    let region = crate::domain::contact::parse_region(&config.default_region)?;
    let source = import::ListSource {
        name: "contacts.csv",
        key: &state.server_key,
    };
    let contacts = import::import_contacts(
        &state.store,
        import::Input::File(&fixtures.join("contacts.csv")),
        source,
        region,
        Mode::Skip,
        now,
    )
    .await?;
    // A supervisor to sign in to the console with, and the API token is theirs.
    let password = crate::auth::random_token(9);
    let cli = Actor::cli();
    operators::create(
        &state.store,
        "demo",
        Role::Supervisor,
        password.clone(),
        &cli,
        now,
    )
    .await?;
    std::fs::write(dir.join("console-password.txt"), format!("{password}\n"))?;
    let token = create_token(&state, "demo", Role::Operator, Some("demo"), None).await?;
    std::fs::write(dir.join("token.txt"), format!("{token}\n"))?;
    let ivr_token = create_token(&state, "demo-ivr", Role::Ivr, None, None).await?;
    std::fs::write(dir.join("ivr-token.txt"), format!("{ivr_token}\n"))?;
    drop(state);

    let server = Server::start(config).await?;
    let base = format!("http://{}", server.addr);
    let sample = fixtures.join("outages").join("budapest-water-main.json");
    println!(
        "\nHerald demo is running.\n\
         \n  addresses imported: {}   contacts imported: {}\
         \n  status page: {base}/   (planned work: {base}/planned)\
         \n  console:     {base}/console   (user demo, password {password}; also in {}/console-password.txt)\
         \n  IVR feed:    {base}/ivr/v1/feed   (one caller: {base}/ivr/v1/status?postcode=1117)\
         \n  health:      {base}/healthz   metrics: {base}/metrics\
         \n  outboxes:    {}/outbox/email/*.eml and {}/outbox/sms.jsonl\
         \n  token:       {token}  (also in {}/token.txt)\
         \n  IVR token:   {ivr_token}  (also in {}/ivr-token.txt; for answers by caller number:\
         \n               curl -H 'Authorization: Bearer {ivr_token}' '{base}/ivr/v1/status?phone=%2B36201733909')\
         \n\nDeclare the sample outage:\n\
         \n  curl -s -X POST {base}/api/v1/outages \\\
         \n    -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\
         \n    --data @{}\n\
         \nThen look at the outboxes, or GET {base}/api/v1/outages/1 with the same header.\
         \nPress Ctrl-C to stop.\n",
        addresses.inserted,
        contacts.inserted,
        dir.display(),
        dir.display(),
        dir.display(),
        dir.display(),
        dir.display(),
        sample.display(),
    );
    shutdown_signal().await;
    server.stop().await;
    Ok(())
}
