//! Ctrl-C and SIGTERM, the ways a user stops a long-running command.
//!
//! The handlers are installed when [`stop_signal`] is called, not when its future is first
//! polled: a command calls it before it says it is ready ("listening on", "overlay up"),
//! so a signal sent as soon as that line appears stops it cleanly instead of killing it.

use std::future::Future;

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
