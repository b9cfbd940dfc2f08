//! Command-line arguments and what each command does.

use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use rongshu_core::account::Role;
use rongshu_server::service::{self, Doer};
use rongshu_server::{App, DemoOtpSender, PasswordCost, ServerConfig, SystemClock};
use rongshu_store::{Store, TokenOwner, VerifyOutcome};

#[derive(Parser)]
#[command(
    name = "rongshu",
    version,
    about = "蓉数 Rongshu — the city's government data resource platform"
)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data lives; every command takes these.
#[derive(Args, Clone)]
pub struct DbArgs {
    /// Directory for the SQLite database, uploads and exports.
    #[arg(
        long,
        global = true,
        env = "RONGSHU_DATA_DIR",
        default_value = "./rongshu-data"
    )]
    pub data_dir: PathBuf,
    /// A postgres:// URL to use PostgreSQL instead of SQLite in the data directory.
    #[arg(
        long,
        global = true,
        env = "RONGSHU_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Memory the base registries' build and verification (after each
    /// batch, or of everything on demand) may hold, in MiB.
    #[arg(
        long,
        global = true,
        env = "RONGSHU_REGISTRY_MEMORY_MIB",
        default_value_t = rongshu_store::RegistryRun::DEFAULT_MEMORY_MIB,
        value_parser = clap::value_parser!(u64).range(16..)
    )]
    pub registry_memory_mib: u64,
}

impl DbArgs {
    pub fn url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                std::fs::create_dir_all(&self.data_dir).with_context(|| {
                    format!(
                        "cannot create the data directory {}",
                        self.data_dir.display()
                    )
                })?;
                Ok(rongshu_store::sqlite_url_for_dir(&self.data_dir))
            }
        }
    }

    pub async fn open(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.url()?)
            .await?
            .with_registry_memory_mib(self.registry_memory_mib))
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the web server.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "RONGSHU_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Load a demo city on first start (an empty database).
        #[arg(long)]
        demo: bool,
        /// A proxy (address or CIDR block) whose X-Forwarded-For is believed when
        /// checking applications' IP allow-lists; repeat for several. From anyone
        /// else the connection's own address counts.
        #[arg(
            long = "trusted-proxy",
            env = "RONGSHU_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<String>,
        /// Requests a minute an application may make when it has no limit of its own.
        #[arg(long, env = "RONGSHU_APP_RATE_LIMIT", default_value_t = 6_000)]
        app_rate_limit: i64,
        /// Calls a minute each open API key may make.
        #[arg(long, env = "RONGSHU_OPEN_RATE_LIMIT", default_value_t = 600)]
        open_rate_limit: i64,
    },
    /// Write the synthetic city to a directory.
    Synth {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 20_000)]
        people: u64,
        /// Legal entities; one per six people when not given.
        #[arg(long)]
        entities: Option<u64>,
        #[arg(long, default_value_t = 2016)]
        seed: u64,
    },
    /// Deliver a CSV file as a batch of a resource (the same path as the API).
    Import {
        #[arg(long)]
        resource: String,
        /// upsert (default), replace (the file is the whole resource) or delete (by key).
        #[arg(long, default_value = "upsert")]
        mode: String,
        file: PathBuf,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Departments, users and tokens.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Check citizen IDs, USCCs or organisation codes; one JSON object per value.
    /// Values come from the arguments, or one per line on standard input.
    Validate {
        /// citizen-id, uscc or org-code
        kind: String,
        values: Vec<String>,
    },
    /// Benchmarks that print their figures beside a baseline.
    Bench {
        #[command(subcommand)]
        command: crate::bench::BenchCommand,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the whole chain; exit non-zero naming the first broken event.
    Verify,
}

#[derive(Subcommand)]
#[allow(clippy::enum_variant_names)] // the names are the fixed command names: create-department, create-user, …
pub enum AdminCommand {
    /// Create a department (a bureau, or a district government holding bureaus).
    CreateDepartment {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        parent: Option<String>,
    },
    /// Create a user; the password is read from standard input with --password-stdin.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        department: String,
        /// platform_admin, dept_admin, data_officer, reviewer or analyst; repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Register a department's system as an application.
    CreateApplication {
        #[arg(long)]
        department: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Issue an API token for a user (or, with --application DEPT/NAME, an application key); prints the token alone.
    CreateToken {
        #[arg(
            long,
            required_unless_present = "application",
            conflicts_with = "application"
        )]
        username: Option<String>,
        #[arg(long)]
        application: Option<String>,
        #[arg(long)]
        expires_days: Option<i64>,
    },
}

