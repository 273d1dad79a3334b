//! The dashboard's only contact with the rest of the server: keys and workspaces.

use crate::keys::Scope;
use crate::state::AppState;
use crate::workspace::Workspace;
use std::sync::Arc;

/// What logging in with a key secret finds.
pub(super) enum Login {
    /// A live read or admin key.
    Ok { key_id: String, workspace: String },
    /// A live key without the read or admin scope (ingest only).
    WrongScope,
    /// No such key, or revoked.
    Unknown,
}

pub(super) fn login(state: &AppState, secret: &str) -> Login {
    let keys = state.keys();
    keys.reload_if_changed();
    match keys.verify(secret) {
        Some(k) if k.scope.allows(Scope::Read) => Login::Ok {
            key_id: k.id,
            workspace: k.workspace,
        },
        Some(_) => Login::WrongScope,
        None => Login::Unknown,
    }
}

/// The key behind a session is still live, still bound to `workspace` and may still read.
pub(super) fn key_valid(state: &AppState, key_id: &str, workspace: &str) -> bool {
    let keys = state.keys();
    keys.reload_if_changed();
    keys.live(key_id)
        .is_some_and(|k| k.workspace == workspace && k.scope.allows(Scope::Read))
}

/// The session's workspace (opened, or created empty, on first use).
pub(super) async fn workspace(state: &AppState, workspace: &str) -> Option<Arc<Workspace>> {
    state.workspaces().get(workspace).await.ok()
}

/// The server itself terminates TLS (`--tls-cert` / `--tls-key`).
pub(super) fn tls(state: &AppState) -> bool {
    state.config().tls.is_some()
}
