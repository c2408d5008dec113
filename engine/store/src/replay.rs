//! Streaming replay of the log entries after the recovered snapshot.

use std::path::PathBuf;

use crate::error::{Error, FrameProblem};
use crate::segment::{SegmentReader, Step};
use crate::Position;

/// One log entry lent by [`Replay::next_entry`]; the payload borrows the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub position: Position,
    pub payload: &'a [u8],
}

/// The log entries after the recovered snapshot, in position order, read lazily with large
/// buffered reads (memory stays at one read chunk, or one entry if larger).
///
/// Every frame's CRC and position is checked while streaming: damage to a segment before the
/// last one surfaces here as an `Err` (naming file and byte offset), after which the replay
/// yields nothing more. The caller must treat such an error as fatal. The last segment was
/// already checked (and a torn tail cut off) by [`Store::open`](crate::Store::open).
///
/// Finish the replay before calling [`Store::write_snapshot`](crate::Store::write_snapshot):
/// truncation may delete segments this replay has not opened yet.
#[derive(Debug)]
pub struct Replay {
    /// Segments (first position, path) from the one holding `start` to the last one.
    segments: Vec<(u64, PathBuf)>,
    next_segment: usize,
    reader: Option<SegmentReader>,
    /// The position the next frame must carry.
    expected: u64,
    /// Entries before this position are read (and checked) but not yielded.
    start: u64,
    /// The last position in the log; replay ends after it.
    last: u64,
    failed: bool,
}

impl Replay {
    pub(crate) fn new(segments: Vec<(u64, PathBuf)>, start: u64, last: u64) -> Self {
        let expected = segments.first().map_or(start, |(first, _)| *first);
        Self {
            segments,
            next_segment: 0,
            reader: None,
            expected,
            start,
            last,
            failed: false,
        }
    }

    /// Position of the first entry this replay yields (the one after the snapshot).
    pub fn start(&self) -> Position {
        Position(self.start)
    }

    /// Position of the last entry this replay yields (0 if the log is empty).
    pub fn last(&self) -> Position {
        Position(self.last)
    }

    /// The next entry, `Ok(None)` at the end of the log, `Err` on damage (then `Ok(None)`
    /// forever after).
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_>>, Error> {
        if self.failed {
            return Ok(None);
        }
        match self.advance() {
            Ok(Some((position, payload))) => {
                let reader = self.reader.as_ref().expect("advance keeps the reader");
                Ok(Some(Entry {
                    position: Position(position),
                    payload: reader.bytes(payload),
                }))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.failed = true;
                self.reader = None;
                Err(e)
            }
        }
    }

    fn advance(&mut self) -> Result<Option<(u64, std::ops::Range<usize>)>, Error> {
        loop {
            if self.expected > self.last {
                return Ok(None);
            }
            let Some(reader) = self.reader.as_mut() else {
                let Some((first, path)) = self.segments.get(self.next_segment) else {
                    return Ok(None);
                };
                self.reader = Some(SegmentReader::open(path, *first)?);
                self.next_segment += 1;
                continue;
            };
            match reader.step()? {
                Step::Frame {
                    offset,
                    position,
                    payload,
                    ..
                } => {
                    if position != self.expected {
                        return Err(Error::CorruptFrame {
                            path: reader.path().to_path_buf(),
                            offset,
                            expected_position: self.expected,
                            problem: FrameProblem::Position { found: position },
                        });
                    }
                    self.expected += 1;
                    if position >= self.start {
                        return Ok(Some((position, payload)));
                    }
                }
                Step::Bad { offset, problem } => {
                    return Err(Error::CorruptFrame {
                        path: reader.path().to_path_buf(),
                        offset,
                        expected_position: self.expected,
                        problem,
                    });
                }
                Step::End { offset } => {
                    let (next_first, next) = match self.segments.get(self.next_segment) {
                        Some((first, path)) => (*first, path.clone()),
                        // The last segment ended before `last`: it changed under us.
                        None => (self.last + 1, reader.path().to_path_buf()),
                    };
                    if next_first != self.expected {
                        return Err(Error::Gap {
                            path: reader.path().to_path_buf(),
                            offset,
                            expected_position: self.expected,
                            next,
                            next_first,
                        });
                    }
                    self.reader = None;
                }
            }
        }
    }
}

impl Iterator for Replay {
    type Item = Result<(Position, Vec<u8>), Error>;

    /// Owned entries; [`Replay::next_entry`] avoids the copy.
    fn next(&mut self) -> Option<Self::Item> {
        match self.next_entry() {
            Ok(Some(entry)) => Some(Ok((entry.position, entry.payload.to_vec()))),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
