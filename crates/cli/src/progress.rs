//! A progress bar on stderr (matrices, bytes, ETA), drawn only when stderr is a terminal.

use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar; hidden when not wanted.
pub struct Bar {
    bar: ProgressBar,
    done: AtomicUsize,
    total: AtomicUsize,
}

impl Bar {
    /// A bar drawn on stderr if `visible`, else a hidden one.
    pub fn new(visible: bool) -> Self {
        let target = if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {msg} matrices · {bytes}/{total_bytes} · ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        Self { bar, done: AtomicUsize::new(0), total: AtomicUsize::new(0) }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl svdiag_analysis::Progress for Bar {
    fn start(&self, matrices: usize, bytes: u64) {
        self.total.store(matrices, Ordering::Relaxed);
        self.bar.set_length(bytes);
        self.bar.set_message(format!("0/{matrices}"));
    }
    fn advance(&self, bytes: u64) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar.inc(bytes);
        self.bar.set_message(format!("{done}/{}", self.total.load(Ordering::Relaxed)));
    }
}
