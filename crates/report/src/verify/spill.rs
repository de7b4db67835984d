//! Records put in buckets by trace id — files when they do not fit in memory at once — so
//! that a join holds one bucket of each side at a time, and reads each side once.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::ReportError;

fn io(path: &Path, source: std::io::Error) -> ReportError {
    ReportError::Io { path: path.to_owned(), source }
}

/// Buckets being written, each record length-prefixed (u32 LE): files, or (when everything
/// fits in one) memory.
pub struct Buckets {
    paths: Vec<PathBuf>,
    files: Vec<BufWriter<File>>,
    memory: Option<Vec<Vec<u8>>>,
}

/// The size of a bucket's chunks in memory (a chunk never grows, so nothing is copied).
const CHUNK: usize = 4 << 20;

/// A written bucket.
pub enum Bucket {
    /// On disk.
    File(PathBuf),
    /// In memory, in chunks of whole records.
    Memory(Vec<Vec<u8>>),
}

impl Bucket {
    /// Its bytes, in chunks of whole records (a file is removed once read).
    pub fn take(self) -> Result<Vec<Vec<u8>>, ReportError> {
        match self {
            Bucket::Memory(b) => Ok(b),
            Bucket::File(path) => {
                let b = std::fs::read(&path).map_err(|e| io(&path, e))?;
                let _ = std::fs::remove_file(&path);
                Ok(vec![b])
            }
        }
    }
}

impl Buckets {
    /// `n` buckets: one in memory when `n` is 1, else empty files `TAG-I.spill` in `dir`.
    pub fn create(dir: &Path, tag: &str, n: usize) -> Result<Self, ReportError> {
        let mut b = Buckets { paths: Vec::new(), files: Vec::new(), memory: None };
        if n <= 1 {
            b.memory = Some(Vec::new());
            return Ok(b);
        }
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        for i in 0..n {
            let p = dir.join(format!("{tag}-{i}.spill"));
            let f = File::create(&p).map_err(|e| io(&p, e))?;
            b.files.push(BufWriter::with_capacity(1 << 16, f));
            b.paths.push(p);
        }
        Ok(b)
    }

    /// Appends a record to the bucket of `trace`.
    pub fn put(&mut self, trace: u128, record: &[u8]) -> Result<(), ReportError> {
        let len = u32::try_from(record.len()).unwrap_or(u32::MAX).to_le_bytes();
        if let Some(chunks) = &mut self.memory {
            let need = 4 + record.len();
            if chunks.last().is_none_or(|c| c.capacity() - c.len() < need) {
                chunks.push(Vec::with_capacity(CHUNK.max(need)));
            }
            if let Some(m) = chunks.last_mut() {
                m.extend_from_slice(&len);
                m.extend_from_slice(record);
            }
            return Ok(());
        }
        let i = (trace as u64 % self.files.len() as u64) as usize;
        let f = &mut self.files[i];
        f.write_all(&len).and_then(|()| f.write_all(record)).map_err(|e| io(&self.paths[i], e))
    }

    /// Writes everything out; the buckets, in order.
    pub fn finish(self) -> Result<Vec<Bucket>, ReportError> {
        if let Some(m) = self.memory {
            return Ok(vec![Bucket::Memory(m)]);
        }
        for (mut f, p) in self.files.into_iter().zip(&self.paths) {
            f.flush().map_err(|e| io(p, e))?;
        }
        Ok(self.paths.into_iter().map(Bucket::File).collect())
    }
}

/// The records of a bucket's chunks.
pub fn all_records(chunks: &[Vec<u8>]) -> impl Iterator<Item = &[u8]> {
    chunks.iter().flat_map(|c| records(c))
}

/// The records of a chunk.
fn records(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = buf.get(at..at + 4)?;
        let n = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let r = buf.get(at + 4..at + 4 + n)?;
        at += 4 + n;
        Some(r)
    })
}

/// Writes fixed-width fields of a record.
#[derive(Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    /// A u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// An i64.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A u128.
    pub fn u128(&mut self, v: u128) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Map entries (key id, value digest), with their count.
    pub fn entries(&mut self, e: &[(u64, u64)]) -> &mut Self {
        self.u32(u32::try_from(e.len()).unwrap_or(u32::MAX));
        for (k, v) in e {
            self.u64(*k).u64(*v);
        }
        self
    }
}

/// Reads them back in the same order (a short record reads as zeros).
pub struct Dec<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Dec<'a> {
    /// A reader of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Self { b, at: 0 }
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(s) = self.b.get(self.at..self.at + N) {
            out.copy_from_slice(s);
        }
        self.at += N;
        out
    }

    /// A u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }

    /// A u64.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }

    /// An i64.
    pub fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.bytes())
    }

    /// A u128.
    pub fn u128(&mut self) -> u128 {
        u128::from_le_bytes(self.bytes())
    }

    /// Map entries.
    pub fn entries(&mut self) -> Vec<(u64, u64)> {
        let n = self.u32() as usize;
        (0..n.min(self.b.len() / 16 + 1)).map(|_| (self.u64(), self.u64())).collect()
    }
}
