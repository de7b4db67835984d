//! The write-ahead log: OTLP requests as they were accepted, framed (length, CRC-32 of the
//! record, signal, and when it was received) in numbered segment files, synced before they
//! are acknowledged. A torn
//! tail (a crash mid-write) is found by its frame and cut off when the segment is read.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;
use crate::tables::Table;

/// Bytes before a record's payload: its length (u32 LE), CRC-32 of the signal byte, the
/// receive time and the payload (u32 LE), the signal (u8), then — when the signal byte has
/// [`RECEIVED`] set — the receive time (u64 LE, ns since the epoch).
const HEADER: usize = 9;
/// The bit of the signal byte saying a receive time follows.
const RECEIVED: u8 = 0x80;

/// The largest record a segment takes (a request larger than this is refused upstream).
pub const MAX_RECORD: usize = 64 << 20;

fn signal_byte(t: Table) -> u8 {
    match t {
        Table::Traces => 1,
        Table::Logs => 2,
        Table::Metrics => 3,
    }
}

fn table_of(b: u8) -> Option<Table> {
    match b & !RECEIVED {
        1 => Some(Table::Traces),
        2 => Some(Table::Logs),
        3 => Some(Table::Metrics),
        _ => None,
    }
}

fn crc(signal: u8, received: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[signal]);
    h.update(received);
    h.update(payload);
    h.finalize()
}

/// The path of segment `seq` in `dir`.
pub fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:012}.wal"))
}

/// The segments in `dir`, by number.
pub fn segments(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut v = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(v),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    for e in entries {
        let e = e.map_err(|e| StoreError::io(dir, e))?;
        let name = e.file_name();
        if let Some(seq) = name.to_str().and_then(|n| n.strip_suffix(".wal")).and_then(|n| n.parse().ok()) {
            v.push(seq);
        }
    }
    v.sort_unstable();
    Ok(v)
}

/// A segment being appended to.
#[derive(Debug)]
pub struct Segment {
    path: PathBuf,
    out: BufWriter<File>,
    /// Its number.
    pub seq: u64,
    /// Bytes written (framed).
    pub bytes: u64,
    /// Records written.
    pub records: u64,
    /// Bytes a rollback keeps: those synced (for the receiver) or written out (for a sink
    /// whose deliveries count once written, like a file's).
    kept: u64,
}

impl Segment {
    /// Creates segment `seq` in `dir` (which must not hold it yet).
    pub fn create(dir: &Path, seq: u64) -> Result<Self, StoreError> {
        let path = segment_path(dir, seq);
        let file = OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| StoreError::io(&path, e))?;
        // The new name must survive a crash too.
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(dir, e))?;
        Ok(Self { path, out: BufWriter::with_capacity(1 << 20, file), seq, bytes: 0, records: 0, kept: 0 })
    }

    /// Appends a request, with when it was received if it was (buffered: durable after
    /// [`Segment::sync`]).
    pub fn append(&mut self, table: Table, received: Option<u64>, payload: &[u8]) -> Result<(), StoreError> {
        let time = received.map(u64::to_le_bytes);
        let time: &[u8] = time.as_ref().map_or(&[], |t| t.as_slice());
        let s = signal_byte(table) | if received.is_some() { RECEIVED } else { 0 };
        let len = u32::try_from(payload.len())
            .map_err(|_| StoreError::io(&self.path, std::io::ErrorKind::InvalidInput.into()))?;
        let mut head = [0u8; HEADER];
        head[..4].copy_from_slice(&len.to_le_bytes());
        head[4..8].copy_from_slice(&crc(s, time, payload).to_le_bytes());
        head[8] = s;
        self.out
            .write_all(&head)
            .and_then(|()| self.out.write_all(time))
            .and_then(|()| self.out.write_all(payload))
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.bytes += (HEADER + time.len() + payload.len()) as u64;
        self.records += 1;
        Ok(())
    }

    /// Writes out what was appended and syncs it to disk: after this, it survives a crash.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.out.flush().map_err(|e| StoreError::io(&self.path, e))?;
        self.out.get_ref().sync_data().map_err(|e| StoreError::io(&self.path, e))?;
        self.kept = self.bytes;
        Ok(())
    }

    /// Writes out what was appended (to the operating system, not synced): a rollback keeps
    /// it from now on.
    pub fn write_out(&mut self) -> Result<(), StoreError> {
        self.out.flush().map_err(|e| StoreError::io(&self.path, e))?;
        self.kept = self.bytes;
        Ok(())
    }

    /// Gives up what was appended since the last sync or [`Segment::write_out`] (a write or
    /// sync failed, so it was never acknowledged): the segment is cut back to that, and closed.
    pub fn rollback(self) -> Result<u64, StoreError> {
        // Discard the buffer without writing it.
        let (file, _unwritten) = self.out.into_parts();
        file.set_len(self.kept).and_then(|()| file.sync_all()).map_err(|e| StoreError::io(&self.path, e))?;
        Ok(self.seq)
    }

    /// Syncs and closes it.
    pub fn close(mut self) -> Result<u64, StoreError> {
        self.sync()?;
        Ok(self.seq)
    }
}

