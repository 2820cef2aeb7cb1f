//! One connection's bounded outbound queue: sessions and the hub push serialized frames, the
//! connection's task drains them into its socket.
//!
//! Not a channel crate: every idle connection holds one of these for its whole life, and the
//! channels we tried keep memory while empty (measured with heaptrack: flume ~480 B per idle
//! connection — its shared state, the queue's last capacity, a parked receive hook and the
//! waiter list; tokio's mpsc ~1.5 KB, a 32-slot block allocated up front; by their design,
//! async-channel and crossbeam's queues also allocate 31-slot blocks).
//! This is one allocation that keeps nothing else once drained: a `VecDeque` behind a lock
//! that is only ever held for a push or a pop, and two wakers.
//!
//! Pushing never blocks: a full queue marks the connection slow and it is closed with
//! `CloseCode::SLOW`; the client then resumes from its last seq, so nothing is lost, only
//! re-fetched from the store.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use switchboard_protocol::{CloseCode, ServerMsg};

pub type ConnId = u64;

/// A serialized text frame; cloning it shares the bytes.
pub type Frame = axum::extract::ws::Utf8Bytes;

/// What a session queues for its connection's socket.
#[derive(Debug)]
pub enum Outgoing {
    Frame(Frame),
    Close(CloseCode),
}

struct Shared {
    queue: Mutex<Queue>,
    /// Outboxes alive; at zero the receiver drains what is left and ends.
    senders: AtomicUsize,
    /// Woken by a push or by the last outbox going away.
    ready: AtomicWaker,
    /// Raised when a push finds the queue full. Separate from `ready` so a connection that
    /// is holding its writes (coalescing) still hears it at once.
    slow: AtomicBool,
    slow_waker: AtomicWaker,
}

struct Queue {
    items: VecDeque<Outgoing>,
    capacity: usize,
    /// The receiver was dropped: pushes are refused.
    gone: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A push or pop cannot leave the queue half-changed, so a poisoned lock is usable.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn raise_slow(&self) {
        self.slow.store(true, Ordering::Release);
        self.slow_waker.wake();
    }
}

/// The sending half; clones share the queue.
pub struct Outbox {
    pub id: ConnId,
    shared: Arc<Shared>,
}

/// The receiving half: what the connection drains into its socket.
pub struct OutboxRx {
    shared: Arc<Shared>,
}

impl Outbox {
    /// A queue of at most `capacity` items.
    pub fn channel(id: ConnId, capacity: usize) -> (Outbox, OutboxRx) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                capacity,
                gone: false,
            }),
            senders: AtomicUsize::new(1),
            ready: AtomicWaker::new(),
            slow: AtomicBool::new(false),
            slow_waker: AtomicWaker::new(),
        });
        let rx = OutboxRx {
            shared: shared.clone(),
        };
        (Outbox { id, shared }, rx)
    }

    /// Queues a frame; returns false if the connection is gone or was just found too slow.
    pub fn push(&self, frame: Frame) -> bool {
        self.enqueue(Outgoing::Frame(frame))
    }

    pub fn send(&self, msg: &ServerMsg) -> bool {
        self.push(msg.to_json().into())
    }

    /// Queues a close frame behind everything already queued. A full queue closes the
    /// connection as slow instead.
    pub fn close(&self, code: CloseCode) {
        self.enqueue(Outgoing::Close(code));
    }

    /// Free places in the queue; `None` once the connection is gone. For a producer that can
    /// wait (a replay), so it never fills the queue and closes its own connection as slow.
    pub fn room(&self) -> Option<usize> {
        let queue = self.shared.lock();
        (!queue.gone).then(|| queue.capacity.saturating_sub(queue.items.len()))
    }

    fn enqueue(&self, item: Outgoing) -> bool {
        {
            let mut queue = self.shared.lock();
            if queue.gone {
                return false;
            }
            if queue.items.len() >= queue.capacity {
                drop(queue);
                self.shared.raise_slow();
                return false;
            }
            queue.items.push_back(item);
        }
        self.shared.ready.wake();
        true
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Outbox {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Outbox {
            id: self.id,
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.ready.wake();
        }
    }
}

