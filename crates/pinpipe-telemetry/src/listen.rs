//! Listeners: consumers that see every event as it is emitted, such as the CLI's progress bars.
//!
//! A listener is registered for as long as its [`Listener`] guard lives. Emitting costs one
//! atomic load while nobody listens.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::Event;

type Callback = Arc<dyn Fn(&Event) + Send + Sync>;

static LISTENERS: Mutex<Vec<(usize, Callback)>> = Mutex::new(Vec::new());
static COUNT: AtomicUsize = AtomicUsize::new(0);
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// Keeps a listener registered; dropping it unregisters the listener.
#[must_use = "the listener is removed when this guard is dropped"]
pub struct Listener {
    id: usize,
}

/// Calls `callback` with every event emitted in this process from now until the returned guard
/// is dropped. The callback runs on the emitting thread: it should be quick.
pub fn listen(callback: impl Fn(&Event) + Send + Sync + 'static) -> Listener {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut listeners = LISTENERS.lock().unwrap_or_else(PoisonError::into_inner);
    listeners.push((id, Arc::new(callback)));
    COUNT.store(listeners.len(), Ordering::Release);
    Listener { id }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut listeners = LISTENERS.lock().unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|(id, _)| *id != self.id);
        COUNT.store(listeners.len(), Ordering::Release);
    }
}

/// Hands `event` to every listener.
pub(crate) fn dispatch(event: Event) {
    if COUNT.load(Ordering::Acquire) == 0 {
        return;
    }
    let callbacks: Vec<Callback> = LISTENERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(_, callback)| Arc::clone(callback))
        .collect();
    for callback in callbacks {
        callback(&event);
    }
}