/// A segment's records, read back: each request with its signal, in order. A torn or
/// corrupt tail ends the segment; `valid` says how many bytes were whole.
#[derive(Debug, Default)]
pub struct Records {
    /// The requests, with their signal and when they were received (if they were).
    pub records: Vec<(Table, Option<u64>, bytes::Bytes)>,
    /// Bytes of whole records.
    pub valid: u64,
    /// Bytes after them that were cut off (a write a crash interrupted).
    pub torn: u64,
}

/// Reads segment `seq` of `dir`.
pub fn read(dir: &Path, seq: u64) -> Result<Records, StoreError> {
    let path = segment_path(dir, seq);
    let mut buf = Vec::new();
    File::open(&path).and_then(|mut f| f.read_to_end(&mut buf)).map_err(|e| StoreError::io(&path, e))?;
    // The records are slices of the segment's bytes, not copies.
    let data = bytes::Bytes::from(buf);
    let mut out = Records::default();
    let mut at = 0usize;
    while data.len() - at >= HEADER {
        let h = &data[at..at + HEADER];
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let sum = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let Some(table) = table_of(h[8]) else { break };
        let extra = if h[8] & RECEIVED != 0 { 8 } else { 0 };
        if len > MAX_RECORD || data.len() - at - HEADER < len + extra {
            break;
        }
        let (time, start) = (&data[at + HEADER..at + HEADER + extra], at + HEADER + extra);
        if crc(h[8], time, &data[start..start + len]) != sum {
            break;
        }
        let received = (extra == 8).then(|| u64::from_le_bytes(time.try_into().unwrap_or_default()));
        out.records.push((table, received, data.slice(start..start + len)));
        at = start + len;
    }
    out.valid = at as u64;
    out.torn = (data.len() - at) as u64;
    Ok(out)
}

/// Cuts a segment back to its whole records (after a crash), so that what is converted
/// from it and what stays in it agree.
pub fn truncate(dir: &Path, seq: u64, valid: u64) -> Result<(), StoreError> {
    let path = segment_path(dir, seq);
    let f = OpenOptions::new().write(true).open(&path).map_err(|e| StoreError::io(&path, e))?;
    f.set_len(valid).and_then(|()| f.sync_all()).map_err(|e| StoreError::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_tail_is_cut_off_and_whole_records_kept() {
        let dir = std::env::temp_dir().join(format!("tsim-wal-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        let mut s = Segment::create(&dir, 7).expect("create");
        s.append(Table::Traces, None, b"first").expect("append");
        s.append(Table::Logs, Some(7), b"").expect("append");
        s.append(Table::Metrics, None, &[9; 1000]).expect("append");
        let whole = s.bytes;
        s.close().expect("close");
        assert_eq!(segments(&dir).expect("list"), vec![7]);
        // A crash mid-write: half a record, then garbage.
        let p = segment_path(&dir, 7);
        let mut f = OpenOptions::new().append(true).open(&p).expect("open");
        f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 1, b'x']).expect("write");
        drop(f);
        let r = read(&dir, 7).expect("read");
        assert_eq!(r.records.len(), 3);
        assert_eq!(r.records[0], (Table::Traces, None, bytes::Bytes::from_static(b"first")));
        assert_eq!(r.records[1], (Table::Logs, Some(7), bytes::Bytes::new()));
        assert_eq!((r.valid, r.torn), (whole, 10));
        truncate(&dir, 7, r.valid).expect("truncate");
        assert_eq!(fs::metadata(&p).expect("meta").len(), whole);
        // A flipped bit in a record ends the segment there.
        let mut bytes = fs::read(&p).expect("read");
        bytes[HEADER + 2] ^= 1;
        fs::write(&p, &bytes).expect("write");
        assert_eq!(read(&dir, 7).expect("read").records.len(), 0);

        // A failed write rolls back to what was synced: nothing unacknowledged stays.
        let mut s = Segment::create(&dir, 8).expect("create");
        s.append(Table::Traces, None, b"acknowledged").expect("append");
        s.sync().expect("sync");
        s.append(Table::Traces, None, b"never acknowledged").expect("append");
        s.out.flush().expect("flush"); // it reached the file, but was never synced
        assert_eq!(s.rollback().expect("rollback"), 8);
        let r = read(&dir, 8).expect("read");
        assert_eq!(r.records, vec![(Table::Traces, None, bytes::Bytes::from_static(b"acknowledged"))]);
        assert_eq!(r.torn, 0);
        let _ = fs::remove_dir_all(&dir);
    }
}
