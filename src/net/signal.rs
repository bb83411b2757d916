//! Ctrl-C and SIGTERM, the ways a user stops a long-running command.
//!
//! [`stop_signal`] is one wait; a command that waits in several places in turn uses a
//! [`StopFlag`], which stays raised, so a signal that arrives between two waits is not
//! missed.

use tokio::sync::watch;

/// Resolves when the user asks us to stop (Ctrl-C or SIGTERM).
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Ctrl-C or SIGTERM as a flag that stays raised once the signal came.
#[derive(Clone, Debug)]
pub struct StopFlag(watch::Receiver<bool>);

impl StopFlag {
    /// Starts listening (a task that lives as long as the runtime).
    pub fn install() -> StopFlag {
        let (raise, flag) = watch::channel(false);
        tokio::spawn(async move {
            stop_signal().await;
            let _ = raise.send(true);
        });
        StopFlag(flag)
    }

    /// Resolves once the signal came (at once if it already did). Cancel-safe.
    pub async fn wait(&self) {
        let mut flag = self.0.clone();
        // An error means the listener is gone with the runtime: nothing will come.
        if flag.wait_for(|raised| *raised).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    pub fn is_raised(&self) -> bool {
        *self.0.borrow()
    }
}
