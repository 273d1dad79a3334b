//! `tollgate serve` and `tollgate keys …`: the self-hosted server (docs/reference/server.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tollgate_engine::store::Durability;
use tollgate_server::keys::{KeyStore, Scope};
use tollgate_server::{RatecardSync, ServerConfig};

/// `tollgate serve` flags.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The data directory: keys.json and one store per workspace under `workspaces/<id>/`.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Address to listen on. Keep it on 127.0.0.1 behind a TLS proxy (docs/reference/server.md).
    #[arg(long, value_name = "ADDR", default_value = tollgate_server::config::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Journal durability of every workspace: sync (fsync before answering), `interval:<ms>`,
    /// none.
    #[arg(long, value_name = "MODE", default_value = "sync")]
    durability: String,
    /// Largest request body in bytes.
    #[arg(long, value_name = "BYTES")]
    max_body_bytes: Option<usize>,
    /// Requests per second per API key (0 = no limit).
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
    /// Burst above the per-key rate.
    #[arg(long, value_name = "N")]
    rate_burst: Option<u32>,
    /// Keep every workspace's rate card current from this source (a registry file, a
    /// directory of dated registry files or an HTTPS URL).
    #[arg(long, value_name = "URL|FILE|DIR")]
    ratecard_source: Option<String>,
    /// Seconds between rate-card pulls (with --ratecard-source).
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400)]
    sync_interval: u64,
    /// Serve HTTPS: the certificate chain, PEM (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key, PEM (with --tls-cert).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// `tollgate keys` subcommands.
#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Creates a key and prints it once (only its SHA-256 is stored).
    Create {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The workspace the key is bound to (created on first use).
        #[arg(long, value_name = "ID")]
        workspace: String,
        /// ingest (the SDK's key: track, customers, guard), read (queries, dashboard) or admin.
        #[arg(long, value_name = "SCOPE")]
        scope: String,
        /// A label.
        #[arg(long)]
        name: Option<String>,
    },
    /// Lists keys (id, workspace, scope, created, revoked); never a secret.
    List {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Revokes a key by id; a running server refuses it within a second.
    Revoke {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The key id (the 12 hex digits after `tgk_`).
        id: String,
    },
}

fn parse_durability(s: &str) -> Result<Durability, String> {
    match s {
        "sync" => Ok(Durability::Sync),
        "none" => Ok(Durability::None),
        _ => match s.strip_prefix("interval:").map(str::parse::<u64>) {
            Some(Ok(ms)) if (1..=60_000).contains(&ms) => {
                Ok(Durability::Interval { interval_ms: ms })
            }
            _ => Err(format!(
                "--durability {s:?}: expected sync, none or interval:<1..60000 ms>"
            )),
        },
    }
}

/// Runs `tollgate serve` until SIGTERM or ctrl-c.
pub fn serve(a: ServeArgs) -> ExitCode {
    let mut c = ServerConfig::new(a.data);
    c.listen = a.listen;
    c.durability = match parse_durability(&a.durability) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tollgate serve: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(n) = a.max_body_bytes {
        c.limits.max_body_bytes = n;
    }
    if let Some(n) = a.rate_limit {
        c.limits.rate_per_sec = n;
    }
    if let Some(n) = a.rate_burst {
        c.limits.burst = n;
    }
    if let Some(source) = a.ratecard_source {
        if a.sync_interval == 0 {
            eprintln!("tollgate serve: --sync-interval must be at least 1 second");
            return ExitCode::from(2);
        }
        c.ratecard_sync = Some(RatecardSync {
            source,
            interval: Duration::from_secs(a.sync_interval),
        });
    }
    if let (Some(cert), Some(key)) = (a.tls_cert, a.tls_key) {
        c.tls = Some(tollgate_server::TlsFiles { cert, key });
    }
    match tollgate_server::run(c) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a `tollgate keys` subcommand.
pub fn keys(cmd: KeysCommand) -> ExitCode {
    let r = match cmd {
        KeysCommand::Create {
            data,
            workspace,
            scope,
            name,
        } => {
            let Some(scope) = Scope::parse(&scope) else {
                eprintln!(
                    "tollgate keys create: --scope {scope:?}: expected ingest, read or admin"
                );
                return ExitCode::from(2);
            };
            KeyStore::create(&data, &workspace, scope, name.as_deref()).map(|k| {
                eprintln!(
                    "created key {} (workspace {}, scope {}); it is shown once, store it now:",
                    k.entry.id,
                    k.entry.workspace,
                    k.entry.scope.as_str()
                );
                println!("{}", k.secret);
            })
        }
        KeysCommand::List { data } => KeyStore::list(&data).map(|keys| {
            println!("id\tworkspace\tscope\tcreated\trevoked\tname");
            for k in keys {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    k.id,
                    k.workspace,
                    k.scope.as_str(),
                    k.created,
                    k.revoked.as_deref().unwrap_or("-"),
                    k.name.as_deref().unwrap_or("")
                );
            }
        }),
        KeysCommand::Revoke { data, id } => KeyStore::revoke(&data, &id).map(|fresh| {
            if fresh {
                eprintln!("revoked key {id}");
            } else {
                eprintln!("key {id} was revoked already");
            }
        }),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate keys: {e}");
            ExitCode::FAILURE
        }
    }
}
