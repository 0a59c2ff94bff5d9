"""The AAC encoder RTSP clients hear: decoded by FFmpeg's own decoder, each frame's sound at its capture time."""

from __future__ import annotations

import av
import numpy as np
import pytest

from edge.media.aac import FRAME_SAMPLES, AacEncoder, AacFrame
from hw.clock import SYNC_PERIOD_US
from hw.microphone import CHUNK_SAMPLES, SAMPLE_RATE, PcmChunk
from hw.microphone.simulated import sync_beep

CHUNK_US = CHUNK_SAMPLES * 1_000_000 // SAMPLE_RATE
FRAME_US = FRAME_SAMPLES * 1_000_000 / SAMPLE_RATE
SAMPLE_US = 1_000_000 / SAMPLE_RATE


def chunks(start_us: int, count: int) -> list[PcmChunk]:
    """The simulated microphone's A/V sync mode from ``start_us`` on: silence and a beep at each whole second."""
    times = [start_us + n * CHUNK_US for n in range(count)]
    return [PcmChunk(sync_beep(t).round().astype("<i2").tobytes(), t) for t in times]


def encode(pcm: list[PcmChunk]) -> tuple[AacEncoder, list[AacFrame]]:
    encoder = AacEncoder()
    return encoder, [frame for chunk in pcm for frame in encoder.encode(chunk)]


def beep_onsets_us(encoder: AacEncoder, frames: list[AacFrame]) -> list[float]:
    """Decode as a player would, each decoded frame placed at its frame's capture time."""
    decoder = av.CodecContext.create("aac", "r")
    decoder.extradata = encoder.audio_specific_config
    onsets, quiet = [], 0
    for frame in frames:
        for decoded in decoder.decode(av.Packet(frame.data)):
            samples = decoded.to_ndarray().reshape(-1)
            assert len(samples) == FRAME_SAMPLES
            for i in np.flatnonzero(np.abs(samples) >= 0.05):
                if quiet + i >= SAMPLE_RATE // 4:
                    onsets.append(frame.timestamp_us + i * SAMPLE_US)
                quiet = -int(i) - 1
            quiet += len(samples)
    return onsets


def test_aac_lc_48_khz_mono():
    encoder = AacEncoder()
    codec = av.CodecContext.create("aac", "r")
    codec.extradata = encoder.audio_specific_config
    assert encoder.audio_specific_config[:2] == bytes.fromhex("1188")  # AAC-LC, 48 kHz, one channel
    decoded = [f for frame in encode(chunks(0, 50))[1] for f in codec.decode(av.Packet(frame.data))]
    assert codec.profile == "LC"
    assert {(f.sample_rate, f.layout.nb_channels) for f in decoded} == {(SAMPLE_RATE, 1)}


def test_each_frame_sounds_at_its_capture_time_priming_included():
    """A beep captured on a whole second decodes at that second: the 960/1024 sample counts and the
    encoder's 1024 priming samples are accounted for (either off would put it 20 ms or more away)."""
    start_us = 10 * SYNC_PERIOD_US + 730_000  # mid-second: beeps at 11, 12 and 13 s
    encoder, frames = encode(chunks(start_us, 150))  # 3 s
    onsets = beep_onsets_us(encoder, frames)
    assert onsets == pytest.approx([s * SYNC_PERIOD_US for s in (11, 12, 13)], abs=1000)
    # One frame per 1024 samples from the priming frame on, the first stamped 1024 samples before the first chunk.
    assert frames[0].timestamp_us == pytest.approx(start_us - FRAME_US, abs=1)
    steps = np.diff([frame.timestamp_us for frame in frames])
    assert steps.min() >= FRAME_US - 1 and steps.max() <= FRAME_US + 1
    # Out as they fill: the priming frame, then all but the last full frame in (the encoder's look-ahead).
    assert len(frames) == 150 * CHUNK_SAMPLES // FRAME_SAMPLES - 1


def test_after_lost_chunks_frames_follow_the_chunks_capture_times():
    """A microphone that lost audio (an overrun) goes on at a later capture time: so do the frames."""
    early, late = chunks(10 * SYNC_PERIOD_US + 500_000, 40), chunks(13 * SYNC_PERIOD_US + 500_000, 60)  # 0.8 s, 1.2 s
    encoder, frames = encode(early + late)
    assert beep_onsets_us(encoder, frames) == pytest.approx([11 * SYNC_PERIOD_US, 14 * SYNC_PERIOD_US], abs=1000)
