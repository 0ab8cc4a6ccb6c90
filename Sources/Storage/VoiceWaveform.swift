/// Turns a stream of signed 16-bit little-endian mono samples into a voice message's
/// waveform: `levels` peak levels 0…255 (the loudest sample of each equal slice of the
/// recording relative to full scale, linear; the client may normalise for display).
///
/// The samples are never kept: each block of ``samplesPerBlock`` samples is reduced to its
/// peak as it arrives, so memory grows with the duration (about 2 bytes per 5 ms at 8 kHz)
/// and is bounded by ``maximumBlocks``; samples past it are ignored.
struct VoiceWaveform {
    static let samplesPerBlock = 40
    let maximumBlocks: Int
    private(set) var blockPeaks: [UInt16] = []
    /// Samples taken in (those past the limit are not counted).
    private(set) var sampleCount = 0
    private var currentPeak: UInt16 = 0
    private var currentCount = 0
    /// A low byte waiting for its high byte (a chunk may end between the two).
    private var pendingByte: UInt8?

    init(maximumSamples: Int) {
        maximumBlocks = max(1, maximumSamples / Self.samplesPerBlock + 1)
    }

    /// Whether more samples are still wanted.
    var isFull: Bool { blockPeaks.count >= maximumBlocks }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            if let low = pendingByte {
                pendingByte = nil
                add(Int16(bitPattern: UInt16(byte) << 8 | UInt16(low)))
            } else {
                pendingByte = byte
            }
        }
    }

    private mutating func add(_ sample: Int16) {
        guard !isFull else { return }
        sampleCount += 1
        currentPeak = max(currentPeak, sample.magnitude)
        currentCount += 1
        if currentCount == Self.samplesPerBlock { closeBlock() }
    }

    private mutating func closeBlock() {
        blockPeaks.append(currentPeak)
        currentPeak = 0
        currentCount = 0
    }

    /// The waveform: `levels` values (all zero for a silent or empty recording). A recording
    /// shorter than `levels` blocks repeats blocks.
    mutating func levels(_ count: Int) -> [UInt8] {
        if currentCount > 0 { closeBlock() }
        guard count > 0 else { return [] }
        guard !blockPeaks.isEmpty else { return Array(repeating: 0, count: count) }
        let blocks = blockPeaks.count
        return (0..<count).map { index in
            let start = index * blocks / count
            let end = max(start + 1, (index + 1) * blocks / count)
            let peak = blockPeaks[start..<min(end, blocks)].max() ?? 0
            return UInt8(min(255, (UInt32(peak) * 255 + 16384) / 32768))
        }
    }
}
