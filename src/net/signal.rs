//! Ctrl-C and SIGTERM, the ways a user stops a long-running command.
//!
//! [`stop_signal`] is one wait; a command that waits in several places in turn uses a
//! [`StopFlag`], which stays raised, so a signal that arrives between two waits is not
//! missed.
//!
//! The handlers are installed when [`stop_signal`] is called, not when its future is first
//! polled: a command calls it before it says it is ready ("listening on", "overlay up"),
//! so a signal sent as soon as that line appears stops it cleanly instead of killing it.

use std::future::Future;

use tokio::sync::watch;

/// Resolves when the user asks us to stop (Ctrl-C or SIGTERM). Call it inside the runtime.
pub fn stop_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (term, interrupt) {
                (Ok(mut term), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Ctrl-C or SIGTERM as a flag that stays raised once the signal came.
#[derive(Clone, Debug)]
pub struct StopFlag(watch::Receiver<bool>);

impl StopFlag {
    /// Starts listening (a task that lives as long as the runtime).
    pub fn install() -> StopFlag {
        let (raise, flag) = watch::channel(false);
        // The handlers are in place from here on, before the task first runs.
        let signal = stop_signal();
        tokio::spawn(async move {
            signal.await;
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
