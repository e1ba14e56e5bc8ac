//! The smallest Matroska stream ffmpeg reads raw frames with timestamps from: an EBML header, a
//! segment of unknown size (a stream), one video track of uncompressed I420 frames, and one cluster
//! per frame. Frames that repeat the previous one are simply not written: ffmpeg gets a frame only
//! when the picture changed, each at its own time.
use std::io::{self, Write};

/// Timestamps are in microseconds.
const TIMESTAMP_SCALE_NS: u64 = 1000;

fn size(n: u64) -> [u8; 8] {
    // Eight-byte EBML size: marker 0x01 then seven bytes.
    let mut b = n.to_be_bytes();
    b[0] = 0x01;
    b
}

fn element(id: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(id.len() + 8 + body.len());
    v.extend_from_slice(id);
    v.extend_from_slice(&size(body.len() as u64));
    v.extend_from_slice(body);
    v
}

fn uint(id: &[u8], n: u64) -> Vec<u8> {
    let b = n.to_be_bytes();
    let skip = b.iter().take(7).take_while(|&&x| x == 0).count();
    element(id, &b[skip..])
}

/// Writes frames of `width`×`height` I420 to `out` as a Matroska stream.
pub struct Writer<W: Write> {
    out: W,
}

impl<W: Write> Writer<W> {
    /// Write the stream's header. `frame_ns`: the nominal frame duration.
    pub fn new(mut out: W, width: u32, height: u32, frame_ns: u64) -> io::Result<Writer<W>> {
        let ebml = [
            uint(&[0x42, 0x86], 1),              // EBMLVersion
            uint(&[0x42, 0xF7], 1),              // EBMLReadVersion
            uint(&[0x42, 0xF2], 4),              // EBMLMaxIDLength
            uint(&[0x42, 0xF3], 8),              // EBMLMaxSizeLength
            element(&[0x42, 0x82], b"matroska"), // DocType
            uint(&[0x42, 0x87], 4),              // DocTypeVersion
            uint(&[0x42, 0x85], 2),              // DocTypeReadVersion
        ]
        .concat();
        out.write_all(&element(&[0x1A, 0x45, 0xDF, 0xA3], &ebml))?;
        // Segment of unknown size: the stream ends when the pipe closes.
        out.write_all(&[
            0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ])?;
        let info = [
            uint(&[0x2A, 0xD7, 0xB1], TIMESTAMP_SCALE_NS),
            element(&[0x4D, 0x80], b"reel"), // MuxingApp
            element(&[0x57, 0x41], b"reel"), // WritingApp
        ]
        .concat();
        out.write_all(&element(&[0x15, 0x49, 0xA9, 0x66], &info))?;
        let video = [
            uint(&[0xB0], width.into()),           // PixelWidth
            uint(&[0xBA], height.into()),          // PixelHeight
            element(&[0x2E, 0xB5, 0x24], b"I420"), // ColourSpace (FourCC)
        ]
        .concat();
        let track = [
            uint(&[0xD7], 1),                    // TrackNumber
            uint(&[0x73, 0xC5], 1),              // TrackUID
            uint(&[0x83], 1),                    // TrackType: video
            uint(&[0x9C], 0),                    // FlagLacing
            uint(&[0x23, 0xE3, 0x83], frame_ns), // DefaultDuration
            element(&[0x86], b"V_UNCOMPRESSED"), // CodecID
            element(&[0xE0], &video),
        ]
        .concat();
        out.write_all(&element(
            &[0x16, 0x54, 0xAE, 0x6B],
            &element(&[0xAE], &track),
        ))?;
        Ok(Writer { out })
    }

    /// One frame shown from `t_us` microseconds on (until the next frame).
    pub fn frame(&mut self, t_us: u64, data: &[u8]) -> io::Result<()> {
        let stamp = uint(&[0xE7], t_us / (TIMESTAMP_SCALE_NS / 1000));
        // SimpleBlock: track 1, relative time 0, keyframe.
        let head = [0x81, 0x00, 0x00, 0x80];
        let block_len = (head.len() + data.len()) as u64;
        let cluster_len = stamp.len() as u64 + 1 + 8 + block_len;
        let mut h = Vec::with_capacity(32);
        h.extend_from_slice(&[0x1F, 0x43, 0xB6, 0x75]);
        h.extend_from_slice(&size(cluster_len));
        h.extend_from_slice(&stamp);
        h.push(0xA3);
        h.extend_from_slice(&size(block_len));
        h.extend_from_slice(&head);
        self.out.write_all(&h)?;
        self.out.write_all(data)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_are_eight_byte_vints_and_uints_are_minimal() {
        assert_eq!(super::size(5), [1, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(
            super::uint(&[0xD7], 1),
            vec![0xD7, 1, 0, 0, 0, 0, 0, 0, 1, 1]
        );
        assert_eq!(super::uint(&[0xD7], 0).len(), 1 + 8 + 1);
        assert_eq!(super::uint(&[0xB0], 1280)[9..], [5, 0]);
    }
}
