//! The interrupts a run answers: SIGINT (Ctrl-C) and SIGTERM.

/// SIGINT (Ctrl-C) and SIGTERM (what `kill` and Kubernetes send), installed once.
pub(super) struct Interrupts {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    /// Held, never awaited: with a handler for SIGXFSZ a write past a file-size limit
    /// (`ulimit -f`) fails with EFBIG, counted as a drop like a full disk, instead of the
    /// signal's default action killing the run before its summary.
    #[cfg(unix)]
    _file_size: tokio::signal::unix::Signal,
}

impl Interrupts {
    #[cfg(unix)]
    pub(super) fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            _file_size: signal(SignalKind::from_raw(libc::SIGXFSZ))?,
        })
    }

    #[cfg(not(unix))]
    pub(super) fn install() -> std::io::Result<Self> {
        Ok(Self {})
    }

    /// The next interrupt (one received since the last call counts).
    pub(super) async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
