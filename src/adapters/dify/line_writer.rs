//! The connection's single writer: every line queued through a [`LineSender`] is written whole,
//! never interleaved with another, and the heartbeat that keeps the daemon from timing us out.

use super::protocol::OutboundEvent;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// Lines queued for the writer before senders wait (back-pressure on a slow daemon).
const WRITE_QUEUE: usize = 1024;

/// The writer is gone (the connection closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection to the daemon is closed")]
pub struct Closed;

/// A handle to the connection's single writer: every line sent is written whole, never interleaved.
#[derive(Debug, Clone)]
pub struct LineSender {
    tx: mpsc::Sender<Vec<u8>>,
}

impl LineSender {
    /// Queues one complete line (its terminator included).
    pub async fn send_line(&self, line: Vec<u8>) -> Result<(), Closed> {
        self.tx.send(line).await.map_err(|_| Closed)
    }

    /// Queues one event.
    pub async fn send_event(&self, event: &OutboundEvent) -> Result<(), Closed> {
        self.send_line(event.to_line()).await
    }
}

/// Starts the writer task over `sink`. It ends, after writing everything queued, when every
/// [`LineSender`] is dropped, or on the first write error.
pub fn spawn_writer<W>(mut sink: W) -> (LineSender, JoinHandle<io::Result<()>>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let task = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            let write = async {
                sink.write_all(&line).await?;
                // write what else is already queued before flushing once
                while let Ok(more) = rx.try_recv() {
                    sink.write_all(&more).await?;
                }
                sink.flush().await
            };
            write.instrument(tracing::trace_span!("dify.write")).await?;
        }
        sink.flush().await?;
        sink.shutdown().await.or_else(|e| if e.kind() == io::ErrorKind::NotConnected { Ok(()) } else { Err(e) })
    });
    (LineSender { tx }, task)
}

/// How a writer ended: `Ok` once everything queued was written and flushed, or the first write
/// error.
pub type WriterEnd = tokio::sync::oneshot::Receiver<io::Result<()>>;

/// Starts the writer on a thread of its own over a blocking `sink` (the process's stdout).
///
/// Tokio's stdout hands every write and flush to its blocking pool, a thread switch each; a
/// dedicated thread that blocks on the queue writes a reply as soon as it is queued (the async
/// add's ACK is one such line). The thread is not part of the runtime, so a daemon that stops
/// reading cannot hold the runtime's shutdown; it ends, after writing everything queued, when every
/// [`LineSender`] is dropped, or on the first write error, and reports how through the returned
/// [`WriterEnd`].
pub fn spawn_thread_writer<W>(mut sink: W) -> io::Result<(LineSender, WriterEnd)>
where
    W: io::Write + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let (done, end) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name("dify-writer".into()).spawn(move || {
        let mut write_all = || -> io::Result<()> {
            while let Some(line) = rx.blocking_recv() {
                let _span = tracing::trace_span!("dify.write").entered();
                sink.write_all(&line)?;
                // write what else is already queued before flushing once
                while let Ok(more) = rx.try_recv() {
                    sink.write_all(&more)?;
                }
                sink.flush()?;
            }
            sink.flush()
        };
        let ended = write_all();
        // the queue closes before the end is reported: whoever learns of the end finds every
        // later line refused, never queued for a writer that is gone
        drop(rx);
        let _ = done.send(ended);
    })?;
    Ok((LineSender { tx }, end))
}

/// Sends a heartbeat now and then every `interval` until aborted or the writer closes.
pub fn spawn_heartbeat(out: LineSender, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if out.send_event(&OutboundEvent::Heartbeat).await.is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A blocking sink whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().map_err(|_| io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A sink that refuses every write.
    struct Broken;

    impl io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "the daemon went away"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_thread_writer_writes_whole_lines_in_order_and_reports_the_end() {
        let sink = Shared::default();
        let (out, end) = spawn_thread_writer(sink.clone()).unwrap();
        for i in 0..50 {
            out.send_line(format!("{i}\n").into_bytes()).await.unwrap();
        }
        drop(out);
        end.await.unwrap().unwrap();
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let expected: String = (0..50).map(|i| format!("{i}\n")).collect();
        assert_eq!(written, expected, "one sender's lines arrive whole and in order");
    }

    #[tokio::test]
    async fn the_thread_writer_reports_a_write_error_and_closes_its_senders() {
        let (out, end) = spawn_thread_writer(Broken).unwrap();
        out.send_line(b"lost\n".to_vec()).await.unwrap();
        let error = end.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(out.send_line(b"after\n".to_vec()).await, Err(Closed), "a closed writer refuses lines");
    }

    #[tokio::test]
    async fn writer_writes_whole_lines_and_finishes_when_senders_drop() {
        let (client, mut server) = tokio::io::duplex(64);
        let (out, task) = spawn_writer(client);
        let mut senders = Vec::new();
        for i in 0..20 {
            let out = out.clone();
            senders.push(tokio::spawn(async move {
                let line = format!("{}\n\n", i.to_string().repeat(500)).into_bytes();
                out.send_line(line).await.unwrap();
            }));
        }
        drop(out);
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut server, &mut all).await.unwrap();
            all
        });
        for s in senders {
            s.await.unwrap();
        }
        task.await.unwrap().unwrap();
        let all = String::from_utf8(reader.await.unwrap()).unwrap();
        let mut lines: Vec<String> = all.split("\n\n").filter(|l| !l.is_empty()).map(str::to_owned).collect();
        let mut expected: Vec<String> = (0..20).map(|i| i.to_string().repeat(500)).collect();
        lines.sort();
        expected.sort();
        assert_eq!(lines, expected, "every line arrives whole");
    }
}
