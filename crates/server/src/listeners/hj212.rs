//! The HJ 212-2017 TCP listener for water-quality stations.
//!
//! Each connection is a tokio task reading into a
//! [`Framer`](citygrid_protocols::hj212::Framer). Every complete frame is
//! answered in order:
//! - a good packet goes to the [`StationIntake`]; when its `Flag` asks for
//!   it, the `CN=9014` data answer (echoing `QN`) is written only after the
//!   intake returned, that is once the readings are durable;
//! - a packet the intake refuses (unknown `MN`, wrong `PW`, not a data
//!   upload, bad data) gets the `CN=9011` request answer with its `QnRtn`,
//!   and nothing is stored; a refusal on our side (store overloaded or
//!   away) gets no answer, so the station sends again;
//! - a frame the framer refuses (CRC, length, truncated, over-long) gets
//!   the `CN=9011` answer when its `MN` could be read, and the connection
//!   stays open: the framer resynchronises at the next `##`.
//!
//! Connections are bounded ([`Hj212Options::max_connections`]: one more is
//! closed at once) and closed after [`Hj212Options::idle`] without a byte
//! or when an answer cannot be written in that time.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use citygrid_app::water::{StationIntake, refusal};
use citygrid_protocols::hj212::{Framer, Hj212Error, Limits, Packet, Rejected, encode, reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// How the listener behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hj212Options {
    /// Most connections open at once.
    pub max_connections: usize,
    /// A connection silent this long is closed.
    pub idle: Duration,
    /// The longest data segment accepted (at most HJ 212's 9999).
    pub max_data_len: usize,
}

impl Default for Hj212Options {
    fn default() -> Self {
        Hj212Options { max_connections: 4096, idle: Duration::from_secs(300), max_data_len: 9999 }
    }
}

/// Counter of frames by outcome (`stored`, `refused`, `rejected_frame`, `skipped`).
const FRAMES: &str = "citygrid_hj212_frames_total";

/// Accepts stations on `listener` until `shutdown` resolves; each
/// connection is served by its own task.
pub async fn serve<I: StationIntake>(
    listener: TcpListener,
    intake: Arc<I>,
    options: Hj212Options,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait, then go on.
                tracing::warn!(error = %e, "HJ 212: cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, max = options.max_connections, "HJ 212: too many connections; closing this one");
            continue;
        };
        let intake = Arc::clone(&intake);
        tokio::spawn(async move {
            connection(stream, peer, intake, options).await;
            drop(permit);
        });
    }
}

/// Serves one station connection until it closes, idles out or errs.
async fn connection<I: StationIntake>(mut stream: TcpStream, peer: SocketAddr, intake: Arc<I>, options: Hj212Options) {
    let _ = stream.set_nodelay(true);
    let mut framer = Framer::new(Limits { max_data_len: options.max_data_len });
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match tokio::time::timeout(options.idle, stream.read(&mut buf)).await {
            Err(_) => {
                tracing::debug!(%peer, "HJ 212: idle connection closed");
                return;
            }
            Ok(Ok(0)) => return,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "HJ 212: read failed");
                return;
            }
        };
        for frame in framer.feed(buf.get(..n).unwrap_or_default()) {
            let answer = match frame {
                Ok(packet) => answer_packet(&*intake, packet, peer).await,
                Err(rejected) => answer_rejected(&rejected, peer),
            };
            if let Some(answer) = answer {
                let bytes = encode(&answer);
                match tokio::time::timeout(options.idle, stream.write_all(&bytes)).await {
                    Ok(Ok(())) => {}
                    _ => {
                        tracing::debug!(%peer, "HJ 212: cannot write the answer; closing");
                        return;
                    }
                }
            }
        }
    }
}

/// The answer to a well-formed packet, after the intake is done with it.
async fn answer_packet<I: StationIntake>(intake: &I, packet: Packet, peer: SocketAddr) -> Option<Packet> {
    let (mn, cn) = (packet.mn.clone(), packet.cn.clone());
    let copy = packet.clone();
    match intake.ingest(packet, Some(peer.ip())).await {
        Ok(done) => {
            metrics::counter!(FRAMES, "outcome" => "stored").increment(1);
            tracing::debug!(%peer, station = %done.station, stored = done.stored, duplicates = done.duplicates, "HJ 212: readings stored");
            done.reply
        }
        Err(e) => {
            metrics::counter!(FRAMES, "outcome" => "refused").increment(1);
            tracing::warn!(%peer, %mn, %cn, error = %e, "HJ 212: packet refused; nothing stored");
            refusal(&copy, &e)
        }
    }
}

/// The answer to a frame the framer refused, when one can be addressed.
fn answer_rejected(rejected: &Rejected, peer: SocketAddr) -> Option<Packet> {
    if let Hj212Error::Garbage(n) = rejected.error {
        metrics::counter!(FRAMES, "outcome" => "skipped").increment(1);
        tracing::debug!(%peer, bytes = n, "HJ 212: skipped bytes outside any frame");
        return None;
    }
    metrics::counter!(FRAMES, "outcome" => "rejected_frame").increment(1);
    tracing::warn!(%peer, error = %rejected.error, "HJ 212: frame refused; nothing stored");
    rejected.header.as_ref().and_then(|h| reply::refusal(h, &rejected.error))
}