/// Logs at `info` by default; a benchmark's at `warn`, so that a line per
/// request does not bury its figures (and cost what it measures).
pub fn init_logging(quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if quiet {
        "warn,sqlx=error"
    } else {
        "info,sqlx=error"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let json = std::env::var("RONGSHU_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let clock = SystemClock;
    let now = || chrono::Utc::now();
    match cli.command {
        Command::Serve {
            listen,
            demo,
            trusted_proxies,
            app_rate_limit,
            open_rate_limit,
        } => {
            let trusted_proxies = trusted_proxies
                .iter()
                .map(|p| rongshu_core::net::IpBlock::parse(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow!("--trusted-proxy: {e}"))?;
            let app_rate_limit = rongshu_core::rate::RateLimit::per_minute(app_rate_limit)
                .map_err(|e| anyhow!("--app-rate-limit: {e}"))?;
            let open_rate_limit = rongshu_core::rate::RateLimit::per_minute(open_rate_limit)
                .map_err(|e| anyhow!("--open-rate-limit: {e}"))?;
            let store = cli.db.open().await?;
            let failed = store.fail_interrupted_batches(now()).await?;
            if failed > 0 {
                tracing::warn!(
                    batches = failed,
                    "marked batches interrupted by a stop as failed"
                );
            }
            if demo {
                crate::demo::load_if_empty(&store, &cli.db.data_dir).await?;
            }
            let mut config = ServerConfig::new(listen, cli.db.data_dir.clone());
            config.trusted_proxies = trusted_proxies;
            config.app_rate_limit = app_rate_limit;
            config.open_rate_limit = open_rate_limit;
            if demo {
                // The demo has no phones: a citizen's sign-in code is shown
                // on the sign-in page instead of sent.
                config.citizen.show_codes = true;
                config.citizen.sender = Some(Arc::new(DemoOtpSender::default()));
            }
            let app = App::build(config, store.clone(), Arc::new(clock)).await?;
            println!("Rongshu is listening on http://{}/", app.local_addr());
            tracing::info!(address = %app.local_addr(), backend = store.backend().name(), "listening");
            app.run_until(shutdown_signal()).await?;
            store.close().await;
            tracing::info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth {
            out,
            people,
            entities,
            seed,
        } => crate::demo::synth(&out, people, entities, seed),
        Command::Import {
            resource,
            mode,
            file,
        } => {
            let mode = rongshu_store::BatchMode::parse(&mode)
                .ok_or_else(|| anyhow!("--mode takes upsert, replace or delete"))?;
            let store = cli.db.open().await?;
            let resource = store.resource(&resource).await?;
            let report = service::ingest_file(
                &store,
                now(),
                &Doer::cli(),
                &resource,
                &file,
                rongshu_ingest::BatchFormat::from_file_name(&file.to_string_lossy())
                    .unwrap_or(rongshu_ingest::BatchFormat::Csv),
                mode,
            )
            .await
            .map_err(anyhow::Error::from)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            // The report first; then the work a large batch leaves (its
            // resource's old table removed in turns) is finished before exit.
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let store = Store::connect(&cli.db.url()?).await?;
            match store.verify_audit().await? {
                VerifyOutcome::Intact { events, head } => {
                    // The chain must still hold the head a server last wrote
                    // outside the database: a chain cut short, or rewritten
                    // whole by someone with database access, does not.
                    let checkpoint =
                        rongshu_server::audit_writer::read_checkpoint(&cli.db.data_dir)
                            .with_context(|| "the audit checkpoint file cannot be read")?;
                    if let Some(point) = checkpoint {
                        let stored = store.audit_hash_at(point.seq).await?;
                        if stored.as_deref() != Some(point.hash.as_str()) {
                            println!(
                                "audit log BROKEN: the checkpoint outside the database names event {} with hash {}, the log has {}",
                                point.seq,
                                point.hash,
                                stored.unwrap_or_else(|| "no such event".into())
                            );
                            return Ok(ExitCode::from(2));
                        }
                        println!(
                            "audit log intact: {events} events, head {head}; checkpoint at event {} matches",
                            point.seq
                        );
                    } else {
                        println!("audit log intact: {events} events, head {head}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                VerifyOutcome::Broken { checked, brk } => {
                    println!("audit log BROKEN after {checked} intact events: {brk}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Admin { command } => {
            let store = cli.db.open().await?;
            admin(&store, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { kind, values } => validate(&kind, values),
        Command::Bench { command } => crate::bench::run(command, &cli.db).await,
    }
}

async fn admin(store: &Store, command: AdminCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let doer = Doer::cli();
    match command {
        AdminCommand::CreateDepartment { code, name, parent } => {
            let d = service::create_department(store, now, &doer, &code, &name, parent.as_deref())
                .await
                .map_err(anyhow::Error::from)?;
            println!("created department {} {}", d.code, d.name);
        }
        AdminCommand::CreateUser {
            username,
            department,
            roles,
            password_stdin,
        } => {
            let roles = roles
                .iter()
                .map(|r| Role::parse(r))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow!(e))?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                let p = line.trim_end_matches(['\r', '\n']).to_owned();
                if p.is_empty() {
                    bail!("--password-stdin: no password on standard input");
                }
                Some(p)
            } else {
                None
            };
            let u = service::create_user(
                store,
                now,
                &doer,
                service::NewAccount {
                    username: &username,
                    department: &department,
                    roles: &roles,
                    password: password.as_deref(),
                },
                PasswordCost::PRODUCTION,
            )
            .await
            .map_err(anyhow::Error::from)?;
            println!("created user {} in {}", u.username, u.department.code);
        }
        AdminCommand::CreateApplication {
            department,
            name,
            description,
        } => {
            let app =
                service::create_application(store, now, &doer, &department, &name, &description)
                    .await
                    .map_err(anyhow::Error::from)?;
            println!(
                "created application {}/{} (id {})",
                app.department.code, app.name, app.id
            );
        }
        AdminCommand::CreateToken {
            username,
            application,
            expires_days,
        } => {
            let owner = match (username, application) {
                (Some(u), _) => TokenOwner::User(store.user_by_name(&u).await?),
                (None, Some(a)) => {
                    let (dept, name) = a
                        .split_once('/')
                        .ok_or_else(|| anyhow!("--application takes DEPT/NAME"))?;
                    TokenOwner::Application(store.application(dept, name).await?)
                }
                (None, None) => bail!("give --username or --application"),
            };
            let (_, token, _) =
                service::create_token(store, now, &doer, &owner, "cli", expires_days)
                    .await
                    .map_err(anyhow::Error::from)?;
            println!("{token}");
        }
    }
    Ok(())
}

fn validate(kind: &str, values: Vec<String>) -> anyhow::Result<ExitCode> {
    use rongshu_core::ident::validate::{IdentKind, validate};
    let kind: IdentKind = kind
        .parse()
        .map_err(|_| anyhow!("unknown kind \"{kind}\": use citizen-id, uscc or org-code"))?;
    let values = if values.is_empty() {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        values
    };
    let today = chrono::Local::now().date_naive();
    let mut all_valid = true;
    for value in &values {
        let report = validate(kind, value, today);
        all_valid &= report.valid;
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
