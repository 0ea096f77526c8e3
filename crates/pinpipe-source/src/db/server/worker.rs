//! [`Worker`]: runs a server store's async sqlx work on a thread of its own, for blocking callers.
//!
//! The thread runs a current-thread tokio runtime that owns the store's connections; callers hand it
//! futures through a channel and wait for the result on a std channel. Waiting never enters a tokio
//! runtime, so a caller may be a plain thread, a `spawn_blocking` thread or even an async task (whose
//! worker thread it then blocks while it waits, as any blocking call does): none of them can meet
//! "Cannot start a runtime from within a runtime".

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::error::{Result, SourceError};

/// A unit of work for the worker's runtime.
type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A thread running a tokio runtime that runs the jobs it is given, concurrently, until dropped.
pub(crate) struct Worker {
    jobs: Option<mpsc::UnboundedSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread, named after `what` it serves.
    pub(crate) fn start(what: &str) -> Result<Worker> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SourceError::Worker(format!("cannot start its runtime: {e}")))?;
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let thread = std::thread::Builder::new()
            .name(format!("pinpipe-source {what}"))
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = queue.recv().await {
                        tokio::spawn(job);
                    }
                });
            })
            .map_err(|e| SourceError::Worker(format!("cannot start: {e}")))?;
        Ok(Worker {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Starts `job` on the worker without waiting for it.
    pub(crate) fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(Box::pin(job)).ok())
            .ok_or_else(stopped)
    }

    /// Runs `work` on the worker and waits for its output.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let (done, output) = std_mpsc::sync_channel(1);
        self.spawn(async move {
            // The caller waits for this; it is gone only if it panicked.
            let _ = done.send(work.await);
        })?;
        output.recv().map_err(|_| stopped())
    }
}

/// The error when the worker has stopped (a job panicked while the caller waited).
pub(crate) fn stopped() -> SourceError {
    SourceError::Worker("it stopped before the work was done".into())
}

impl Drop for Worker {
    /// Stops the runtime (jobs still running are cancelled) and waits for the thread to end.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_work_from_a_plain_thread() -> Result<()> {
        let worker = Worker::start("test")?;
        assert_eq!(worker.run(async { 6 * 7 })?, 42);
        Ok(())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn runs_work_from_inside_a_runtime() -> Result<()> {
        let worker = Worker::start("test")?;
        let slept = worker.run(async {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            "slept"
        })?;
        assert_eq!(slept, "slept");
        drop(worker);
        Ok(())
    }

    #[test]
    fn a_panicking_job_is_an_error() -> Result<()> {
        let worker = Worker::start("test")?;
        let result = worker.run(async {
            if std::hint::black_box(true) {
                panic!("job failed");
            }
        });
        assert!(matches!(result, Err(SourceError::Worker(_))), "{result:?}");
        assert_eq!(worker.run(async { 1 })?, 1);
        Ok(())
    }
}