impl OutboxRx {
    /// The next queued item; `None` once every [`Outbox`] is dropped and all is drained.
    pub async fn recv(&mut self) -> Option<Outgoing> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outgoing>> {
        if let Some(item) = self.pop() {
            return Poll::Ready(Some(item));
        }
        // Registered before looking again, so a push or a last drop in between wakes us.
        self.shared.ready.register(cx.waker());
        if let Some(item) = self.pop() {
            return Poll::Ready(Some(item));
        }
        if self.shared.senders.load(Ordering::Acquire) == 0 {
            // A push that raced the last drop is in the queue by now (both hold the lock).
            return Poll::Ready(self.pop());
        }
        Poll::Pending
    }

    /// Whether a push found the queue full; registers for the wakeup when one does.
    pub fn poll_slow(&self, cx: &mut Context<'_>) -> bool {
        if self.shared.slow.load(Ordering::Acquire) {
            return true;
        }
        self.shared.slow_waker.register(cx.waker());
        self.shared.slow.load(Ordering::Acquire)
    }

    fn pop(&self) -> Option<Outgoing> {
        let mut queue = self.shared.lock();
        let item = queue.items.pop_front();
        if queue.items.is_empty() && queue.items.capacity() > 0 {
            // An idle connection keeps no buffer; the next burst allocates one again.
            queue.items = VecDeque::new();
        }
        item
    }
}

impl Drop for OutboxRx {
    fn drop(&mut self) {
        let mut queue = self.shared.lock();
        queue.gone = true;
        queue.items = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn frame(s: &'static str) -> Frame {
        Frame::from_static(s)
    }

    fn text(item: Option<Outgoing>) -> String {
        match item {
            Some(Outgoing::Frame(f)) => f.as_str().to_owned(),
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn drains_in_order_then_ends_when_every_outbox_is_gone() {
        let (outbox, mut rx) = Outbox::channel(1, 8);
        let clone = outbox.clone();
        assert!(outbox.push(frame("a")));
        assert!(clone.push(frame("b")));
        drop(outbox);
        assert_eq!(text(rx.recv().await), "a");
        drop(clone);
        // Queued before the last drop: still delivered, then the end.
        assert_eq!(text(rx.recv().await), "b");
        assert!(rx.recv().await.is_none());
    }

    #[test]
    fn a_full_queue_refuses_and_raises_slow_without_dropping_what_it_holds() {
        let (outbox, mut rx) = Outbox::channel(1, 2);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(!rx.poll_slow(&mut cx));
        assert!(outbox.push(frame("a")));
        assert!(outbox.push(frame("b")));
        assert!(!outbox.push(frame("c")));
        assert!(rx.poll_slow(&mut cx));
        // A close behind a full queue is refused too; the connection closes as slow.
        outbox.close(CloseCode::RECONNECT_NOW);
        assert_eq!(
            text(match rx.poll_recv(&mut cx) {
                Poll::Ready(item) => item,
                Poll::Pending => panic!("queued frame not ready"),
            }),
            "a"
        );
    }

    #[test]
    fn pushes_after_the_receiver_is_gone_are_refused() {
        let (outbox, rx) = Outbox::channel(1, 8);
        drop(rx);
        assert!(!outbox.push(frame("a")));
    }

    #[tokio::test]
    async fn a_push_wakes_a_waiting_receiver() {
        let (outbox, mut rx) = Outbox::channel(1, 8);
        let waiter = tokio::spawn(async move { text(rx.recv().await) });
        tokio::task::yield_now().await;
        outbox.push(frame("late"));
        assert_eq!(waiter.await.unwrap(), "late");
    }

    #[test]
    fn a_drained_queue_keeps_no_buffer() {
        let (outbox, mut rx) = Outbox::channel(1, 8);
        let mut cx = Context::from_waker(Waker::noop());
        outbox.push(frame("a"));
        assert!(rx.shared.lock().items.capacity() > 0);
        assert!(rx.poll_recv(&mut cx).is_ready());
        assert_eq!(rx.shared.lock().items.capacity(), 0);
    }
}
