"""Stand-in for python-prctl (Debian's python3-prctl), which PyPI has only as a C source package.

picamera2/outputs/ffmpegoutput.py does `import prctl` at import time (picamera2.outputs imports
it) and calls prctl.set_pdeathsig() only when an FfmpegOutput starts ffmpeg, which the contract
tests never do."""


def set_pdeathsig(signal):
    raise NotImplementedError("prctl stub: FfmpegOutput is not under test")
